"""Layer 5, reporting: the typed board, its renderings and the figures."""
