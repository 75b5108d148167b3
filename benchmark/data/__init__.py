"""Layer 1, data: trace capture and parsing, prepare, manifest, split, datasheet, dataset."""
