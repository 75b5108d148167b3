"""Hyperparameter tuning with Optuna (README §6): seeded TPE, median pruning, valid rows only.

One study per (model, target). A trial builds the model from `cls.search_space(trial)`, fits it
on each tuning trace's train rows, predicts that trace's valid rows (history: train + valid, so
the test rows are never read) and scores them: `acc` (maximised) for the task target, `mse_z`
(minimised) for delta. The objective is the unweighted mean over the tuning traces, as the
leaderboard's. Iterative models call `report(step, score)` after each epoch / boosting round;
those scores feed Optuna's `MedianPruner` (trace `i`'s steps are offset by `i * STEP_STRIDE`, so
trials are compared at the same trace and epoch).

* A model that trains on its valid rows (`trains_on_valid`) would be scored in-sample on them,
  so for tuning it gets the tail of train (as many rows as valid) as its `valid` and the real
  valid rows stay unseen until they are scored.
* The first trial of a new study runs the constructor defaults, so every params file states the
  gain of the tuned parameters over the defaults on the same valid rows.
* A trial whose model raises is recorded as FAILED (with the error as a user attribute) and the
  study goes on. A trial stopped by Ctrl-C or a killed process is not charged to the budget.
* Budget (the same for every model unless asked otherwise): `DEFAULT_TRIALS` counted trials
  (complete, pruned or failed) and `DEFAULT_TIMEOUT_S` seconds of trial time summed over the
  study, whichever comes first. Re-running the same command resumes the study until the budget
  is spent; several processes (or machines, with one PostgreSQL URL) share one study.
* Storage: `sqlite:///.optuna/studies.db` by default (outside version control), any SQLAlchemy
  URL (`postgresql://user:pass@host/db`), or `journal:PATH` for Optuna's journal file (safe for
  many processes on one machine or NFS).
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import write_json
from benchmark.data.dataset import Runs, load_trace
from benchmark.data.manifest import trace_names, trace_sha256
from benchmark.data.splits import SPLIT_VERSION
from benchmark.results.store import (
    PARAMS_SCHEMA_VERSION,
    git_commit,
    now_iso,
    package_versions,
    params_path,
)
from benchmark.running.protocol import DELTA, TASK, Predictor
from benchmark.running.study_records import (
    best_trial,
    best_value,
    budget_used,
    check_study,
)
from benchmark.running.study_storage import (
    TuningError,
    default_storage_url,
    open_storage,
    redact,
)
from benchmark.scoring.metrics import METRICS, main_metric

DEFAULT_TRIALS = 30
DEFAULT_TIMEOUT_S = 900.0
STEP_STRIDE = 100_000
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
def tuning_fit_rows(runs: Runs, cls: type[Predictor]) -> tuple[Runs, Runs]:
    """(train, valid) given to `fit` while tuning; see the module docstring."""
    train, valid = runs.train(), runs.valid()
    if not cls.trains_on_valid:
        return train, valid
    start, end = runs.split.train
    cut = max(start + 1, end - len(valid))
    return runs.rows(start, cut), runs.rows(cut, end)


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


def report_sign(cls: type[Predictor], direction: str) -> float:
    """+1 if the model's reported score already points the study's way, else -1.

    A model without `report_metric` is taken to report a score in the study's direction.
    """
    if cls.report_metric is None:
        return 1.0
    _, higher_is_better = cls.report_metric
    return 1.0 if higher_is_better == (direction == "maximize") else -1.0


def make_reporter(trial: Any, offset: int, sign: float) -> Callable[[int, float], None]:
    """The `report` callback for `fit`: feeds the pruner, raises TrialPruned when told to."""
    import optuna

    def report(step: int, value: float) -> None:
        value = float(value)
        if not math.isfinite(value):
            return
        trial.report(sign * value, offset + int(step))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (reported {value:.6g})")

    return report


def constructor_defaults(cls: type[Predictor]) -> dict[str, Any]:
    """The constructor's keyword defaults (what an untuned model uses)."""
    out = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name != "self" and p.default is not inspect.Parameter.empty:
            out[p.name] = p.default
    return out


def search_space_is_empty(cls: type[Predictor]) -> bool:
    """Whether `search_space` suggests nothing (then one trial with the defaults suffices)."""
    from optuna.trial import FixedTrial

    try:
        return cls.search_space(FixedTrial({})) == {}
    except Exception:
        return False


