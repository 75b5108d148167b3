"""Horizon-track metrics (issue 14): how well a forecast of the next H runs holds up, per step.

From a forecast (per origin, the next H predicted tasks and run lengths) and the true rows
`origin, ..., origin + H - 1`, per step h = 1..H:

* `acc@h`: the share of origins whose h-th predicted task is right;
* `mse_z@h`: mean of ((pred - true) / sigma_us)^2 of the h-th run length (the paper's MSE);
* `total_err@h`: mean over origins of |sum of the first h predicted run lengths - the true
  sum| / the true sum: the error of the time a scheduler planning the next h runs would use;

and per origin the correct prefix, the number of leading steps with the right task (0..H),
with its mean `prefix` (the expected number of switches a model is right about before its
first error, capped at H).

Intervals: a percentile bootstrap over ORIGINS, 1,000 resamples seeded like
`benchmark.scoring.bootstrap` (`SEED`), computed as one weight matrix (how often each origin is
drawn) times the per-origin contributions. The default is a plain bootstrap (`block=1`): it
treats origins as independent, which holds when they are far apart compared with the
dependence of the trace. Caution: 2,000 origins in a test split of 20k-46k rows are 10-23 rows
apart, less than the longest horizon (64), so the windows of neighbouring origins overlap and
the plain intervals of long horizons are too narrow; `block=L` resamples runs of L consecutive
origins instead (the moving-block bootstrap of `benchmark.scoring.bootstrap`), e.g.
L = ceil(H / spacing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.scoring.bootstrap import LEVEL, N_RESAMPLES, SEED, coverage, resample_starts


class ForecastLike(Protocol):
    """What is scored: `benchmark.running.forecast.Forecast` (scoring may not import running)."""

    origins: np.ndarray
    horizon: int
    task: np.ndarray | None
    delta_us: np.ndarray | None


@dataclass(frozen=True)
class HorizonScores:
    """Per-step metrics (arrays over h = 1..H), their intervals (float[H, 2]: low, high) and
    the per-origin correct prefix. The task metrics are None for a forecast without tasks,
    the delta metrics for one without deltas."""

    n_origins: int
    horizon: int
    acc: np.ndarray | None = None
    acc_ci: np.ndarray | None = None
    prefix: np.ndarray | None = None  # int64[n]: leading correct steps per origin
    prefix_mean: float | None = None
    prefix_ci: tuple[float, float] | None = None
    mse_z: np.ndarray | None = None
    mse_z_ci: np.ndarray | None = None
    total_err: np.ndarray | None = None
    total_err_ci: np.ndarray | None = None

    def table(self, steps: tuple[int, ...] | None = None) -> dict[str, float]:
        """Flat {"acc@h": ..., "mse_z@h": ..., "total_err@h": ..., "prefix": ...} at `steps`
        (1-based; all of 1..H by default), the metrics the forecast has."""
        return {name: entry["value"] for name, entry in self.entries(steps).items()}

    def entries(self, steps: tuple[int, ...] | None = None) -> dict[str, dict[str, float]]:
        """{"acc@h": {"value", "low", "high"}, ...}: `table` with the 95% intervals (the shape
        of a result file's `metrics` entries)."""
        out: dict[str, dict[str, float]] = {}
        per_step = (("acc", self.acc, self.acc_ci), ("mse_z", self.mse_z, self.mse_z_ci))
        per_step += (("total_err", self.total_err, self.total_err_ci),)
        for h in steps or range(1, self.horizon + 1):
            if not 1 <= h <= self.horizon:
                raise ValueError(f"step {h} outside 1..{self.horizon}")
            for name, point, ci in per_step:
                if point is not None and ci is not None:
                    out[f"{name}@{h}"] = _entry(point[h - 1], ci[h - 1])
        if self.prefix_mean is not None and self.prefix_ci is not None:
            out["prefix"] = _entry(self.prefix_mean, self.prefix_ci)
        return out


def _entry(value: float, ci: np.ndarray | tuple[float, float]) -> dict[str, float]:
    return {"value": float(value), "low": float(ci[0]), "high": float(ci[1])}


def horizon_truth(runs: Runs, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The true tasks (int64[n, H]) and run lengths (float64[n, H]) of rows origin + h."""
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) and (
        origins.min() < runs.start or origins.max() + horizon > runs.start + len(runs)
    ):
        raise ValueError(
            f"rows [origin, origin + {horizon}) must lie in [{runs.start}, "
            f"{runs.start + len(runs)}) to be scored"
        )
    at = origins[:, None] - runs.start + np.arange(horizon)
    return runs.task[at].astype(np.int64), runs.delta_us[at].astype(np.float64)


def correct_prefix(pred_task: np.ndarray, true_task: np.ndarray) -> np.ndarray:
    """int64[n]: the number of leading steps whose task is right (0..H)."""
    return np.cumprod(pred_task == true_task, axis=1).sum(axis=1).astype(np.int64)


def score_horizon(
    pred_task: np.ndarray | None,
    true_task: np.ndarray | None,
    pred_delta: np.ndarray | None = None,
    true_delta: np.ndarray | None = None,
    sigma_us: float | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
    block: int = 1,
) -> HorizonScores:
    """The metrics of the module docstring from [n, H] arrays (tasks or deltas optional, not
    both; deltas with sigma)."""
    if pred_task is None and pred_delta is None:
        raise ValueError("nothing to score: neither a task nor a delta forecast")
    parts: list[np.ndarray] = []
    if pred_task is not None:
        pred_task, true_task = np.asarray(pred_task), np.asarray(true_task)
        if pred_task.ndim != 2 or pred_task.shape != true_task.shape or pred_task.shape[0] < 1:
            raise ValueError(f"pred_task {pred_task.shape} and true_task {true_task.shape} differ")
        n, h = pred_task.shape
        prefix = correct_prefix(pred_task, true_task)
        parts += [(pred_task == true_task).astype(np.float64), prefix[:, None].astype(float)]
    else:
        n, h = np.shape(pred_delta)
        if n < 1:
            raise ValueError("nothing to score: no origins")
    if pred_delta is not None:
        if true_delta is None or sigma_us is None or not sigma_us > 0:
            raise ValueError("delta metrics need true_delta and sigma_us > 0")
        pred_delta, true_delta = np.asarray(pred_delta, float), np.asarray(true_delta, float)
        if pred_delta.shape != (n, h) or true_delta.shape != (n, h):
            raise ValueError(
                f"deltas must be [{n}, {h}], got {pred_delta.shape}, {true_delta.shape}"
            )
        true_sum = np.cumsum(true_delta, axis=1)
        if np.any(true_sum <= 0):
            raise ValueError("true run lengths must sum to > 0 for total_err")
        total = np.abs(np.cumsum(pred_delta, axis=1) - true_sum) / true_sum
        parts += [np.square((pred_delta - true_delta) / float(sigma_us)), total]
    contrib = np.concatenate(parts, axis=1)  # float[n, K]: per-origin contributions
    point = contrib.mean(axis=0)
    low, high = _bootstrap(contrib, n_resamples, seed, level, block)
    ci = np.stack([low, high], axis=1)
    out: dict[str, object] = {}
    at = 0
    if pred_task is not None:
        out |= {
            "acc": point[:h],
            "acc_ci": ci[:h],
            "prefix": prefix,
            "prefix_mean": float(point[h]),
            "prefix_ci": (float(low[h]), float(high[h])),
        }
        at = h + 1
    if pred_delta is not None:
        out |= {
            "mse_z": point[at : at + h],
            "mse_z_ci": ci[at : at + h],
            "total_err": point[at + h :],
            "total_err_ci": ci[at + h :],
        }
    return HorizonScores(n_origins=n, horizon=h, **out)  # type: ignore[arg-type]


def horizon_scores(
    forecast: ForecastLike,
    runs: Runs,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
    block: int = 1,
) -> HorizonScores:
    """Score `forecast` against the true rows of `runs` (the options: see `score_horizon`)."""
    true_task, true_delta = horizon_truth(runs, forecast.origins, forecast.horizon)
    has_delta = forecast.delta_us is not None
    return score_horizon(
        forecast.task,
        true_task if forecast.task is not None else None,
        forecast.delta_us,
        true_delta if has_delta else None,
        runs.sigma_us if has_delta else None,
        n_resamples=n_resamples,
        seed=seed,
        level=level,
        block=block,
    )


def _bootstrap(
    contrib: np.ndarray, n_resamples: int, seed: int, level: float, block: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval (low, high: float[K]) of each column's mean over resampled origins."""
    n = len(contrib)
    means = []
    for starts in resample_starts(n, n_resamples, block=block, seed=seed):
        weights = coverage(starts, n, block)  # float[m, n]: draws of each origin
        means.append((weights @ contrib) / weights.sum(axis=1, keepdims=True))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(np.concatenate(means), [alpha, 1.0 - alpha], axis=0)
    return low, high
