"""Hyperparameter tuning with Optuna (README §6): seeded TPE, median pruning, valid rows only.

One study per (model, target). A trial builds the model from `cls.search_space(trial, target)`
(only the parameters that matter for that target), fits it with `targets=[target]` (where `fit`
accepts it; else every target) on each tuning trace's train rows, predicts that trace's valid
rows (history: train + valid, so the test rows are never read) and scores them: `acc`
(maximised) for the task target, `mse_z` (minimised) for delta. The objective is the unweighted
mean over the tuning traces, as the leaderboard's. Iterative models call
`report(step, score, target=t)` after each epoch / boosting round; the scores of the study's
target feed Optuna's `MedianPruner` (others are dropped), and only the tuner turns a step into
Optuna's: trace `i`'s steps are offset by `i * STEP_STRIDE`, so trials are compared at the same
trace and epoch.

* A model that trains on its valid rows (`trains_on_valid`) would be scored in-sample on them,
  so for tuning it gets the tail of train (as many rows as valid) as its `valid` and the real
  valid rows stay unseen until they are scored.
* Trial 0 of every study runs the defaults (constructor defaults, then the registry preset), so
  every params file states the gain of the tuned parameters over the defaults on the same valid
  rows. Trial numbers are unique in every storage, so the defaults run once however many workers
  start together; an interrupted or killed defaults trial is queued again.
* A trial whose model raises is recorded as FAILED (with the error as a user attribute) and the
  study goes on. A trial stopped by Ctrl-C or a killed process is recorded as FAILED without an
  error and not charged to the budget (see study_runner for how, per storage).
* A model with nothing to tune (an empty search space), an unknown model, target or trace, and a
  storage that cannot be opened are one-line `TuningError`s naming the option.
* Budget (the same for every model unless asked otherwise): `DEFAULT_TRIALS` counted trials
  (complete, pruned or failed) and `DEFAULT_TIMEOUT_S` seconds of trial time summed over the
  study, whichever comes first. Re-running the same command resumes the study until the budget
  is spent; several processes (or machines, with one PostgreSQL URL) share one study.
* Storage: `sqlite:///.optuna/studies.db` by default (outside version control), any SQLAlchemy
  URL (`postgresql://user:pass@host/db`), or `journal:PATH` for Optuna's journal file (safe for
  many processes on one machine or NFS); see study_storage.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.text import console as text_console
from benchmark.data.dataset import Runs, load_trace
from benchmark.data.manifest import trace_names, trace_sha256
from benchmark.results.store import params_path, store_params
from benchmark.running.protocol import DELTA, TASK, Predictor, accepts_targets, search_space_for
from benchmark.running.pruning import STEP_STRIDE, make_reporter, report_sign  # noqa: F401 (re-export)
from benchmark.running.study_records import best_value, budget_used, check_study, study_summary
from benchmark.running.study_runner import (
    InterruptGate,
    open_study,
    queue_missing,
    run_trials,
    worker_id,
)
from benchmark.running.study_storage import (
    HEARTBEAT_S,
    TuningError,
    default_storage_url,
    error_line,
    open_storage,
    redact,
    storage_failure,
)
from benchmark.scoring.metrics import METRICS, main_metric

DEFAULT_TRIALS = 30
DEFAULT_TIMEOUT_S = 900.0
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_STEPS = 1
# target -> (its main metric, scored on the valid rows; Optuna direction), from README §5's facts
OBJECTIVES: dict[str, tuple[str, str]] = {
    target: (
        main_metric(target),
        "maximize" if METRICS[main_metric(target)].higher_is_better else "minimize",
    )
    for target in (TASK, DELTA)
}


# -- the objective ------------------------------------------------------------------------------
def tuning_fit_rows(
    runs: Runs, cls: type[Predictor], train_rows: int | None = None
) -> tuple[Runs, Runs]:
    """(train, valid) given to `fit` while tuning; see the module docstring. `train_rows` keeps
    only the last that many rows of that train (the low fidelity of a multi-fidelity study: the
    rows nearest the valid rows; None keeps them all)."""
    first, end = runs.split.train
    valid = runs.valid()
    if cls.trains_on_valid:  # the tail of train stands in for valid
        end = max(first + 1, end - len(valid))
        valid = runs.rows(end, runs.split.train[1])
    start = first if train_rows is None else max(first, end - int(train_rows))
    return runs.rows(start, end), valid


def valid_positions(runs: Runs) -> np.ndarray:
    return np.arange(*runs.split.valid, dtype=np.int64)


def valid_score(model: Predictor, runs: Runs, target: str) -> float:
    """The objective metric of `target` on the valid rows; history stops at the last valid row."""
    from benchmark.scoring.metrics import score_delta, score_task

    history = runs.through_valid()
    positions = valid_positions(runs)
    pred = model.predict(history, positions)
    local = positions - runs.start
    if target == TASK:
        if pred.task_proba is None:
            raise TuningError(f"{type(model).__name__} returned no task probabilities")
        return float(score_task(runs.task[local], pred.task_proba)["acc"])
    if pred.delta_us is None:
        raise TuningError(f"{type(model).__name__} returned no delta predictions")
    return float(score_delta(runs.delta_us[local], pred.delta_us, runs.sigma_us)["mse_z"])


def constructor_defaults(cls: type[Predictor]) -> dict[str, Any]:
    """The constructor's keyword defaults (what an untuned model uses)."""
    out = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name != "self" and p.default is not inspect.Parameter.empty:
            out[p.name] = p.default
    return out


