"""CLI: `evaluate` (score models on the fixed test split), `check` (conformance), `perf`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from benchmark.cli.app import app
from benchmark.core.text import console as plain_console
from benchmark.core.text import plain

# Piped output (CI logs, files) gets a wide console so that tables are not cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
out = plain_console()
err = plain_console(stderr=True)


def names(values: list[str] | None, extra: list[str] | None = None) -> list[str]:
    """Repeated options, each possibly comma-separated, plus positionals: `-m a,b -m c d`."""
    return [p.strip() for v in [*(values or []), *(extra or [])] for p in v.split(",") if p.strip()]


def fail(message: object, code: int = 2) -> typer.Exit:
    """Print one line `error: ...` (as plain text) and return the Exit to raise."""
    if isinstance(message, KeyError) and message.args:  # KeyError's str() adds quotes
        message = message.args[0]
    text = str(message).strip().splitlines() or ["unknown error"]
    err.print(f"error: {text[0]}", soft_wrap=True)  # one line, however long
    return typer.Exit(code)


@contextmanager
def progress_bar(quiet: bool = False) -> Iterator[Any]:
    """A Rich progress bar fed by the runner's `RunEvent`s; failed runs get one line each."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} runs", markup=False),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, disable=quiet) as bar:
        task = bar.add_task("evaluating", total=None)

        def on_event(event: Any) -> None:
            spec, what = (
                event.spec,
                f"{event.spec.label} on {event.spec.trace} seed {event.spec.seed}",
            )
            bar.update(task, total=event.total, completed=event.done, description=what)
            result = event.result or {}
            if event.kind == "done" and result.get("status") != "ok":
                error = result.get("error") or {}
                first = (str(error.get("message", "")).strip().splitlines() or [""])[0][:300]
                bar.console.print(
                    f"failed {spec.label} on {spec.trace} seed {spec.seed}: "
                    f"{error.get('type', 'Error')}: {first}"
                )

        yield on_event


# Errors of a command's input: one line, exit 2 (the data-integrity error included).
def input_errors() -> tuple[type[BaseException], ...]:
    from benchmark.data.manifest import DataIntegrityError

    return (KeyError, ValueError, FileNotFoundError, DataIntegrityError)


def _results_table(results: list[dict]) -> Table:
    table = Table(title="results")
    columns = ("model", "trace", "seed", "status", "acc", "acc_comm", "mse_z", "fit s", "p50 µs")
    for column in columns:
        table.add_column(column, no_wrap=True)
    for result in results:
        metrics, costs = result.get("metrics") or {}, result.get("costs") or {}

        def cell(name: str, _m: dict = metrics) -> str:
            return f"{_m[name]['value']:.4f}" if name in _m else ""

        table.add_row(
            plain(result["model"]),
            plain(result["trace"]),
            str(result["seed"]),
            result["status"],
            cell("acc"),
            cell("acc_comm"),
            cell("mse_z"),
            f"{costs['fit_s']:.1f}" if "fit_s" in costs else "",
            f"{costs['online_p50_us']:.1f}" if "online_p50_us" in costs else "",
        )
    return table


@app.command()
def evaluate(
    extra: list[str] = typer.Argument(None, help="More model names (after --model)."),
    model: list[str] = typer.Option(
        None,
        "--model",
        "--models",
        "-m",
        help="Registered name or file.py:Class (repeatable, a,b).",
    ),
    trace: list[str] = typer.Option(
        None, "--trace", "--traces", "-t", help="Trace name(s) (repeatable, a,b); default: all."
    ),
    seeds: int = typer.Option(
        None, help="Seeds 0..N-1 of each stochastic model (others: 1); default 3."
    ),
    params: Path = typer.Option(None, help="JSON file of constructor parameters (all targets)."),
    out_dir: Path = typer.Option(
        None,
        "--out",
        help="Folder for results/ (default: leaderboard/, DIR/leaderboard/ for a holdout).",
    ),
    timeout: float = typer.Option(None, help="Time limit per run in seconds (default 1800)."),
    holdout: Path = typer.Option(None, help="Private data folder (same layout as data/)."),
    jobs: int = typer.Option(1, "--jobs", help="Runs at a time (each in its own process)."),
) -> None:
    """Fit on train (+valid), predict every test position, score, and write result files."""
    from benchmark.running import runner
    from benchmark.running.profiles import make_profile

    models = names(model, extra)
    if not models:
        raise fail("name at least one model: --model markov")
    if jobs < 1:
        raise fail(f"--jobs {jobs}: give at least 1")
    try:
        profile = make_profile(holdout=holdout, out=out_dir, timeout_s=timeout, seeds=seeds)
        planned = runner.plan(models, names(trace) or None, profile, params)
        for note in planned.notes:
            err.print(note)
        with progress_bar() as on_event:
            results = runner.run(planned.specs, profile.out, jobs, on_event)
    except input_errors() as error:
        raise fail(error) from error
    except KeyboardInterrupt as error:
        raise fail("interrupted: the runs that finished are stored", 130) from error
    out.print(_results_table(results))
    if any(r["status"] != "ok" for r in results):
        raise typer.Exit(1)


@app.command()
def check(
    model: str = typer.Argument(..., help="file.py:Class, module:Class or a registered name."),
    trace: str = typer.Option(None, help="Trace to cut the excerpt from (default: the first)."),
    runs: int = typer.Option(3000, help="Length of the real trace excerpt."),
) -> None:
    """Run the conformance suite (shapes, determinism, pickling, causality, ...) on a model."""
    from benchmark.data.dataset import runs_from_frame
    from benchmark.data.manifest import read_run_table, trace_names
    from benchmark.running.conformance import check_predictor
    from benchmark.running.registry import UnknownModelError, get_model_class

    try:
        cls = get_model_class(model)
    except UnknownModelError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    name = trace or trace_names()[0]
    excerpt = runs_from_frame(read_run_table(name).iloc[:runs], f"{name}-excerpt")
    results = check_predictor(cls(**cls.fast_params), excerpt)
    table = Table(title=f"conformance of {cls.__name__} on {runs} runs of {name}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("message", overflow="fold")
    for result in results:
        mark = "[green]pass[/green]" if result.passed else "[red]FAIL[/red]"
        table.add_row(result.check.removeprefix("check_"), mark, result.message)
    console.print(table)
    if not all(r.passed for r in results):
        raise typer.Exit(1)


@app.command(name="perf")
def perf_command(
    trace: str = typer.Option(None, help="Trace for the online latency (default: the first)."),
    steps: int = typer.Option(2000, help="Online steps per model."),
    models: list[str] = typer.Option(
        None, "--model", "--models", help="Models to time (repeatable, a,b; default: all)."
    ),
    fit_runs: int = typer.Option(20000, help="Runs each model is fitted on before timing."),
) -> None:
    """Harness benchmark: scoring throughput, bootstrap time, each model's online latency."""
    from benchmark.running.perfbench import run_perf

    try:
        run_perf(out, trace, steps, names(models) or None, fit_runs)
    except input_errors() as error:
        raise fail(error) from error
