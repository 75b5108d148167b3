"""Layer 2, scoring: metrics, bootstrap intervals, ceilings, submission files."""
