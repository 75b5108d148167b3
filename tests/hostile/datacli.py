"""Running the data commands as a hostile user would, and what every outcome must look like.

A refusal is exit code 2 and one line, `error: ...`, naming the file or option (README §3 and
the CLI rules); never a traceback. An accepted input must give the correct result, which the
cases compute themselves.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

import benchmark.cli.data  # noqa: F401  (registers the commands)
from benchmark.cli.app import app

WIDE = {"COLUMNS": "400"}


def run(*args: str | Path) -> Result:
    """`kernel-oracle ARGS` in-process, output wide enough never to wrap."""
    return CliRunner().invoke(app, [str(a) for a in args], env=WIDE)


def refused(result: Result, *needles: str) -> str:
    """Assert a one-line refusal with exit code 2 that contains every needle; returns it."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {result.exception!r}\n{result.output}"
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def accepted(result: Result) -> str:
    """Assert success (exit 0, no traceback); returns the output."""
    assert result.exit_code == 0 and result.exception is None, result.output
    return result.output
