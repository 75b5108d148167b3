"""Layer 4, running: the Predictor protocol, registry, conformance, harness, tuning."""