def make_objective(
    cls: type[Predictor],
    target: str,
    traces: Sequence[Runs],
    seed: int,
    worker: str,
    build: Callable[[dict[str, Any]], Predictor] | None = None,
    defaults: dict[str, Any] | None = None,
) -> Callable[[Any], float]:
    """The Optuna objective: mean valid score over `traces`; model errors become FAILED.

    `build` makes a model from a trial's parameters (a registered entry applies its preset
    first, as the harness does); `defaults` are the parameters of the defaults trial.
    """
    build = build or (lambda params: cls(**params))
    defaults = constructor_defaults(cls) if defaults is None else defaults
    metric, direction = OBJECTIVES[target]
    sign = report_sign(cls, direction)

    def objective(trial: Any) -> float:
        import optuna

        trial.set_user_attr("worker", worker)
        try:
            use_defaults = trial.user_attrs.get("defaults")
            params = dict(defaults) if use_defaults else cls.search_space(trial)
            trial.set_user_attr("constructor_params", _jsonable(params))
            scores = []
            for i, runs in enumerate(traces):
                model = build(params)
                train, valid = tuning_fit_rows(runs, cls)
                model.fit(
                    train,
                    valid=valid,
                    seed=seed,
                    report=make_reporter(trial, i * STEP_STRIDE, sign),
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


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _sampler_seed(seed: int, n_existing: int, shared: bool, worker: str) -> int:
    """Reproducible for one process on a fresh study (`seed`); a resumed study continues with a
    new stream (so the start-up trials are not repeated); workers of a shared study differ."""
    if n_existing == 0 and not shared:
        return seed
    text = f"{seed}:{n_existing}:{worker if shared else ''}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


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
    data_root: Path | None = None,
    leaderboard_root: Path | None = None,
    write_params: bool = True,
    quiet: bool = False,
    log: Callable[[str], None] | None = None,
) -> TuneReport:
    """Run (or resume) the study of `model` on `target` until its budget is spent."""
    import optuna
    from optuna.trial import TrialState

    from benchmark.running.registry import (
        build_model,
        get_model_class,
        model_defaults,
        model_label,
    )

    if target not in OBJECTIVES:
        raise TuningError(f"unknown target {target!r}; use task or delta")
    cls = get_model_class(model)
    label = model_label(model, cls)
    if target not in cls.targets:
        raise TuningError(
            f"{label} does not predict {target!r} (its targets: {', '.join(sorted(cls.targets))})"
        )
    names = list(traces) if traces else trace_names(data_root)
    known = trace_names(data_root)
    unknown = [t for t in names if t not in known]
    if unknown:
        raise TuningError(f"unknown trace(s) {', '.join(unknown)}; available: {', '.join(known)}")
    data = {name: trace_sha256(name, data_root) for name in names}
    metric, direction = OBJECTIVES[target]
    empty = search_space_is_empty(cls)
    budget_trials = 1 if empty else int(trials)
    if budget_trials < 1:
        raise TuningError("--trials must be at least 1")

    shared = storage is not None
    storage_url = storage or default_storage_url()
    study_name = study_name or study_name_for(label, target, names)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    backend = open_storage(storage_url)
    worker = _worker_id()
    # The sampler seed depends on the study's history, so peek at it first.
    try:
        existing = optuna.load_study(study_name=study_name, storage=backend)
        n_existing = len(existing.get_trials(deepcopy=False))
    except KeyError:
        n_existing = 0
    sampler_seed = _sampler_seed(seed, n_existing, shared, worker)
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
    )
    study = optuna.create_study(
        storage=backend,
        study_name=study_name,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=sampler_seed),
        pruner=pruner,
        load_if_exists=True,
    )
    check_study(study, label, target, metric, direction, data)
    if not study.get_trials(deepcopy=False) and not empty:
        # The defaults may lie outside the search space (e.g. 0.0 on a log scale), so the
        # defaults trial takes them from the constructor, not from `search_space`.
        study.enqueue_trial({}, user_attrs={"defaults": True})

    runs = [load_trace(name, data_root) for name in names]
    objective = make_objective(
        cls,
        target,
        runs,
        seed,
        worker,
        build=lambda params: build_model(model, params),
        defaults=model_defaults(model),
    )
    ran: list[int] = []
    t_start = time.monotonic()
    counted, used_s = budget_used(study)

    def stop_when_spent(study: Any, trial: Any) -> None:
        ran.append(trial.number)
        counted, used = budget_used(study)
        progress_update(counted, study)
        if counted >= budget_trials or used >= timeout_s:
            study.stop()

    remaining = budget_trials - counted
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} trials"),
        TimeElapsedColumn(),
        disable=quiet,
    ) as progress:
        bar = progress.add_task(
            f"tuning {label} ({target})", total=budget_trials, completed=counted
        )

        def progress_update(counted: int, study: Any) -> None:
            best = best_value(study)
            text = f"tuning {label} ({target})" + (
                f" best valid {metric} {best:.4f}" if best is not None else ""
            )
            progress.update(bar, completed=min(counted, budget_trials), description=text)

        if remaining > 0 and used_s < timeout_s:
            try:
                study.optimize(
                    objective,
                    n_trials=remaining,
                    timeout=max(1.0, timeout_s - used_s),
                    catch=(Exception,),
                    callbacks=[stop_when_spent],
                )
            except KeyboardInterrupt:
                if log:
                    log("interrupted: the study is kept; re-run the same command to resume")
                raise
    counted, used_s = budget_used(study)
    all_trials = study.get_trials(deepcopy=False)
    states = {s: sum(t.state == s for t in all_trials) for s in TrialState}
    best = best_trial(study)
    defaults_trial = next(
        (t for t in all_trials if t.user_attrs.get("defaults") and t.state == TrialState.COMPLETE),
        None,
    )
    if best is not None:
        params = dict(best.user_attrs.get("constructor_params", best.params))
    else:
        params = {}
    summary: dict[str, Any] = {
        "schema_version": PARAMS_SCHEMA_VERSION,
        "model": label,
        "target": target,
        "params": params,
        "objective": {
            "metric": metric,
            "direction": direction,
            "rows": "valid (history: train + valid; the test rows are never read)",
            "traces": names,
            "aggregate": "unweighted mean over traces",
            "fit_rows": "tail of train as valid" if cls.trains_on_valid else "train, valid",
        },
        "best_value": None if best is None else best.value,
        "best_trial": None if best is None else best.number,
        "best_per_trace": None
        if best is None
        else {k.split(":", 1)[1]: v for k, v in best.user_attrs.items() if k.startswith("valid_")},
        "default_value": None if defaults_trial is None else defaults_trial.value,
        "gain_over_default": None
        if best is None or defaults_trial is None
        else (best.value - defaults_trial.value) * (1 if direction == "maximize" else -1),
        "budget": {
            "trials": budget_trials,
            "timeout_s": float(timeout_s),
            "is_default": (int(trials), float(timeout_s)) == (DEFAULT_TRIALS, DEFAULT_TIMEOUT_S),
            "rule": "stop at this many counted trials (complete, pruned, failed) or when the "
            "trials' summed time reaches timeout_s, whichever first",
            "search_space_empty": empty,
        },
        "used": {"counted_trials": counted, "trial_seconds": round(used_s, 3)},
        "trials": {
            "total": len(all_trials),
            "complete": states[TrialState.COMPLETE],
            "pruned": states[TrialState.PRUNED],
            "failed": sum(
                t.state == TrialState.FAIL and "error" in t.user_attrs for t in all_trials
            ),
            "interrupted": sum(
                t.state == TrialState.FAIL and "error" not in t.user_attrs for t in all_trials
            ),
            "running": states[TrialState.RUNNING],
        },
        "study": {
            "name": study_name,
            "storage": redact(storage_url),
            "sampler": f"TPESampler(seed={seed}) (resumed / shared studies derive a fresh seed)",
            "pruner": f"MedianPruner(n_startup_trials={PRUNER_STARTUP_TRIALS}, "
            f"n_warmup_steps={PRUNER_WARMUP_STEPS}) on the reported per-epoch/round scores",
            "seed": seed,
        },
        "data_sha256": data,
        "split_version": SPLIT_VERSION,
        "date": now_iso(),
        "versions": {**package_versions(), "optuna": optuna.__version__},
        "git_commit": git_commit(),
    }
    path = None
    if write_params:
        if best is None:
            if log:
                log(f"no trial of {study_name} completed: {params_path(label, target)} not written")
        else:
            path = params_path(label, target, leaderboard_root)
            write_json(path, summary)
    if log:
        log(
            f"{label} ({target}): {summary['trials']['complete']} complete, "
            f"{summary['trials']['pruned']} pruned, {summary['trials']['failed']} failed; "
            f"best valid {metric} {summary['best_value']} in {time.monotonic() - t_start:.1f} s"
        )
    return TuneReport(label, target, study_name, summary, path, ran)
