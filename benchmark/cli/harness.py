"""CLI: `evaluate` (score models on the fixed test split), `check` (conformance), `perf`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from benchmark.cli.app import app
from benchmark.core.text import console as plain_console
from benchmark.core.text import plain

# Piped output (CI logs, files) gets a wide console so that tables are not cut to 80 columns.
console = plain_console()
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
    trace: str = typer.Option(
        None, "--trace", "-t", help="Trace to cut the excerpt from (default: the first)."
    ),
    runs: int = typer.Option(10_000, help="Length of the real trace excerpt (at least 2,000)."),
    fast: bool = typer.Option(
        True, "--fast/--defaults", help="Learned models with their fast_params, or defaults."
    ),
) -> None:
    """Run the conformance suite on a model: the parameter contract, shapes, determinism,
    pickling, and the leak searches (causality at many cuts, batch = single, online = batch).

    Exit status: 0 every rule holds; 1 a rule is broken (the table names it); 2 the model or an
    option cannot be used (one line saying why)."""
    import time

    from benchmark.data.dataset import load_splits
    from benchmark.running.conformance import CHECKS, check_predictor, default_excerpt, rule_text
    from benchmark.running.registry import build_model, get_model_class, model_tags

    t0 = time.perf_counter()
    try:
        cls = get_model_class(model)
        params = {} if not fast or "reference" in model_tags(model) else dict(cls.fast_params)
    except Exception as error:  # a model file may raise anything while it is imported
        raise fail(error) from error
    try:
        load_splits()  # altered data is refused here too, naming the file
        excerpt = default_excerpt(trace, runs)
    except (KeyError, ValueError, OSError, RuntimeError) as error:
        raise fail(error) from error
    try:
        instance = build_model(model, params)
    except Exception as error:
        raise fail(f"{model}: constructing it raised {type(error).__name__}: {error}") from error
    results = check_predictor(instance, excerpt)
    rules = {c.__name__: rule_text(c) for c in CHECKS}
    table = Table(title=plain(f"conformance of {model} on {len(excerpt):,} runs of {excerpt.name}"))
    for column in ("rule", "result", "seconds", "what it checks / what failed"):
        table.add_column(column, overflow="fold")
    for result in results:
        table.add_row(
            plain(result.rule),
            plain("pass" if result.passed else "FAIL"),
            plain(f"{result.seconds:.2f}"),
            plain(result.message if not result.passed else rules[result.check]),
        )
    out.print(table)
    failed = [r.rule for r in results if not r.passed]
    seconds = time.perf_counter() - t0
    if failed:
        broken = f"{len(failed)} of {len(results)} rules broken: {', '.join(failed)}"
        out.print(f"{broken} ({seconds:.1f} s)", soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"all {len(results)} rules hold ({seconds:.1f} s)")


@app.command(name="perf")
def perf_command(
    trace: str = typer.Option(None, help="Trace for the online latency (default: the first)."),
    steps: int = typer.Option(10_000, help="Online steps per model (timed after a warm-up)."),
    models: list[str] = typer.Option(
        None, "--model", "--models", help="Models to time (repeatable, a,b; default: all)."
    ),
    fit_runs: int = typer.Option(20000, help="Runs each model is fitted on before timing."),
    defaults: bool = typer.Option(
        False, "--defaults", help="Time the untuned defaults, not the params files' models."
    ),
    passes: int | None = typer.Option(
        None,
        min=1,
        help="Timed passes over the steps per model, p50 and p99 each at its best pass "
        "(default: perfbench.PASSES, 20).",
    ),
) -> None:
    """Harness benchmark: scoring throughput, bootstrap time, each model's online latency (on
    the parameters the leaderboard runs it on, or its defaults with --defaults)."""
    from benchmark.running.perfbench import run_perf

    try:
        run_perf(out, trace, steps, names(models) or None, fit_runs, defaults, passes)
    except input_errors() as error:
        raise fail(error) from error