def search_space_is_empty(cls: type[Predictor], target: str | None = None) -> bool:
    """Whether `search_space` suggests nothing for `target` (None: for any of the class's
    targets); then one trial with the defaults suffices."""
    from optuna.trial import FixedTrial

    for one in sorted(cls.targets) if target is None else [target]:
        try:
            if search_space_for(cls, FixedTrial({}), one) != {}:
                return False
        except Exception:
            return False
    return True


def make_objective(
    cls: type[Predictor],
    target: str,
    traces: Sequence[Runs],
    seed: int,
    worker: str,
    build: Callable[[dict[str, Any]], Predictor] | None = None,
    defaults: dict[str, Any] | None = None,
    gate: InterruptGate | None = None,
    train_rows: int | None = None,
) -> Callable[[Any], float]:
    """The Optuna objective: mean valid score over `traces`; model errors become FAILED.

    `build` makes a model from a trial's parameters (a registered entry applies its preset
    first, as the harness does); `defaults` are the parameters of the defaults trial (trial 0,
    or a queued retry of it). Ctrl-C reaches only the model code (`gate`). `train_rows` fits on
    the last that many train rows of each trace (`tuning_fit_rows`); the valid rows scored are
    always all of them.
    """
    build = build or (lambda params: cls(**params))
    defaults = constructor_defaults(cls) if defaults is None else defaults
    gate = gate or InterruptGate()
    metric, direction = OBJECTIVES[target]
    sign = report_sign(cls, direction, target)
    only = {"targets": [target]} if accepts_targets(cls) else {}

    def objective(trial: Any) -> float:
        import optuna

        use_defaults = trial.number == 0 or bool(trial.user_attrs.get("defaults"))
        trial.set_user_attr("worker", worker)
        try:
            if use_defaults:
                trial.set_user_attr("defaults", True)
            params = dict(defaults) if use_defaults else search_space_for(cls, trial, target)
            trial.set_user_attr("constructor_params", _jsonable(params))
            scores = []
            for i, runs in enumerate(traces):
                with gate.interruptible():
                    model = build(params)
                    train, valid = tuning_fit_rows(runs, cls, train_rows)
                    model.fit(
                        train,
                        valid=valid,
                        seed=seed,
                        report=make_reporter(trial, i, sign, gate, target),
                        **only,
                    )
                    score = valid_score(model, runs, target)
                trial.set_user_attr(f"valid_{metric}:{runs.name}", score)
                scores.append(score)
            value = float(np.mean(scores))
            if not math.isfinite(value):
                raise TuningError(f"the valid {metric} is {value}")
            return value
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            if use_defaults:  # still owed; only this worker holds it, so it is queued once
                trial.study.enqueue_trial({}, user_attrs={"defaults": True})
            raise
        except Exception as error:
            trial.set_user_attr("error", f"{type(error).__name__}: {str(error)[:500]}")
            raise

    return objective


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class TuneReport:
    """What one `tune` call did, and the summary written to the params file."""

    model: str
    target: str
    study_name: str
    summary: dict[str, Any]
    params_file: Path | None
    ran_trials: list[int] = field(default_factory=list)  # trial numbers this process ran


def study_name_for(model: str, target: str, traces: Sequence[str]) -> str:
    return f"{model}-{target}@{'+'.join(traces)}"


def _checked(
    model: str,
    target: str,
    traces: Sequence[str] | None,
    trials: int,
    timeout_s: float,
    heartbeat_s: int,
    data_root: Path | None,
) -> tuple[type[Predictor], str, list[str]]:
    """The model class, its label and the trace names; else a one-line error naming the option."""
    from benchmark.running.registry import get_model_class, model_label

    if target not in OBJECTIVES:
        raise TuningError(f"--target {target}: unknown target; use task or delta")
    try:
        cls = get_model_class(model)
    except (KeyError, ValueError) as error:  # UnknownModelError, RegistryError
        raise TuningError(f"--model {model}: {error}") from error
    label = model_label(model, cls)
    if target not in cls.targets:
        raise TuningError(
            f"--target {target}: {label} does not predict it (its targets: "
            f"{', '.join(sorted(cls.targets))})"
        )
    if search_space_is_empty(cls, target):
        raise TuningError(
            f"--model {model}: nothing to tune, its search space is empty (it runs with its "
            "defaults)"
        )
    if trials < 1:
        raise TuningError(f"--trials {trials}: give at least 1")
    if not timeout_s > 0:
        raise TuningError(f"--timeout {timeout_s:g}: give a positive number of seconds")
    if heartbeat_s < 1:
        raise TuningError(f"--heartbeat {heartbeat_s}: give at least 1 second")
    known = trace_names(data_root)
    names = list(traces) if traces else known
    unknown = [t for t in names if t not in known]
    if unknown:
        raise TuningError(
            f"--trace {', '.join(unknown)}: unknown trace(s); available: {', '.join(known)}"
        )
    return cls, label, names


