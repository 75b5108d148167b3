"""`make tune` / `kernel-oracle tune --all` (README §6): every tunable (model, target) study over
every shipped trace but the CFS track's (`tuning_traces`) with one equal budget, in two
fidelity rungs, kept as journal files in the repository.

* **Which studies.** Every registered model whose search space suggests something for a target
  it predicts; a model with an empty one (kernel_oracle_lstm keeps the paper's parameters,
  distilled_tree the ones its latency budget fixes, majority has none) runs on its defaults.
* **Rung 0, the search** (`RUNG0_TRIALS` counted trials, the same for every study): seeded TPE
  with median pruning on the tuned target's own validation curve, each trial fitted on the last
  `LOW_FIDELITY_TRAIN_ROWS` train rows of each trace (single-target fits) and scored on all of
  its valid rows. Trial 0 is the defaults.
* **Rung 1, the choice** (successive halving's last rung): the defaults and the `PROMOTED` best
  rung-0 trials are refitted on all train rows and scored on the same valid rows; the best of
  them is written to `leaderboard/params/<model>-<target>.json`. The defaults take part, so
  the chosen parameters are never worse than the defaults on the valid rows they were chosen on.
* **Resumable anywhere.** Both rungs of a study live in `leaderboard/studies/<model>-<target>
  .jsonl` (Optuna's `JournalFileBackend`, append-only, committed): a killed run, on this
  machine or another, re-run with the same command continues each study where it stopped;
  a finished study costs nothing to re-run (its params file is rewritten from the journal).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmark.core.paths import leaderboard_dir
from benchmark.results.store import params_path, relative, store_params
from benchmark.running.study_records import interrupted, valid_per_trace

# The tuning set: every trace but those of these schedulers' tracks. The CFS track's traces
# (README "CFS track") are scored on the parameters tuned on the others, a held-out scheduler:
# tuning on them too would change every study's objective (a journal refuses other data).
HELD_OUT_SCHEDULERS = ("cfs",)
RUNG0_TRIALS = 40
LOW_FIDELITY_TRAIN_ROWS = 10_000
PROMOTED = 2
# No study stops on time: the trial budget is the equal one. This only bounds a runaway study.
STUDY_TIMEOUT_S = 4 * 3600.0
# Slowest first, so that the two workers of `--jobs 2` finish together.
ORDER = ("gru", "lstm", "lightgbm", "decision_tree", "arima", "markov", "ewma")


def studies_dir(root: Path | None = None) -> Path:
    return (root or leaderboard_dir()) / "studies"


def journal_path(model: str, target: str, root: Path | None = None) -> Path:
    return studies_dir(root) / f"{model}-{target}.jsonl"


def tuning_traces(data_root: Path | None = None) -> list[str]:
    """The traces every study tunes on: all but those of `HELD_OUT_SCHEDULERS`."""
    from benchmark.data.manifest import trace_schedulers

    return [n for n, s in trace_schedulers(data_root).items() if s not in HELD_OUT_SCHEDULERS]


def tunable_studies(models: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(model, target) of every study `tune --all` runs, slowest model first."""
    from benchmark.running.registry import get_model_class, registered
    from benchmark.running.study_storage import TuningError
    from benchmark.running.tuning import search_space_is_empty

    names = list(models) if models else list(registered())
    other = [n for n in names if n not in registered()]
    if other:
        raise TuningError(
            f"--models {other[0]}: `tune --all` tunes registered models; tune this one with "
            f"`kernel-oracle tune --model {other[0]} --target task` (and delta)"
        )
    ranked = sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    out = []
    for name in ranked:
        cls = get_model_class(name)
        out += [
            (name, target)
            for target in sorted(cls.targets)
            if not search_space_is_empty(cls, target)
        ]
    return out


@dataclass
class StudyOutcome:
    """One study's result line for the caller."""

    model: str
    target: str
    counted: int
    seconds: float
    wall_s: float
    default_value: float | None
    best_value: float | None
    params_file: str | None


