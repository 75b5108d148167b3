"""CLI: `sample-submission` (write a valid prediction file) and `score` (validate and score one)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from benchmark.cli.app import app
from benchmark.core.text import console as text_console

console = text_console(soft_wrap=True)
err_console = text_console(stderr=True, soft_wrap=True)


def _load(trace: str):
    """The verified trace, or a one-line error and exit code 2 (missing data, unknown trace)."""
    from benchmark.data.dataset import load_trace
    from benchmark.data.manifest import DataIntegrityError

    try:
        return load_trace(trace)
    except (KeyError, FileNotFoundError, DataIntegrityError, ValueError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        err_console.print(f"error: {message}")
        raise typer.Exit(2) from error


@app.command(name="sample-submission")
def sample_submission(
    trace: str = typer.Option(..., "--trace", "-t", help="Trace name (see data/manifest.json)."),
    out: Path = typer.Option(..., "--out", "-o", help="CSV file to write."),
    proba: bool = typer.Option(
        False, "--proba", help="Add p:<task> columns (the train+valid task frequencies)."
    ),
) -> None:
    """Write a valid submission: one row per test position with the train+valid majority task
    and mean delta (`position,task,delta_us[,p:<task>...]`)."""
    from benchmark.scoring.submissions import write_sample

    runs = _load(trace)
    write_sample(runs, out, proba=proba)
    lo, hi = runs.split.test
    console.print(
        f"wrote {out}: {hi - lo:,} rows (test positions {lo}..{hi - 1} of {trace})", highlight=False
    )


@app.command(name="score")
def score(
    file: Path = typer.Argument(..., help="Submission CSV (position,task,delta_us[,p:<task>...])."),
    trace: str = typer.Option(..., "--trace", "-t", help="Trace the predictions are for."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    resamples: int = typer.Option(1000, help="Bootstrap resamples for the 95% intervals."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
) -> None:
    """Validate a submission file and print its metrics with 95% bootstrap intervals.

    An invalid file exits with code 2 and a message naming the line and the rule.
    """
    from benchmark.data.manifest import trace_sha256
    from benchmark.scoring.submissions import SubmissionError, read_submission, score_submission

    if resamples < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--resamples")
    runs = _load(trace)
    try:
        sub = read_submission(file, runs)
    except SubmissionError as error:
        err_console.print(f"invalid submission {file}: {error}")
        raise typer.Exit(2) from error
    result = score_submission(sub, runs, n_resamples=resamples, seed=seed)
    result = {"file": str(file), "data_sha256": trace_sha256(trace), **result}
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    table = Table(title=f"{file} on {trace} ({result['positions']:,} test positions)")
    for column in ("metric", "target", "value", "95% interval", "better"):
        table.add_column(column, justify="left" if column in ("metric", "target") else "right")
    for name, entry in result["metrics"].items():
        table.add_row(
            name,
            entry["target"],
            f"{entry['value']:.4f}",
            f"[{entry['low']:.4f}, {entry['high']:.4f}]",
            "higher" if entry["higher_is_better"] else "lower",
        )
    console.print(table)
    if not result["probabilities"]:
        console.print(
            "no p:<task> columns: the task distribution is one-hot on `task` "
            "(log_loss charges each miss -ln(1e-7); top3 equals acc)",
            highlight=False,
        )
