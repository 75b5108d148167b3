"""CLI commands that read the stored results: `compare` (README §5)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from benchmark.cli.app import app
from benchmark.core.text import console, plain


@app.command("compare")
def compare_command(
    a: str = typer.Argument(..., help="Model A (as named in leaderboard/results/)."),
    b: str = typer.Argument(..., help="Model B."),
    trace: str = typer.Option(
        None, "--trace", help="Only this trace (default: all, and the mean)."
    ),
    results: Path = typer.Option(
        None, "--results", help="Folder holding results/ (default: leaderboard/)."
    ),
    data: Path = typer.Option(
        None, "--data", help="Data folder the results were made on (default: data/)."
    ),
) -> None:
    """Paired difference A - B of two models' stored results, per trace and on the mean, with
    95% block-bootstrap intervals from the stored predictions (nothing is re-trained)."""
    from benchmark.cli.harness import err, fail, input_errors
    from benchmark.reporting.compare import compare_models, lines_text

    try:
        lines = compare_models(a, b, trace, results, data, log=err.print)
    except input_errors() as exc:
        raise fail(exc) from exc
    table = Table(title=plain(f"A = {a}, B = {b}"))
    for column in ("trace", "metric", "A", "B", "A - B [95% CI]", "verdict", "evidence"):
        table.add_column(column, no_wrap=True)
    for row in lines_text(lines):
        table.add_row(*(plain(cell) for cell in row))
    console().print(table)
