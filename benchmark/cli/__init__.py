"""Command-line entry point `kernel-oracle`: imports each part so its commands register."""

from __future__ import annotations

import importlib
import sys

import typer

from benchmark.cli.app import app

# One module per user-facing part; each adds its commands to `app` when imported.
PARTS = ("data", "harness", "submit", "board", "results")


def _load_parts() -> None:
    for part in PARTS:
        importlib.import_module(f"benchmark.cli.{part}")


def main() -> None:
    """Run the CLI; a usage error (a bad option value, an unknown command) is one line, exit 2."""
    _load_parts()
    try:
        code = app(standalone_mode=False)
    except typer.Exit as stop:
        code = stop.exit_code
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        code = 130
    except typer.TyperException as error:  # typer's (vendored) click usage errors
        ctx = getattr(error, "ctx", None)
        if ctx is not None and type(error).__name__ == "NoArgsIsHelpError":
            print(ctx.get_help())
            code = 0
        else:
            where = ctx.command_path if ctx is not None else "kernel-oracle"
            message = " ".join(str(error.format_message()).split())  # type: ignore[attr-defined]
            print(f"{where}: {message} (see {where} --help)", file=sys.stderr)
            code = int(getattr(error, "exit_code", 2) or 2)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