def run_study(
    model: str,
    target: str,
    *,
    trials: int = RUNG0_TRIALS,
    train_rows: int = LOW_FIDELITY_TRAIN_ROWS,
    promoted: int = PROMOTED,
    root: Path | None = None,
    data_root: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> StudyOutcome:
    """Run (or resume) both rungs of one study and write its params file."""
    from benchmark.running.tuning import OBJECTIVES, tune

    t0 = time.monotonic()
    path = journal_path(model, target, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = f"journal:{path}"
    common: dict[str, Any] = {
        "traces": tuning_traces(data_root),
        "storage": storage,
        "timeout_s": STUDY_TIMEOUT_S,
        "data_root": data_root,
        "leaderboard_root": root,
        "write_params": False,
        "quiet": True,
        "log": log,
    }
    search = tune(
        model,
        target,
        trials=trials,
        study_name=f"{model}-{target}@rung0",
        train_rows=train_rows,
        **common,
    )
    rung0 = _load(storage, search.study_name)
    picks = _promoted(rung0, promoted, OBJECTIVES[target][1])
    choice = tune(
        model,
        target,
        trials=_rung1_budget(storage, f"{model}-{target}@rung1", picks),
        study_name=f"{model}-{target}@rung1",
        enqueue=[t.params for t in picks],
        **common,
    )
    rung1 = _load(storage, choice.study_name)
    summary = params_summary(
        search.summary, choice.summary, rung0, rung1, picks, train_rows, promoted, relative(path)
    )
    out = None
    if summary["best_trial"] is not None:
        out = params_path(model, target, root)
        store_params(out, summary)
    return StudyOutcome(
        model,
        target,
        summary["used"]["counted_trials"],
        summary["used"]["trial_seconds"],
        time.monotonic() - t0,
        summary["default_value"],
        summary["best_value"],
        None if out is None else relative(out),
    )


def _load(storage: str, name: str) -> Any:
    import optuna

    from benchmark.running.study_storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(storage))


def _rung1_budget(storage: str, name: str, picks: Sequence[Any]) -> int:
    """Trials rung 1 runs in all: the defaults and every parameter set promoted to it, now or by
    an earlier run (a rung 0 extended later promotes new ones; they are run, the old kept)."""
    try:
        done = [
            t.params
            for t in _load(storage, name).get_trials(deepcopy=False)
            if t.params and not interrupted(t)
        ]
    except KeyError:
        done = []
    return 1 + len(done) + sum(t.params not in done for t in picks)


def _promoted(study: Any, k: int, direction: str) -> list[Any]:
    """The `k` best complete rung-0 trials that are not the defaults (ties: the earlier)."""
    from optuna.trial import TrialState

    done = [
        t
        for t in study.get_trials(deepcopy=False)
        if t.state == TrialState.COMPLETE and not t.user_attrs.get("defaults")
    ]
    sign = -1.0 if direction == "maximize" else 1.0
    return sorted(done, key=lambda t: (sign * t.value, t.number))[:k]


def params_summary(
    search: dict[str, Any],
    choice: dict[str, Any],
    rung0: Any,
    rung1: Any,
    picks: Sequence[Any],
    train_rows: int,
    promoted: int,
    journal: str,
) -> dict[str, Any]:
    """The params file: the rung-1 choice (best, defaults, their gain per trace), with the
    rung-0 search's budget, trials by state and time beside it."""
    from optuna.trial import TrialState

    sign = 1.0 if choice["objective"]["direction"] == "maximize" else -1.0
    full = [t for t in rung1.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    default = next((t for t in full if t.user_attrs.get("defaults")), None)
    best = rung1.best_trial if full else None
    gain_per_trace = None
    if best is not None and default is not None:
        b, d = valid_per_trace(best), valid_per_trace(default)
        gain_per_trace = {k: sign * (b[k] - d[k]) for k in sorted(b) if k in d}
    return {
        **choice,
        "objective": {
            **choice["objective"],
            "fit_rows": search["objective"]["fit_rows"] + "; the choice refitted on all train rows",
        },
        "gain_per_trace": gain_per_trace,
        "budget": {
            **search["budget"],
            "rule": "rung 0: this many counted trials (complete, pruned, failed) of seeded TPE "
            "with median pruning, on the last train rows; rung 1: the defaults and the "
            "promoted best rung-0 trials refitted on all train rows, the best of them chosen",
            "low_fidelity_train_rows": train_rows,
            "promoted": promoted,
            "equal_for_every_model": True,
        },
        "trials": search["trials"],
        "used": {
            "counted_trials": search["used"]["counted_trials"],
            "trial_seconds": round(
                search["used"]["trial_seconds"] + choice["used"]["trial_seconds"], 3
            ),
            "rung0_seconds": search["used"]["trial_seconds"],
            "rung1_seconds": choice["used"]["trial_seconds"],
        },
        "rungs": [
            {
                "rung": 0,
                "study": rung0.study_name,
                "train_rows": train_rows,
                "best_value": search["best_value"],
                "best_trial": search["best_trial"],
                "default_value": search["default_value"],
            },
            {
                "rung": 1,
                "study": rung1.study_name,
                "train_rows": "all",
                "promoted_from_rung0": [t.number for t in picks],
                "trials": [
                    {
                        "number": t.number,
                        "defaults": bool(t.user_attrs.get("defaults")),
                        "value": t.value,
                        "valid_per_trace": valid_per_trace(t),
                    }
                    for t in full
                ],
            },
        ],
        "study": {**choice["study"], "storage": f"journal:{journal}"},
    }


def tune_all(
    models: Sequence[str] | None = None,
    *,
    jobs: int = 1,
    trials: int = RUNG0_TRIALS,
    log: Callable[[str], None] | None = None,
) -> list[StudyOutcome]:
    """Every study of `tunable_studies`, `jobs` at a time (each in its own process)."""
    say = log or (lambda _text: None)
    plan = tunable_studies(models)
    say(f"{len(plan)} studies, {trials} rung-0 trials each, {jobs} at a time")
    outcomes = []
    if jobs <= 1:
        for model, target in plan:
            outcomes.append(_announce(run_study(model, target, trials=trials, log=say), say))
        return outcomes
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(run_study, model, target, trials=trials, log=print)
            for model, target in plan
        ]
        for future in as_completed(futures):
            outcomes.append(_announce(future.result(), say))
    return outcomes


def _announce(outcome: StudyOutcome, say: Callable[[str], None]) -> StudyOutcome:
    say(
        f"{outcome.model} ({outcome.target}): {outcome.counted} counted trials, "
        f"{outcome.seconds:.0f} s of trials, {outcome.wall_s:.0f} s wall; valid "
        f"default {_fmt(outcome.default_value)} -> chosen {_fmt(outcome.best_value)}"
        + (f"; wrote {outcome.params_file}" if outcome.params_file else "")
    )
    return outcome


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.4f}"
