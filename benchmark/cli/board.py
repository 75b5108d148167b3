"""CLI commands of the leaderboard part: `tune`, `leaderboard` and `figures`."""

from __future__ import annotations

import typer
from rich.console import Console

from benchmark.cli.app import app

console = Console(stderr=True)


def _say(message: str) -> None:
    console.print(message, highlight=False, markup=False)


@app.command()
def tune(
    model: str = typer.Option(..., "--model", help="A registered model (or file.py:Class)."),
    target: str = typer.Option(..., "--target", help="task or delta."),
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
        help="Study storage: sqlite:///f.db, postgresql://user:pass@host/db or journal:PATH "
        "(default: sqlite under .optuna/).",
    ),
    study: str = typer.Option(None, "--study", help="Study name (default: model-target@traces)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the TPE sampler and of the fits."),
    no_write: bool = typer.Option(
        False, "--no-write", help="Run the study but do not write leaderboard/params."
    ),
) -> None:
    """Tune a model's hyperparameters on the valid rows with Optuna (resumes a stopped study)."""
    from benchmark import tuning

    try:
        report = tuning.tune(
            model,
            target,
            traces=trace or None,
            trials=tuning.DEFAULT_TRIALS if trials is None else trials,
            timeout_s=tuning.DEFAULT_TIMEOUT_S if timeout is None else timeout,
            storage=storage,
            study_name=study,
            seed=seed,
            write_params=not no_write,
            log=_say,
        )
    except KeyboardInterrupt as exc:
        raise typer.Exit(130) from exc
    except (tuning.TuningError, KeyError, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if report.params_file:
        _say(f"wrote {report.params_file}")
    _say("trials run by this process: " + ",".join(str(n) for n in report.ran_trials))
