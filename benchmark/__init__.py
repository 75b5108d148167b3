"""kernel-oracle: a benchmark for predicting the Linux scheduler's next move."""

__version__ = "0.1.0"
