"""The evaluation harness: fit on train (+valid), predict every test position, score, time.

Each (model, trace, seed) runs in its own worker process, so that a model that raises, hangs
or runs out of memory becomes a `failed` result and the other runs go on (README §6).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.paths import leaderboard_dir
from benchmark.data.dataset import Runs, load_trace
from benchmark.data.manifest import trace_names, trace_sha256
from benchmark.data.splits import SPLIT_VERSION
from benchmark.results.store import (
    STATUS_FAILED,
    STATUS_OK,
    git_commit,
    now_iso,
    package_versions,
    result_path,
    write_predictions,
    write_result,
)
from benchmark.running.protocol import DELTA, TASK, Prediction, Predictor, row_at

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
    extra: dict[str, Any] = field(default_factory=dict)


# -- parameters -------------------------------------------------------------------------------
def params_path(model: str, target: str, root: Path | None = None) -> Path:
    return (root or leaderboard_dir()) / "params" / f"{model}-{target}.json"


def stored_params(
    model: str, targets: Iterable[str], override: Path | None = None, root: Path | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Parameters per target: `override` for all, else the tuned file, else the defaults."""
    params: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for target in sorted(targets):
        path = override or params_path(model, target, root)
        if path.exists():
            try:
                obj = json.loads(path.read_text())
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: not valid JSON ({error})") from error
            params[target] = dict(obj.get("params", obj))
            sources[target] = str(path)
        elif override is not None:
            raise FileNotFoundError(f"--params {override}: no such file")
        else:
            params[target] = {}
            sources[target] = "default"
    return params, sources


