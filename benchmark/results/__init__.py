"""Layer 3, results: the on-disk results store (result, prediction and params files)."""
