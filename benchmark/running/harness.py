"""One evaluation run, inside its worker process: fit, predict, verify, score, time (README §6).

The truth a run is scored against is the harness's own copy of the trace, loaded before the
model runs; the model gets separate read-only copies (train and valid from `Runs.train()` /
`valid()`, the full trace from `read_only_copy`), so it can neither read the test rows through a
view's `.base` nor overwrite the truth. Every prediction is checked before scoring, and test
positions are predicted again from the trace cut right before each one: a different answer
fails the run with "leak detected at position p" (both in `benchmark.running.verify`).
Process isolation and time limits are `benchmark.running.worker`'s job.
"""

from __future__ import annotations

import copy
import resource
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.machine import cpu_model, numpy_isa, torch_isa
from benchmark.core.threads import apply_threads, torch_threads
from benchmark.data.dataset import Runs, load_trace
from benchmark.results.store import params_path, stored_params  # noqa: F401 (moved; re-export)
from benchmark.running.horizon_track import run_horizon
from benchmark.running.origins import COUNT as HORIZON_ORIGINS
from benchmark.running.protocol import (
    DELTA,
    TASK,
    Prediction,
    Predictor,
    accepts_targets,
    fork_stream,
    row_at,
)
from benchmark.running.verify import SPOT_POSITIONS, check_prediction, spot_budget, spot_verify

ONLINE_STEPS = 2000
ONLINE_WARMUP = 50
DEFAULT_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class RunSpec:
    """One evaluation: a model (registered name, module:Class or file.py:Class) on a trace."""

    model: str
    label: str
    trace: str
    seed: int
    params: dict[str, dict[str, Any]]  # target -> constructor parameters
    params_source: dict[str, str]  # target -> where they came from
    data_root: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    online_steps: int = ONLINE_STEPS
    max_test_positions: int | None = None  # quick profiles score a prefix of the test rows
    threads: int = 1  # threads of this run (benchmark.core.threads)
    spot_positions: int = SPOT_POSITIONS
    horizon_origins: int = HORIZON_ORIGINS  # the horizon track's origins (README "Horizon track")


# -- what the model sees ----------------------------------------------------------------------
_ARRAYS = tuple(f.name for f in fields(Runs) if f.name not in ("name", "split", "start"))


def read_only_copy(runs: Runs) -> Runs:
    """A separate copy of `runs` (`Runs` freezes every column: immutable buffers, no `.base`
    into the trace), so that what the model is handed never shares memory with the truth."""
    return replace(runs, **{name: np.array(getattr(runs, name)) for name in _ARRAYS})


def param_groups(params: dict[str, dict[str, Any]]) -> list[tuple[list[str], dict[str, Any]]]:
    """Targets that share one parameter set are fitted once together; each group's fit gets
    `targets=<the group's targets>` where the class's `fit` accepts it, so a model with other
    parameters per target fits each head once (not both heads twice)."""
    groups: list[tuple[list[str], dict[str, Any]]] = []
    for target, values in sorted(params.items()):
        for targets, shared in groups:
            if shared == values:
                targets.append(target)
                break
        else:
            groups.append(([target], values))
    return groups


