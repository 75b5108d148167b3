"""The harness benchmark behind `kernel-oracle perf`: time scoring, bootstrap and the ceiling on
synthetic predictions (README §5). Its own module, above metrics and bootstrap, so that neither
of those imports the other's user."""

from __future__ import annotations

import numpy as np

from benchmark.scoring.bootstrap import intervals
from benchmark.scoring.ceiling import ceiling
from benchmark.scoring.metrics import contributions


def synthetic_predictions(n: int, n_tasks: int, seed: int = 0) -> dict[str, object]:
    """Inputs of `contributions` for `n` synthetic positions (a model with some skill)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_tasks, n)
    proba = rng.random((n, n_tasks), dtype=np.float32)
    proba[np.arange(n), y] += rng.random(n, dtype=np.float32) * n_tasks / 4
    proba /= proba.sum(axis=1, keepdims=True)
    task_comm = rng.integers(0, max(1, n_tasks // 4), n_tasks)
    true_us = rng.lognormal(3.0, 1.0, n)
    return {
        "y_true": y,
        "proba": proba,
        "task_comm": task_comm,
        "true_comm": task_comm[y],
        "true_us": true_us,
        "pred_us": true_us * rng.lognormal(0.0, 0.5, n),
        "sigma_us": float(true_us.std()),
    }


def throughput_benchmark(
    n_scoring: int = 1_000_000,
    n_bootstrap: int = 100_000,
    n_tasks: int = 100,
    n_resamples: int = 1000,
    n_ceiling: int = 0,
    seed: int = 0,
) -> dict[str, float | int]:
    """Time (wall and CPU seconds) the harness's scoring path on synthetic predictions.

    * `scoring_s`: validation + every metric on `n_scoring` positions with `n_tasks` tasks
      (target: under 2 s for 1M);
    * `bootstrap_s`: 95% intervals of every metric on `n_bootstrap` positions with
      `n_resamples` moving-block resamples (target: under 5 s for 100k x 1,000);
    * `ceiling_s` (when `n_ceiling` > 0): the predictability ceiling of a synthetic task sequence
      of that length (a cycle over `n_tasks` symbols, 30% of it replaced by random symbols).

    Building the synthetic inputs is not timed.
    """
    import time

    def timed(fn):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - wall, time.process_time() - cpu

    result: dict[str, float | int] = {"n_tasks": n_tasks}
    inputs = synthetic_predictions(n_scoring, n_tasks, seed)
    _, wall, cpu = timed(lambda: contributions(**inputs).values())
    result.update(scoring_n=n_scoring, scoring_s=wall, scoring_cpu_s=cpu)
    del inputs
    inputs = synthetic_predictions(n_bootstrap, n_tasks, seed + 1)
    contrib = contributions(**inputs)
    _, wall, cpu = timed(lambda: intervals(contrib, n_resamples=n_resamples, seed=seed))
    result.update(
        bootstrap_n=n_bootstrap,
        bootstrap_resamples=n_resamples,
        bootstrap_metrics=len(contrib.names),
        bootstrap_s=wall,
        bootstrap_cpu_s=cpu,
    )
    if n_ceiling > 0:
        rng = np.random.default_rng(seed + 2)
        cycle = np.arange(n_ceiling) % n_tasks  # a fixed cycle, 30% replaced by random tasks
        seq = np.where(rng.random(n_ceiling) < 0.7, cycle, rng.integers(0, n_tasks, n_ceiling))
        _, wall, cpu = timed(lambda: ceiling(seq))
        result.update(ceiling_n=n_ceiling, ceiling_s=wall, ceiling_cpu_s=cpu)
    return result
