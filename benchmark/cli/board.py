"""CLI commands of the leaderboard part: `tune`, `leaderboard` and `figures`."""

from __future__ import annotations

from pathlib import Path

import typer

from benchmark.cli.app import app
from benchmark.core.text import console as text_console

console = text_console(stderr=True)


def _say(message: str) -> None:
    console.print(message, highlight=False, markup=False)


def _split(values: list[str] | None) -> list[str] | None:
    """Repeated options, each possibly comma-separated: --models a,b --models c."""
    out = [v.strip() for value in values or [] for v in value.split(",") if v.strip()]
    return out or None


@app.command()
def tune(
    model: str = typer.Option(None, "--model", help="A registered model (or file.py:Class)."),
    target: str = typer.Option(None, "--target", help="task or delta."),
    every: bool = typer.Option(
        False,
        "--all",
        help="Every tunable (model, target) study with the equal budget, in two fidelity rungs, "
        "into leaderboard/studies/*.jsonl and leaderboard/params/ (resumes where it stopped).",
    ),
    jobs: int = typer.Option(1, "--jobs", help="With --all: studies at a time (one process each)."),
    trace: list[str] = typer.Option(
        None, "--trace", help="Tune on this trace (repeatable; default: every shipped trace)."
    ),
    trials: int = typer.Option(
        None, "--trials", help="The study's trial budget (default: the equal budget, 30)."
    ),
    timeout: float = typer.Option(
        None, "--timeout", help="The study's time budget in seconds of trials (default 900)."
    ),
    storage: str = typer.Option(
        None,
        "--storage",
        help="Study storage: sqlite:///f.db, postgresql://user:pass@host/db, journal:PATH or "
        "grpc://host:port (Optuna's gRPC storage proxy) (default: sqlite under .optuna/).",
    ),
    study: str = typer.Option(None, "--study", help="Study name (default: model-target@traces)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the TPE sampler and of the fits."),
    heartbeat: int = typer.Option(
        None,
        "--heartbeat",
        help="Seconds between a running trial's heartbeats (SQLite, PostgreSQL; default 30); a "
        "trial without one for 4 heartbeats (its process was killed) is failed, not charged, "
        "and retried.",
    ),
    no_write: bool = typer.Option(
        False, "--no-write", help="Run the study but do not write leaderboard/params."
    ),
) -> None:
    """Tune a model's hyperparameters on the valid rows with Optuna (resumes a stopped study)."""
    from benchmark.cli.harness import fail, input_errors
    from benchmark.running import tuning

    if every:
        _tune_every(model, target, trace, trials, timeout, storage, study, jobs)
        return
    if model is None or target is None:
        raise fail(f"--{'model' if model is None else 'target'}: give one, or use --all")
    try:
        report = tuning.tune(
            model,
            target,
            traces=_split(trace),
            trials=tuning.DEFAULT_TRIALS if trials is None else trials,
            timeout_s=tuning.DEFAULT_TIMEOUT_S if timeout is None else timeout,
            storage=storage,
            study_name=study,
            seed=seed,
            heartbeat_s=tuning.HEARTBEAT_S if heartbeat is None else heartbeat,
            write_params=not no_write,
            log=_say,
        )
    except KeyboardInterrupt as exc:
        raise fail(
            "interrupted: the study is kept and the interrupted trial is not charged; re-run "
            "the same command to resume",
            130,
        ) from exc
    except (tuning.TuningError, *input_errors()) as exc:
        raise fail(exc) from exc
    if report.params_file:
        _say(f"wrote {report.params_file}")
    _say("trials run by this process: " + ",".join(str(n) for n in report.ran_trials))