# -- measuring ----------------------------------------------------------------------------------
class LatencyProbe:
    """A primed stream and the rows after it, timed one pass at a time: `online_latency` times
    its passes back to back, `kernel-oracle perf` interleaves the passes of several models (a
    round of every model, then the next) so that the machine's slow phases, seconds long on
    this machine kind, fall on all of them alike."""

    def __init__(self, model: Predictor, runs: Runs, start: int, steps: int) -> None:
        self.primed = model.online(runs.rows(runs.start, start))
        end = min(start + steps + ONLINE_WARMUP, runs.start + len(runs))
        self.rows = [row_at(runs, j) for j in range(start, end)]
        self.passes: list[np.ndarray] = []  # per pass, each timed step's nanoseconds

    def time_pass(self) -> None:
        """Time every row once, from a fork of the primed stream."""
        stream = fork_stream(self.primed)
        timings = np.empty(len(self.rows), dtype=np.float64)
        clock = time.perf_counter_ns
        for i, row in enumerate(self.rows):
            t0 = clock()
            stream.predict_next()
            stream.update(row)
            timings[i] = clock() - t0
        self.passes.append(timings[ONLINE_WARMUP:] if len(timings) > 2 * ONLINE_WARMUP else timings)

    def result(self) -> dict[str, float]:
        """p50 and p99 each at its best pass (the best of several, as `timeit` reports: a
        slow phase of the machine, or a burst of other work in one pass, only raises them);
        with several passes also their count and the median pass's p50."""
        p50s = [float(np.percentile(timed, 50)) for timed in self.passes]
        p99 = min(float(np.percentile(timed, 99)) for timed in self.passes)
        out = {
            "online_p50_us": min(p50s) / 1e3,
            "online_p99_us": p99 / 1e3,
            "online_steps": len(self.passes[0]),
        }
        if len(self.passes) > 1:
            out["online_passes"] = len(self.passes)
            out["online_p50_us_median_pass"] = float(np.median(p50s) / 1e3)
        compile_s = getattr(self.primed, "compile_s", None)
        if isinstance(compile_s, float) and np.isfinite(compile_s):
            out["online_compile_s"] = compile_s
        state_bytes = getattr(self.primed, "state_bytes", None)
        if isinstance(state_bytes, int) and not isinstance(state_bytes, bool) and state_bytes >= 0:
            out["online_state_bytes"] = state_bytes
        return out


def online_latency(model: Predictor, runs: Runs, start: int, steps: int) -> dict[str, float]:
    """Batch-1 latency of one scheduler step (predict_next + update), in microseconds, over one
    pass (a run's own measurement; `kernel-oracle perf` times several, `LatencyProbe`); the
    stream's `compile_s` (a compiled online path's warm-up, outside the timing) and
    `state_bytes` (the memory of its state and model arrays) when it has them."""
    probe = LatencyProbe(model, runs, start, steps)
    probe.time_pass()
    return probe.result()


