"""Command-line entry point `kernel-oracle`: imports each part so its commands register."""

from __future__ import annotations

import importlib

from benchmark.cli.app import app

# One module per user-facing part; each adds its commands to `app` when imported.
PARTS = ("data", "harness", "submit", "board", "results")


def _load_parts() -> None:
    for part in PARTS:
        importlib.import_module(f"benchmark.cli.{part}")


def main() -> None:
    """Run the CLI."""
    _load_parts()
    app()


__all__ = ["app", "main"]
