"""CLI commands of this part (filled in by its owner)."""

from __future__ import annotations

from benchmark.cli.app import app  # noqa: F401