def peak_rss_mb() -> float:
    """Peak resident memory of this (worker) process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def score_prediction(truth: Runs, positions: np.ndarray, pred: Prediction) -> dict[str, Any]:
    """Every metric of the predicted targets with its 95% moving-block bootstrap interval,
    against `truth` (the harness's private copy of the trace)."""
    from benchmark.scoring.bootstrap import intervals
    from benchmark.scoring.metrics import METRICS, contributions

    local = positions - truth.start
    has_task, has_delta = pred.task_proba is not None, pred.delta_us is not None
    contrib = contributions(
        y_true=truth.task[local] if has_task else None,
        proba=pred.task_proba,
        task_comm=truth.task_comm if has_task else None,
        true_comm=truth.comm[local] if has_task else None,
        true_us=truth.delta_us[local] if has_delta else None,
        pred_us=pred.delta_us,
        sigma_us=truth.sigma_us if has_delta else None,
    )
    scored = intervals(contrib)
    for name, entry in scored.items():
        entry["higher_is_better"] = METRICS[name].higher_is_better
        entry["target"] = METRICS[name].target
    return scored


def run_facts(threads: int) -> dict[str, Any]:
    """What a result needs to be reproduced: threads, CPU model, dispatched instruction sets."""
    return {
        "threads": threads,
        "torch_threads": torch_threads(),
        "cpu_model": cpu_model(),
        "numpy_isa": numpy_isa(),
        "torch_isa": torch_isa(),
    }


# -- one run ------------------------------------------------------------------------------------
def _fit_predict(
    params: dict[str, Any],
    truth: Runs,
    positions: np.ndarray,
    targets: list[str],
    spec: RunSpec,
    load_s: float,
) -> tuple[Predictor, Prediction, dict[str, Any]]:
    """Fit, predict the test positions, spot-check and time the model; returns a copy of the
    model as fitted (before it was handed the test rows), its prediction and the costs."""
    from benchmark.running.registry import build_model

    model = build_model(spec.model, params)  # a registered entry's preset, then `params`
    only = {"targets": list(targets)} if accepts_targets(model) else {}
    t0 = time.perf_counter()
    model.fit(truth.train(), valid=truth.valid(), seed=spec.seed, **only)  # read-only copies
    fit_s = time.perf_counter() - t0
    # the horizon track forecasts with this copy: it has seen train and valid only, never the
    # test rows that `predict` below is handed (horizon_track: why no spot check is needed)
    pristine = copy.deepcopy(model)
    seen = read_only_copy(truth)
    t0 = time.perf_counter()
    pred = model.predict(seen, positions.copy())
    predict_s = time.perf_counter() - t0
    check_prediction(pred, len(positions), truth.n_tasks, targets)
    t0 = time.perf_counter()
    budget_s = spot_budget(load_s, fit_s, predict_s)
    spot = spot_verify(model, seen, positions, pred, targets, budget_s, spec.spot_positions)
    spot_s = time.perf_counter() - t0
    costs = {"fit_s": fit_s, "predict_s": predict_s, "spot_check_s": spot_s, "spot_positions": spot}
    costs.update(online_latency(model, seen, int(positions[0]), spec.online_steps))
    return pristine, pred, costs


def add_fit_costs(total: dict[str, Any], more: dict[str, Any]) -> None:
    """Two fits of one run (a model with other parameters per target): costs add up, the
    compiled paths' memory too (a scheduler serving both targets holds both); latency (and
    compile time) is the worse of the two, the step being the slower fit's. `kernel-oracle
    perf` combines its fits by the same rule. (`fit_s_by_target`, the seconds of the fit that
    gave each target, is kept by `run_one`: with `shared` true, the targets came from one fit
    and each lists that fit's seconds.)"""
    for key, value in more.items():
        worst = ("online" in key and key != "online_state_bytes") or key == "spot_positions"
        total[key] = max(total.get(key, 0), value) if worst else total.get(key, 0) + value


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Evaluate one (model, trace, seed) in this process; raises on any model error (the worker
    reports it) and `DataIntegrityError` on altered data (the command's error, not the model's)."""
    from benchmark.running.registry import get_model_class

    threads = apply_threads(spec.threads)
    root = Path(spec.data_root) if spec.data_root else None
    cls = get_model_class(spec.model)
    t0 = time.perf_counter()
    truth = load_trace(spec.trace, root)
    load_s = time.perf_counter() - t0
    positions = truth.test_positions()
    if spec.max_test_positions:
        positions = positions[: spec.max_test_positions]
    task_proba = delta_us = None
    costs: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    groups = param_groups({t: spec.params.get(t, {}) for t in cls.targets})
    fitted: dict[str, Predictor] = {}
    for group_targets, params in groups:
        model, pred, group_costs = _fit_predict(
            params, truth, positions, group_targets, spec, load_s
        )
        fitted.update({t: model for t in group_targets})
        if TASK in group_targets:
            task_proba = np.array(pred.task_proba, dtype=np.float32)
        if DELTA in group_targets:
            delta_us = np.array(pred.delta_us, dtype=np.float64)
        add_fit_costs(costs, group_costs)
        by_target = costs.setdefault("fit_s_by_target", {"shared": False})
        by_target.update({t: group_costs["fit_s"] for t in group_targets})
        by_target["shared"] = by_target["shared"] or len(group_targets) > 1
        curve = getattr(model, "training_curve_", None)
        if curve:
            curves["+".join(group_targets)] = curve
    horizon, forecast = run_horizon(
        fitted, truth, read_only_copy(truth), count=spec.horizon_origins
    )
    costs["peak_rss_mb"] = peak_rss_mb()
    combined = Prediction(task_proba=task_proba, delta_us=delta_us)
    return {
        "metrics": score_prediction(truth, positions, combined),
        "horizon": horizon,
        "costs": costs,
        "training_curve": curves or None,
        "n_positions": len(positions),
        "machine": run_facts(threads),
        "predictions": {
            "positions": positions,
            "task": None if task_proba is None else task_proba.argmax(axis=1),
            "delta_us": delta_us,
            **forecast,
        },
    }
