"""What an Optuna study holds, read the same way by every worker: the trials charged to the
budget, the time they used, the best trial, the record of what the study was run for, and the
summary a params file keeps (README §6).
"""

from __future__ import annotations

from typing import Any

from benchmark.data.splits import SPLIT_VERSION
from benchmark.results.store import PARAMS_SCHEMA_VERSION, git_commit, now_iso, package_versions
from benchmark.running.study_storage import TuningError


def counted(trial: Any) -> bool:
    """Trials charged to the budget: complete, pruned, or failed because the model raised."""
    from optuna.trial import TrialState

    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and "error" in trial.user_attrs


def interrupted(trial: Any) -> bool:
    """A trial stopped by Ctrl-C or a killed process: FAIL without a model error (not charged;
    its parameters are still owed)."""
    from optuna.trial import TrialState

    return trial.state == TrialState.FAIL and "error" not in trial.user_attrs


def valid_per_trace(trial: Any) -> dict[str, float]:
    """The trial's valid score per tuning trace (its `valid_<metric>:<trace>` attributes)."""
    return {k.split(":", 1)[1]: v for k, v in trial.user_attrs.items() if k.startswith("valid_")}


def duration_s(trial: Any) -> float:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return 0.0
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def budget_used(study: Any) -> tuple[int, float]:
    """(counted trials, their summed seconds) of the whole study, every worker included."""
    trials = [t for t in study.get_trials(deepcopy=False) if counted(t)]
    return len(trials), sum(duration_s(t) for t in trials)


def best_trial(study: Any) -> Any:
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not done:
        return None
    return study.best_trial


def best_value(study: Any) -> float | None:
    best = best_trial(study)
    return None if best is None else best.value


def check_study(
    study: Any, model: str, target: str, metric: str, direction: str, data: dict[str, str]
) -> None:
    """A resumed study must be of the same model, target and data; a new one records them.

    One user attribute holds them all, so that a worker starting at the same moment as another
    sees either nothing (and writes the same value) or the whole record.
    """
    expected = {"model": model, "target": target, "metric": metric, "data_sha256": data}
    recorded = study.user_attrs.get("kernel_oracle")
    if recorded is None:
        study.set_user_attr("kernel_oracle", expected)
        return
    differs = {k: (recorded.get(k), v) for k, v in expected.items() if recorded.get(k) != v}
    if differs:
        what = ", ".join(
            f"{k}: study has {old!r}, now {new!r}" for k, (old, new) in differs.items()
        )
        raise TuningError(
            f"study {study.study_name!r} was run for something else ({what}); "
            "pass another --study name or delete the study"
        )
    if study.direction.name.lower() != direction:
        raise TuningError(f"study {study.study_name!r} has direction {study.direction.name}")


def study_summary(
    study: Any,
    *,
    model: str,
    target: str,
    objective: dict[str, Any],
    budget: dict[str, Any],
    study_record: dict[str, Any],
    data: dict[str, str],
) -> dict[str, Any]:
    """The params file: best and default trials, the budget and its use, trials by state.

    A FAIL trial with an `error` failed in the model (charged); one without was interrupted or
    killed (not charged).
    """
    import optuna
    from optuna.trial import TrialState

    counted_trials, used_s = budget_used(study)
    trials = study.get_trials(deepcopy=False)
    states = {s: sum(t.state == s for t in trials) for s in TrialState}
    failed = [t for t in trials if t.state == TrialState.FAIL]
    best = best_trial(study)
    default = next(
        (t for t in trials if t.user_attrs.get("defaults") and t.state == TrialState.COMPLETE),
        None,
    )
    sign = 1 if objective["direction"] == "maximize" else -1
    return {
        "schema_version": PARAMS_SCHEMA_VERSION,
        "model": model,
        "target": target,
        "params": {}
        if best is None
        else dict(best.user_attrs.get("constructor_params", best.params)),
        "objective": objective,
        "best_value": None if best is None else best.value,
        "best_trial": None if best is None else best.number,
        "best_per_trace": None if best is None else valid_per_trace(best),
        "default_value": None if default is None else default.value,
        "gain_over_default": None
        if best is None or default is None
        else (best.value - default.value) * sign,
        "budget": budget,
        "used": {"counted_trials": counted_trials, "trial_seconds": round(used_s, 3)},
        "trials": {
            "total": len(trials),
            "complete": states[TrialState.COMPLETE],
            "pruned": states[TrialState.PRUNED],
            "failed": sum("error" in t.user_attrs for t in failed),
            "interrupted": sum("error" not in t.user_attrs for t in failed),
            "running": states[TrialState.RUNNING],
            "waiting": states[TrialState.WAITING],
        },
        "study": study_record,
        "data_sha256": data,
        "split_version": SPLIT_VERSION,
        "date": now_iso(),
        "versions": {**package_versions(), "optuna": optuna.__version__},
        "git_commit": git_commit(),
    }