@app.command()
def leaderboard(
    quick: bool = typer.Option(
        False, "--quick", help="The small CI profile (excerpts, fast_params), into build/."
    ),
    tune_first: bool = typer.Option(
        False,
        "--tune",
        help="Run `make tune` for these models first (every study's equal budget, resumed "
        "from leaderboard/studies/).",
    ),
    models: list[str] = typer.Option(
        None,
        "--models",
        "--model",
        help="Models to evaluate (repeatable, a,b; default: every registered one).",
    ),
    traces: list[str] = typer.Option(
        None,
        "--traces",
        "--trace",
        help="Traces to evaluate on (repeatable, a,b; default: every shipped one).",
    ),
    seeds: int = typer.Option(
        None, "--seeds", help="Seeds of each stochastic model (others: 1); default 3, quick 1."
    ),
    holdout: Path = typer.Option(
        None, "--holdout", help="A private data folder (manifest, splits, traces) outside the repo."
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="Output folder (default: leaderboard/; build/leaderboard-quick/ for --quick; "
        "DIR/leaderboard/ for --holdout DIR).",
    ),
    jobs: int = typer.Option(1, "--jobs", help="Runs at a time (each in its own process)."),
    timeout: float = typer.Option(
        None, "--timeout", help="Time limit per run in seconds (default 1800; quick 150)."
    ),
    build_only: bool = typer.Option(
        False, "--build-only", help="No evaluation: rebuild the board files from stored results."
    ),
) -> None:
    """Evaluate every registered model and build the leaderboard from the result files."""
    import time

    from benchmark.cli.harness import err, fail, input_errors, names, progress_bar
    from benchmark.core.paths import data_dir, leaderboard_dir
    from benchmark.data.prepare import refresh_datasheet
    from benchmark.reporting.board import build
    from benchmark.running import runner
    from benchmark.running.profiles import FULL, make_profile

    if jobs < 1:
        raise fail(f"--jobs {jobs}: give at least 1")
    t0 = time.perf_counter()
    try:
        profile = make_profile(
            quick=quick, holdout=holdout, out=out, timeout_s=timeout, seeds=seeds
        )
        data_root = profile.data_root
        if not build_only:
            chosen = names(models) or runner.default_models()
            if tune_first:
                _tune_all(chosen, quick, jobs)
            planned = runner.plan(chosen, names(traces) or None, profile)
            data_root = planned.data_root
            for note in planned.notes:
                err.print(note)
            err.print(f"{len(planned.specs)} runs of {len(chosen)} models ({profile.name} profile)")
            with progress_bar() as on_event:
                runner.run(planned.specs, profile.out, jobs, on_event)
        shipped = leaderboard_dir() / "leaderboard.json" if holdout is not None else None
        board = build(profile.out, profile.out, data_root, log=err.print, shipped=shipped)
        shipped_data = data_root or data_dir()
        if (
            profile.name == FULL
            and profile.out.resolve() == leaderboard_dir().resolve()
            and refresh_datasheet(shipped_data, board.headroom)
        ):
            err.print(f"updated the headroom column of {shipped_data / 'README.md'}")
    except input_errors() as exc:
        raise fail(exc) from exc
    except KeyboardInterrupt as exc:
        raise fail("interrupted: the runs that finished are stored", 130) from exc
    failed, refused = len(board.failed), len(board.refused)
    err.print(
        f"leaderboard of {len(board.models)} models on "
        f"{len(board.traces)} trace(s) written to {profile.out} in "
        f"{time.perf_counter() - t0:.0f} s"
        + (f"; {failed} failed runs" if failed else "")
        + (f"; {refused} refused result files" if refused else "")
    )


def _tune_every(
    model: str | None,
    target: str | None,
    trace: list[str] | None,
    trials: int | None,
    timeout: float | None,
    storage: str | None,
    study: str | None,
    jobs: int,
) -> None:
    """`tune --all`: every study of `tune_all.tunable_studies` (README §6)."""
    import time

    from benchmark.cli.harness import fail, input_errors
    from benchmark.running import tune_all
    from benchmark.running.tuning import TuningError

    given = {
        "--model": model,
        "--target": target,
        "--trace": trace or None,
        "--timeout": timeout,
        "--storage": storage,
        "--study": study,
    }
    clash = [name for name, value in given.items() if value is not None]
    if clash:
        raise fail(
            f"{clash[0]}: not with --all (it runs every study on every trace, stored in "
            "leaderboard/studies/)"
        )
    if jobs < 1:
        raise fail(f"--jobs {jobs}: give at least 1")
    if trials is not None and trials < 1:
        raise fail(f"--trials {trials}: give at least 1")
    t0 = time.monotonic()
    try:
        outcomes = tune_all.tune_all(
            jobs=jobs, trials=tune_all.RUNG0_TRIALS if trials is None else trials, log=_say
        )
    except KeyboardInterrupt as exc:
        raise fail(
            "interrupted: every study is kept in leaderboard/studies/; re-run the same command "
            "to resume",
            130,
        ) from exc
    except (TuningError, *input_errors()) as exc:
        raise fail(exc) from exc
    counted = sum(o.counted for o in outcomes)
    _say(
        f"tune --all: {len(outcomes)} studies, {counted} counted rung-0 trials, "
        f"{time.monotonic() - t0:.0f} s wall ({jobs} at a time)"
    )


def _tune_all(models: list[str], quick: bool, jobs: int) -> None:
    """`leaderboard --tune`: `make tune` for the chosen models first (every shipped trace's
    valid rows; a private holdout is never tuned on)."""
    from benchmark.running import tune_all

    if quick:
        raise ValueError("--tune is not part of the --quick profile (it uses fast_params)")
    tune_all.tune_all(models, jobs=jobs, log=_say)


@app.command()
def figures(
    out: Path = typer.Option(None, "--out", help="Output folder (default: leaderboard/figures)."),
    results: Path = typer.Option(
        None, "--results", help="Folder holding results/ (default: leaderboard/)."
    ),
    data: Path = typer.Option(
        None, "--data", help="Data folder the results were made on (default: data/)."
    ),
    only: list[str] = typer.Option(None, "--only", help="Draw only these figures (repeatable)."),
) -> None:
    """Draw the paper figures (PNG + PDF) from the Board, the stored results and the data."""
    from benchmark.cli.harness import err, fail, input_errors, names
    from benchmark.reporting import figures as fig

    try:
        done = fig.make_figures(results, data, out, only=names(only) or None, log=err.print)
    except input_errors() as exc:
        raise fail(exc) from exc
    drawn = sum(isinstance(v, list) for v in done.values())
    err.print(f"{drawn} of {len(done)} figures drawn")
