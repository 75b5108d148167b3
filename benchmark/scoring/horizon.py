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
    task: np.ndarray
    delta_us: np.ndarray | None


@dataclass(frozen=True)
class HorizonScores:
    """Per-step metrics (arrays over h = 1..H), their intervals (float[H, 2]: low, high) and
    the per-origin correct prefix. The delta metrics are None for a forecast without deltas."""

    n_origins: int
    acc: np.ndarray
    acc_ci: np.ndarray
    prefix: np.ndarray  # int64[n]: leading correct steps per origin
    prefix_mean: float
    prefix_ci: tuple[float, float]
    mse_z: np.ndarray | None = None
    mse_z_ci: np.ndarray | None = None
    total_err: np.ndarray | None = None
    total_err_ci: np.ndarray | None = None

    @property
    def horizon(self) -> int:
        return len(self.acc)

    def table(self, steps: tuple[int, ...] | None = None) -> dict[str, float]:
        """Flat {"acc@h": ..., "mse_z@h": ..., "total_err@h": ..., "prefix": ...} at `steps`
        (1-based; all of 1..H by default)."""
        out: dict[str, float] = {}
        for h in steps or range(1, self.horizon + 1):
            if not 1 <= h <= self.horizon:
                raise ValueError(f"step {h} outside 1..{self.horizon}")
            out[f"acc@{h}"] = float(self.acc[h - 1])
            if self.mse_z is not None and self.total_err is not None:
                out[f"mse_z@{h}"] = float(self.mse_z[h - 1])
                out[f"total_err@{h}"] = float(self.total_err[h - 1])
        out["prefix"] = self.prefix_mean
        return out


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
    pred_task: np.ndarray,
    true_task: np.ndarray,
    pred_delta: np.ndarray | None = None,
    true_delta: np.ndarray | None = None,
    sigma_us: float | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
    block: int = 1,
) -> HorizonScores:
    """The metrics of the module docstring from [n, H] arrays (deltas optional, with sigma)."""
    pred_task, true_task = np.asarray(pred_task), np.asarray(true_task)
    if pred_task.ndim != 2 or pred_task.shape != true_task.shape or pred_task.shape[0] < 1:
        raise ValueError(f"pred_task {pred_task.shape} and true_task {true_task.shape} differ")
    n, h = pred_task.shape
    correct = (pred_task == true_task).astype(np.float64)
    prefix = correct_prefix(pred_task, true_task)
    parts = [correct, prefix[:, None].astype(np.float64)]
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
    out = {"acc": point[:h], "acc_ci": ci[:h]}
    if pred_delta is not None:
        out |= {
            "mse_z": point[h + 1 : 2 * h + 1],
            "mse_z_ci": ci[h + 1 : 2 * h + 1],
            "total_err": point[2 * h + 1 :],
            "total_err_ci": ci[2 * h + 1 :],
        }
    return HorizonScores(
        n_origins=n,
        prefix=prefix,
        prefix_mean=float(point[h]),
        prefix_ci=(float(low[h]), float(high[h])),
        **out,
    )


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
        true_task,
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
