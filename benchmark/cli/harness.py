"""CLI: `evaluate` (score models on the fixed test split), `check` (conformance), `perf`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from benchmark.cli.app import app

# Piped output (CI logs, files) gets a wide console so that tables are not cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)


def _model_list(option: list[str] | None, extra: list[str] | None) -> list[str]:
    """`--model a b c` arrives as one option value plus positionals; accept both and commas."""
    names = [*(option or []), *(extra or [])]
    out = [part for name in names for part in name.split(",") if part]
    if not out:
        raise typer.BadParameter("name at least one model: --model markov", param_hint="--model")
    return out


@app.command()
def evaluate(
    extra: list[str] = typer.Argument(None, help="More model names (after --model)."),
    model: list[str] = typer.Option(
        None, "--model", "-m", help="Registered name or file.py:Class."
    ),
    trace: list[str] = typer.Option(None, "--trace", "-t", help="Trace name(s); default: all."),
    seeds: int = typer.Option(1, help="Seeds 0..N-1 per (model, trace)."),
    params: Path = typer.Option(None, help="JSON file of constructor parameters (all targets)."),
    out: Path = typer.Option(None, help="Folder for results/ (default: leaderboard/)."),
    timeout: float = typer.Option(1800.0, help="Time limit per run in seconds."),
    holdout: Path = typer.Option(None, help="Private data folder (same layout as data/)."),
) -> None:
    """Fit on train (+valid), predict every test position, score, and write result files."""
    from benchmark.core.paths import leaderboard_dir
    from benchmark.running.harness import evaluate as run_all
    from benchmark.running.harness import plan
    from benchmark.running.registry import UnknownModelError

    if seeds < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--seeds")
    out_root = out or (leaderboard_dir() / "holdout" if holdout else None)
    try:
        specs = plan(_model_list(model, extra), trace or None, seeds, params, holdout, timeout)
    except (UnknownModelError, KeyError, FileNotFoundError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    results = run_all(specs, out_root)
    table = Table(title="results")
    for column in (
        "model",
        "trace",
        "seed",
        "status",
        "acc",
        "acc_comm",
        "mse_z",
        "fit s",
        "p50 µs",
    ):
        table.add_column(column, no_wrap=True)
    failed = 0
    for result in results:
        metrics, costs = result.get("metrics") or {}, result.get("costs") or {}

        def cell(name: str, _m: dict = metrics) -> str:
            return f"{_m[name]['value']:.4f}" if name in _m else ""

        failed += result["status"] != "ok"
        table.add_row(
            result["model"],
            result["trace"],
            str(result["seed"]),
            result["status"],
            cell("acc"),
            cell("acc_comm"),
            cell("mse_z"),
            f"{costs['fit_s']:.1f}" if "fit_s" in costs else "",
            f"{costs['online_p50_us']:.1f}" if "online_p50_us" in costs else "",
        )
    console.print(table)
    if failed:
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
    models: list[str] = typer.Option(None, "--model", help="Models to time (default: all)."),
    fit_runs: int = typer.Option(20000, help="Runs each model is fitted on before timing."),
) -> None:
    """Harness benchmark: scoring throughput, bootstrap time, each model's online latency."""
    from benchmark.running.perfbench import run_perf

    run_perf(console, trace, steps, models or None, fit_runs)