def _param_groups(params: dict[str, dict[str, Any]]) -> list[tuple[list[str], dict[str, Any]]]:
    """Targets that share one parameter set are fitted once together."""
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
def online_latency(model: Predictor, runs: Runs, start: int, steps: int) -> dict[str, float]:
    """Batch-1 latency of one scheduler step (predict_next + update), in microseconds."""
    history = runs.rows(runs.start, start)
    stream = model.online(history)
    end = min(start + steps + ONLINE_WARMUP, runs.start + len(runs))
    rows = [row_at(runs, j) for j in range(start, end)]
    timings = np.empty(len(rows), dtype=np.float64)
    clock = time.perf_counter_ns
    for k, row in enumerate(rows):
        t0 = clock()
        stream.predict_next()
        stream.update(row)
        timings[k] = clock() - t0
    measured = timings[ONLINE_WARMUP:] if len(timings) > 2 * ONLINE_WARMUP else timings
    return {
        "online_p50_us": float(np.percentile(measured, 50) / 1e3),
        "online_p99_us": float(np.percentile(measured, 99) / 1e3),
        "online_steps": len(measured),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this (worker) process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def score_prediction(runs: Runs, positions: np.ndarray, pred: Prediction) -> dict[str, Any]:
    """Every metric of the predicted targets with its 95% moving-block bootstrap interval."""
    from benchmark.scoring.bootstrap import intervals
    from benchmark.scoring.metrics import METRICS, contributions

    local = positions - runs.start
    has_task, has_delta = pred.task_proba is not None, pred.delta_us is not None
    contrib = contributions(
        y_true=runs.task[local] if has_task else None,
        proba=pred.task_proba,
        task_comm=runs.task_comm if has_task else None,
        true_comm=runs.comm[local] if has_task else None,
        true_us=runs.delta_us[local] if has_delta else None,
        pred_us=pred.delta_us,
        sigma_us=runs.sigma_us if has_delta else None,
    )
    scored = intervals(contrib)
    for name, entry in scored.items():
        entry["higher_is_better"] = METRICS[name].higher_is_better
        entry["target"] = METRICS[name].target
    return scored


def _fit_predict(
    cls: type[Predictor], params: dict[str, Any], runs: Runs, positions: np.ndarray, spec: RunSpec
) -> tuple[Predictor, Prediction, dict[str, Any]]:
    model = cls(**params)
    t0 = time.perf_counter()
    model.fit(runs.train(), valid=runs.valid(), seed=spec.seed)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(runs, positions)
    predict_s = time.perf_counter() - t0
    costs = {"fit_s": fit_s, "predict_s": predict_s}
    costs.update(online_latency(model, runs, int(positions[0]), spec.online_steps))
    return model, pred, costs


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Evaluate one (model, trace, seed); raises on any model error (the worker reports it)."""
    from benchmark.running.registry import get_model_class

    root = Path(spec.data_root) if spec.data_root else None
    cls = get_model_class(spec.model)
    runs = load_trace(spec.trace, root)
    positions = runs.test_positions()
    if spec.max_test_positions:
        positions = positions[: spec.max_test_positions]
    targets = set(cls.targets)
    task_proba = delta_us = None
    costs: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    for group_targets, params in _param_groups({t: spec.params.get(t, {}) for t in targets}):
        model, pred, group_costs = _fit_predict(cls, params, runs, positions, spec)
        for target in group_targets:
            if target == TASK:
                task_proba = pred.task_proba
            if target == DELTA:
                delta_us = pred.delta_us
        for key, value in group_costs.items():  # two fits: the costs add up, latency the worst
            costs[key] = (
                max(costs.get(key, 0), value) if "online" in key else costs.get(key, 0) + value
            )
        curve = getattr(model, "training_curve_", None)
        if curve:
            curves["+".join(group_targets)] = curve
    costs["peak_rss_mb"] = peak_rss_mb()
    combined = Prediction(task_proba=task_proba, delta_us=delta_us)
    return {
        "metrics": score_prediction(runs, positions, combined),
        "costs": costs,
        "training_curve": curves or None,
        "n_positions": len(positions),
        "predictions": {
            "positions": positions,
            "task": None if task_proba is None else task_proba.argmax(axis=1),
            "delta_us": delta_us,
        },
    }


def _worker(spec: RunSpec, conn: Any) -> None:
    try:
        conn.send(("ok", run_one(spec)))
    except BaseException as error:
        conn.send(
            (
                "error",
                {
                    "type": type(error).__name__,
                    "message": str(error),
                    "traceback": traceback.format_exc(),
                },
            )
        )
    finally:
        conn.close()


def run_isolated(spec: RunSpec) -> tuple[str, dict[str, Any], float]:
    """Run `spec` in a fresh process with a time limit; returns (status, payload, seconds)."""
    context = mp.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_worker, args=(spec, child), daemon=True)
    t0 = time.perf_counter()
    process.start()
    child.close()
    try:
        if parent.poll(spec.timeout_s):
            status, payload = parent.recv()
        else:
            status, payload = (
                "error",
                {
                    "type": "TimeoutError",
                    "message": f"run exceeded its time limit of {spec.timeout_s:.0f} s; stopped",
                    "traceback": "",
                },
            )
    except EOFError:
        process.join(5)
        status, payload = (
            "error",
            {
                "type": "WorkerDied",
                "message": f"the worker process died (exit code {process.exitcode}); "
                "out of memory or a crash in native code",
                "traceback": "",
            },
        )
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
    return status, payload, time.perf_counter() - t0


def evaluate_one(spec: RunSpec, out_root: Path) -> dict[str, Any]:
    """Run one evaluation in a worker and write its result file (ok or failed)."""
    from benchmark.running.registry import get_model_class

    root = Path(spec.data_root) if spec.data_root else None
    status, payload, wall_s = run_isolated(spec)
    path = result_path(spec.label, spec.trace, spec.seed, out_root)
    try:
        targets = sorted(get_model_class(spec.model).targets)
    except Exception:
        targets = []
    result: dict[str, Any] = {
        "model": spec.label,
        "model_spec": spec.model,
        "targets": targets,
        "params": spec.params,
        "params_source": spec.params_source,
        "seed": spec.seed,
        "trace": spec.trace,
        "data_sha256": trace_sha256(spec.trace, root),
        "split_version": SPLIT_VERSION,
        "status": STATUS_OK if status == "ok" else STATUS_FAILED,
        "error": None if status == "ok" else payload,
        "wall_s": wall_s,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "created": now_iso(),
        "cpu_count": os.cpu_count(),
    }
    if status == "ok":
        predictions = payload.pop("predictions")
        npz = path.with_suffix(".npz")
        write_predictions(
            npz, predictions["positions"], predictions["task"], predictions["delta_us"]
        )
        result.update(payload)
        result["predictions_file"] = npz.name
    write_result(path, result)
    return result


def plan(
    models: list[str],
    traces: list[str] | None,
    seeds: int,
    params_file: Path | None = None,
    data_root: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_test_positions: int | None = None,
    online_steps: int = ONLINE_STEPS,
    seeds_for: dict[str, int] | None = None,
) -> list[RunSpec]:
    """The runs to do: every model on every trace for each of its seeds."""
    from benchmark.running.registry import get_model_class, model_label

    names = traces or trace_names(data_root)
    known = trace_names(data_root)
    unknown = [t for t in names if t not in known]
    if unknown:
        raise KeyError(f"unknown trace(s) {', '.join(unknown)}; available: {', '.join(known)}")
    specs = []
    for model in models:
        cls = get_model_class(model)
        label = model_label(model, cls)
        params, sources = stored_params(label, cls.targets, params_file)
        n_seeds = (seeds_for or {}).get(label, seeds)
        for trace in names:
            for seed in range(n_seeds):
                specs.append(
                    RunSpec(
                        model,
                        label,
                        trace,
                        seed,
                        params,
                        sources,
                        str(data_root) if data_root else None,
                        timeout_s,
                        online_steps,
                        max_test_positions,
                    )
                )
    return specs


def evaluate(specs: list[RunSpec], out_root: Path | None = None, quiet: bool = False) -> list[dict]:
    """Run every spec (one worker each) with a progress bar; returns the result dicts."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    out_root = out_root or leaderboard_dir()
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        disable=quiet,
    ) as progress:
        bar = progress.add_task("evaluating", total=len(specs))
        for spec in specs:
            progress.update(bar, description=f"{spec.label} on {spec.trace} seed {spec.seed}")
            result = evaluate_one(spec, out_root)
            results.append(result)
            if result["status"] != STATUS_OK:
                progress.console.print(
                    f"[red]failed[/red] {spec.label} on {spec.trace} seed {spec.seed}: "
                    f"{result['error']['type']}: {result['error']['message'][:300]}"
                )
            progress.advance(bar)
    return results
