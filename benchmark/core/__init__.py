"""Shared plumbing below every layer: project paths, atomic writes, plain-text output."""