def tune(
    model: str,
    target: str,
    *,
    traces: Sequence[str] | None = None,
    trials: int = DEFAULT_TRIALS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int = 0,
    heartbeat_s: int = HEARTBEAT_S,
    data_root: Path | None = None,
    leaderboard_root: Path | None = None,
    write_params: bool = True,
    quiet: bool = False,
    log: Callable[[str], None] | None = None,
    train_rows: int | None = None,
    enqueue: Sequence[dict[str, Any]] = (),
) -> TuneReport:
    """Run (or resume) the study of `model` on `target` until its budget is spent.

    `train_rows` fits every trial on the last that many train rows of each trace (a low
    fidelity); `enqueue` are parameter sets to run (once each, before any sampled trial) when
    the study does not hold them yet: the promoted trials of a higher fidelity rung.

    Raises TuningError (one line naming the option) for bad input, KeyboardInterrupt after a
    Ctrl-C once the interrupted trial is recorded (not charged).
    """
    import optuna
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmark.running.registry import build_model, model_defaults

    trials, timeout_s, heartbeat_s = int(trials), float(timeout_s), int(heartbeat_s)
    cls, label, names = _checked(model, target, traces, trials, timeout_s, heartbeat_s, data_root)
    say = log or (lambda _text: None)
    data = {name: trace_sha256(name, data_root) for name in names}
    metric, direction = OBJECTIVES[target]
    storage_url = storage or default_storage_url()
    study_name = study_name or study_name_for(label, target, names)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial gets one line, below
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
    )
    study = open_study(
        open_storage(storage_url, heartbeat_s),
        study_name,
        direction,
        seed,
        storage is not None,
        pruner,
    )
    check_study(study, label, target, metric, direction, data)
    gate = InterruptGate()
    objective = make_objective(
        cls,
        target,
        [load_trace(name, data_root) for name in names],
        seed,
        worker_id(),
        build=lambda params: build_model(model, params),
        defaults=model_defaults(model),
        gate=gate,
        train_rows=train_rows,
    )
    queue_missing(study, enqueue)
    t_start = time.monotonic()
    title = f"tuning {label} ({target})"
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} trials", markup=False),
        TimeElapsedColumn(),
        console=text_console(stderr=True),
        disable=quiet,
    ) as progress:
        bar = progress.add_task(title, total=trials, completed=min(budget_used(study)[0], trials))

        def on_trial(study: Any, trial: Any) -> None:
            if "error" in trial.user_attrs:
                say(f"trial {trial.number} failed: {trial.user_attrs['error'].splitlines()[0]}")
            best = best_value(study)
            progress.update(
                bar,
                completed=min(budget_used(study)[0], trials),
                description=title
                + (f" best valid {metric} {best:.4f}" if best is not None else ""),
            )

        try:
            ran = run_trials(
                study,
                objective,
                budget_trials=trials,
                timeout_s=timeout_s,
                gate=gate,
                on_trial=on_trial,
                log=say,
            )
        except Exception as error:
            failure = storage_failure(error)
            if failure is None:
                raise
            raise TuningError(
                f"--storage {redact(storage_url)}: it failed during the study "
                f"({error_line(failure)}); the trials told so far are kept: re-run the same "
                "command to resume"
            ) from error
    summary = study_summary(
        study,
        model=label,
        target=target,
        objective={
            "metric": metric,
            "direction": direction,
            "rows": "valid (history: train + valid; the test rows are never read)",
            "traces": names,
            "aggregate": "unweighted mean over traces",
            "fit_rows": ("tail of train as valid" if cls.trains_on_valid else "train, valid")
            + ("" if train_rows is None else f" (the last {train_rows} train rows)"),
        },
        budget={
            "trials": trials,
            "timeout_s": timeout_s,
            "is_default": (trials, timeout_s) == (DEFAULT_TRIALS, DEFAULT_TIMEOUT_S),
            "rule": "stop at this many counted trials (complete, pruned, failed) or when the "
            "trials' summed time reaches timeout_s, whichever first",
        },
        study_record={
            "name": study.study_name,
            "storage": redact(storage_url),
            "sampler": f"TPESampler(seed={seed}) (resumed / shared studies derive a fresh seed)",
            "pruner": f"MedianPruner(n_startup_trials={PRUNER_STARTUP_TRIALS}, "
            f"n_warmup_steps={PRUNER_WARMUP_STEPS}) on the reported per-epoch/round scores",
            "seed": seed,
        },
        data=data,
    )
    path = None
    if write_params:
        if summary["best_trial"] is None:
            say(f"no trial of {study_name} completed: {params_path(label, target)} not written")
        else:
            path = params_path(label, target, leaderboard_root)
            store_params(path, summary)
    counts = summary["trials"]
    say(
        f"{label} ({target}): {counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed; best valid {metric} {summary['best_value']} in "
        f"{time.monotonic() - t_start:.1f} s"
    )
    return TuneReport(label, target, study_name, summary, path, ran)
