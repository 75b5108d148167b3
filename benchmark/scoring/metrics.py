"""The metrics of README §5; each declares its target and whether higher is better.

Task metrics take, for `n` scored positions and a vocabulary of `V` tasks:

* `y_true`     int[n]        the true task's vocabulary id,
* `proba`      float[n, V]   predicted task distribution, rows sum to 1, vocabulary order,
* `task_comm`  int[V]        comm id of each vocabulary task (`Runs.task_comm`),
* `true_comm`  int[n]        the true row's comm id (`Runs.comm`).

Delta metrics take `true_us`, `pred_us` (float[n], microseconds) and the trace's `sigma_us`.

Every metric except `macro_f1` is the mean of a per-position contribution, and `macro_f1` is a
function of per-class counts (true positives, predicted and true totals) that are themselves sums
of per-position indicators. `Contributions` keeps exactly those per-position ingredients, so a
metric can be recomputed cheaply under any reweighting of the positions: that is how
`benchmark.scoring.bootstrap` draws its intervals without re-scoring.

Conventions (also in the README):

* the top-1 prediction is the argmax of `proba` (lowest vocabulary id among exact ties) unless
  an explicit `pred` is given (a submission's `task` column);
* `acc_comm`: the top-1 task's comm (`task_comm`) equals the true row's comm, or the top-1 task
  is the true task: a correctly predicted `<other>` (whose comm is unknown) counts, so
  `acc_comm >= acc` always;
* `top3`: the true task counts as found when it is the top-1 prediction, or when at most 3 tasks
  have a probability >= its own (ties with tasks ranked outside the top-1 count against the
  prediction; one-hot predictions therefore get top3 == acc);
* `macro_f1`: F1 averaged over the tasks present in the truth or in the top-1 predictions
  (scikit-learn's `f1_score(average="macro", labels=<that union>)`); bootstrap resamples keep
  that label set of the full test set (`Contributions.labels`);
* `log_loss`: mean of `-ln(max(p_true, 1e-7))`;
* `msle`: negative predicted deltas are clipped to 0 before `ln(1 + x)` (only for this metric).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

LOG_LOSS_EPS = 1e-7
PROBA_TOL = 1e-3
TOP1_TOL = 1e-6  # an explicit top-1 prediction may be this far below the row's maximum
# The largest run length a prediction may state (11.6 days): beyond it squared errors overflow.
MAX_DELTA_US = 1e12
TOP_K = 3
_CHUNK_ROWS = 8192

Target = Literal["task", "delta"]


@dataclass(frozen=True)
class Metric:
    """One metric and its facts (README §5): target, direction, meaning, how it is printed and
    whether it is its target's main metric (the one that ranks the board and that tuning
    optimises). Everything else derives these facts from `METRICS`."""

    name: str
    target: Target
    higher_is_better: bool
    description: str
    per_position: bool = True  # False: computed from per-class counts (macro_f1)
    digits: str = ".4f"  # format spec of a printed value
    main: bool = False  # the main metric of its target (exactly one per target)

    @property
    def direction(self) -> str:
        """`"higher"` or `"lower"` (is better)."""
        return "higher" if self.higher_is_better else "lower"

    def better(self, a: float, b: float) -> bool:
        """Whether score `a` is strictly better than score `b`."""
        return a > b if self.higher_is_better else a < b

    def sort_key(self, value: float) -> float:
        """A key that sorts the best value first (ascending sort); NaN last."""
        if value is None or math.isnan(value):
            return math.inf
        return -value if self.higher_is_better else value


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "acc", "task", True, "top-1 accuracy at the thread level (task = comm:pid)", main=True
        ),
        Metric(
            "acc_comm",
            "task",
            True,
            "top-1 accuracy after mapping the predicted task to its comm (the KernelOracle "
            "paper's level)",
        ),
        Metric("top3", "task", True, "share of positions whose true task is in the top 3"),
        Metric(
            "macro_f1",
            "task",
            True,
            "F1 of the top-1 prediction averaged over tasks present in truth or prediction",
            per_position=False,
        ),
        Metric(
            "log_loss",
            "task",
            False,
            "mean negative natural log of the true task's probability (clipped at 1e-7)",
        ),
        Metric(
            "mse_z",
            "delta",
            False,
            "mean squared error of delta_us scaled by the trace's sigma_us (the paper's MSE)",
            main=True,
        ),
        Metric(
            "mae_us", "delta", False, "mean absolute error of delta_us, microseconds", digits=".2f"
        ),
        Metric(
            "msle",
            "delta",
            False,
            "mean squared error of ln(1 + delta_us) (negative predictions clipped to 0)",
        ),
    )
}
TARGETS: tuple[Target, ...] = ("task", "delta")


def target_metrics(target: str) -> tuple[str, ...]:
    """The metrics of `target`, in `METRICS` order (the main one first)."""
    return tuple(n for n, m in METRICS.items() if m.target == target)


def main_metric(target: str) -> str:
    """The main metric of `target`: `acc` for task, `mse_z` for delta."""
    (name,) = (n for n, m in METRICS.items() if m.target == target and m.main)
    return name


TASK_METRICS: tuple[str, ...] = target_metrics("task")
DELTA_METRICS: tuple[str, ...] = target_metrics("delta")


class MetricInputError(ValueError):
    """Predictions or truth that cannot be scored (shape, range, NaN, rows not summing to 1)."""


# --------------------------------------------------------------------------------------------
# Per-position ingredients
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Contributions:
    """Per-position ingredients of the metrics of one model on `n` positions.

    `columns[name]` is the per-position contribution (float64[n]) of each mean-type metric;
    `pred`/`true` (int[n], with `n_classes`) are kept for `macro_f1`.
    """

    n: int
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)
    pred: np.ndarray | None = None
    true: np.ndarray | None = None
    n_classes: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        """The metrics these contributions give, in `METRICS` order."""
        have = set(self.columns)
        if self.pred is not None:
            have.add("macro_f1")
        return tuple(n for n in METRICS if n in have)

    def values(self) -> dict[str, float]:
        """Every available metric on all positions."""
        out: dict[str, float] = {}
        for name in self.names:
            if name == "macro_f1":
                out[name] = float(macro_f1_from_counts(*self.class_counts()))
            else:
                out[name] = float(np.mean(self.columns[name])) if self.n else math.nan
        return out

    def class_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-class (true positives, predicted count, true count), each int64[V]."""
        if self.pred is None or self.true is None:
            raise ValueError("no task predictions in these contributions")
        v = self.n_classes
        hit = self.pred == self.true
        tp = np.bincount(self.true[hit], minlength=v)
        return tp, np.bincount(self.pred, minlength=v), np.bincount(self.true, minlength=v)

    @cached_property
    def labels(self) -> np.ndarray:
        """bool[V]: the classes macro_f1 averages over (present in truth or top-1 prediction).

        Fixed by all positions: a reweighting (a bootstrap resample) keeps this label set, and a
        class it happens to miss scores F1 = 0, as in scikit-learn's `f1_score(labels=...)`.
        Without that, resamples that drop rare classes (mostly F1 = 0 ones) would inflate the
        resampled macro F1 and skew its interval.
        """
        _, n_pred, n_true = self.class_counts()
        return (n_pred + n_true) > 0

    def merge(self, other: Contributions) -> Contributions:
        """Task and delta contributions of one model on the same positions, together."""
        if other.n != self.n:
            raise ValueError(f"cannot merge contributions on {self.n} and {other.n} positions")
        pred, true, v = self.pred, self.true, self.n_classes
        if other.pred is not None:
            if pred is not None:
                raise ValueError("both contributions carry task predictions")
            pred, true, v = other.pred, other.true, other.n_classes
        overlap = set(self.columns) & set(other.columns)
        if overlap:
            raise ValueError(f"both contributions carry {sorted(overlap)}")
        return Contributions(self.n, {**self.columns, **other.columns}, pred, true, v)


def macro_f1_from_counts(tp, n_pred, n_true, labels=None) -> np.ndarray:
    """Macro F1 from per-class counts (class axis first; any trailing axes are kept).

    F1_c = 2 TP_c / (n_pred_c + n_true_c), averaged over `labels` (bool[V]; default: the
    classes with n_pred_c + n_true_c > 0); a label with no counts scores 0.
    """
    tp = np.asarray(tp, dtype=np.float64)
    denom = np.asarray(n_pred, dtype=np.float64) + np.asarray(n_true, dtype=np.float64)
    present = denom > 0
    f1 = np.divide(2.0 * tp, denom, out=np.zeros_like(denom), where=present)
    if labels is not None:
        mask = np.asarray(labels, dtype=bool).reshape((-1,) + (1,) * (f1.ndim - 1))
        f1 = np.where(mask, f1, 0.0)
        k = np.broadcast_to(mask, f1.shape).sum(axis=0)
        return np.divide(f1.sum(axis=0), k, out=np.full(np.shape(k), np.nan), where=k > 0)
    k = present.sum(axis=0)
    return np.divide(f1.sum(axis=0), k, out=np.full(np.shape(k), np.nan), where=k > 0)


def _as_int_vector(x, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise MetricInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise MetricInputError(f"{name} has {len(arr)} entries, expected {n}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise MetricInputError(f"{name} must hold integer ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def task_contributions(
    y_true,
    proba,
    task_comm=None,
    true_comm=None,
    *,
    pred=None,
    chunk_rows: int = _CHUNK_ROWS,
) -> Contributions:
    """Validate task predictions and compute their per-position contributions.

    `pred` (int[n]) overrides the top-1 prediction (it must be one of the row's most probable
    tasks, within `TOP1_TOL`; a submission's `task` column). Without `task_comm` and
    `true_comm`, `acc_comm` is left out.
    """
    proba = np.asarray(proba)
    if proba.ndim != 2:
        raise MetricInputError(f"proba must be float[n, V], got shape {proba.shape}")
    if not np.issubdtype(proba.dtype, np.floating):
        raise MetricInputError(f"proba must be floating point, got dtype {proba.dtype}")
    n, v = proba.shape
    if v < 1:
        raise MetricInputError("proba has no columns (empty vocabulary)")
    y = _as_int_vector(y_true, "y_true", n)
    if n and (y.min() < 0 or y.max() >= v):
        raise MetricInputError(f"y_true holds ids outside the vocabulary [0, {v})")
    with_comm = task_comm is not None or true_comm is not None
    if with_comm:
        if task_comm is None or true_comm is None:
            raise MetricInputError("acc_comm needs both task_comm and true_comm")
        tc = _as_int_vector(task_comm, "task_comm", v)
        cc = _as_int_vector(true_comm, "true_comm", n)
    if pred is not None:
        pred = _as_int_vector(pred, "pred", n)
        if n and (pred.min() < 0 or pred.max() >= v):
            raise MetricInputError(f"pred holds ids outside the vocabulary [0, {v})")

    top1 = np.empty(n, dtype=np.int64)
    topk = np.empty(n, dtype=bool)
    p_true = np.empty(n, dtype=np.float64)
    for a in range(0, n, chunk_rows):
        b = min(n, a + chunk_rows)
        block = proba[a:b]
        lo, hi = block.min(), block.max()
        if not (lo >= 0.0 and hi <= 1.0 + PROBA_TOL):  # also catches NaN
            bad = ~((block >= 0.0) & (block <= 1.0 + PROBA_TOL)).all(axis=1)
            raise MetricInputError(
                f"proba row {a + _first_bad(bad)}: probabilities must be finite and in [0, 1]"
            )
        sums = block.sum(axis=1)
        off = np.abs(sums - 1.0) > PROBA_TOL
        if off.any():
            i = _first_bad(off)
            raise MetricInputError(
                f"proba row {a + i}: probabilities sum to {float(sums[i]):.6g}, "
                f"not 1 (tolerance {PROBA_TOL:g})"
            )
        rows = np.arange(b - a)
        yb = y[a:b]
        pt = block[rows, yb]
        if pred is None:
            pb = block.argmax(axis=1)
        else:
            pb = pred[a:b]
            below = block[rows, pb] < block.max(axis=1) - TOP1_TOL
            if below.any():
                raise MetricInputError(
                    f"pred row {a + _first_bad(below)}: the predicted task is not one of the "
                    "row's most probable tasks"
                )
        top1[a:b] = pb
        p_true[a:b] = pt
        at_least = np.count_nonzero(block >= pt[:, None], axis=1)
        topk[a:b] = (pb == yb) | (at_least <= TOP_K)

    columns = dict(_top1_columns(y, top1, tc if with_comm else None, cc if with_comm else None))
    columns["top3"] = topk.astype(np.float64)
    columns["log_loss"] = -np.log(np.clip(p_true, LOG_LOSS_EPS, 1.0))
    return Contributions(n, columns, pred=top1, true=y, n_classes=v)


def _top1_columns(y, top1, task_comm, true_comm) -> dict[str, np.ndarray]:
    """acc (and acc_comm when the comm ids are given) of top-1 predictions, per position."""
    hit = top1 == y
    columns = {"acc": hit.astype(np.float64)}
    if task_comm is not None:
        columns["acc_comm"] = (hit | (task_comm[top1] == true_comm)).astype(np.float64)
    return columns


def top1_contributions(y_true, pred, n_classes: int) -> Contributions:
    """acc and macro_f1 of top-1 predictions alone (stored argmax task ids, without their
    probabilities): what a board comparison needs from a results store."""
    y = _as_int_vector(y_true, "y_true")
    p = _as_int_vector(pred, "pred", len(y))
    for name, ids in (("y_true", y), ("pred", p)):
        if len(ids) and (ids.min() < 0 or ids.max() >= n_classes):
            raise MetricInputError(f"{name} holds ids outside the vocabulary [0, {n_classes})")
    return Contributions(
        len(y), _top1_columns(y, p, None, None), pred=p, true=y, n_classes=n_classes
    )


def delta_contributions(true_us, pred_us, sigma_us: float) -> Contributions:
    """Validate delta predictions and compute their per-position contributions."""
    t = np.asarray(true_us, dtype=np.float64)
    p = np.asarray(pred_us, dtype=np.float64)
    if t.ndim != 1 or p.shape != t.shape:
        raise MetricInputError(
            f"true_us and pred_us must be float[n] of one length, got {t.shape} and {p.shape}"
        )
    sigma = float(sigma_us)
    if not (math.isfinite(sigma) and sigma > 0):
        raise MetricInputError(f"sigma_us must be finite and > 0, got {sigma_us!r}")
    bad = ~np.isfinite(p)
    if bad.any():
        raise MetricInputError(f"pred_us row {_first_bad(bad)}: not a finite number")
    bad = ~(t >= 0) | ~np.isfinite(t)
    if bad.any():
        raise MetricInputError(f"true_us row {_first_bad(bad)}: not a finite number >= 0")
    err = p - t
    columns = {
        "mse_z": np.square(err / sigma),
        "mae_us": np.abs(err),
        "msle": np.square(np.log1p(np.maximum(p, 0.0)) - np.log1p(t)),
    }
    return Contributions(len(t), columns)


def contributions(
    *,
    y_true=None,
    proba=None,
    task_comm=None,
    true_comm=None,
    pred=None,
    true_us=None,
    pred_us=None,
    sigma_us: float | None = None,
) -> Contributions:
    """Task and/or delta contributions of one model (whichever inputs are given)."""
    parts = []
    if proba is not None or y_true is not None:
        if proba is None or y_true is None:
            raise MetricInputError("task metrics need both y_true and proba")
        parts.append(task_contributions(y_true, proba, task_comm, true_comm, pred=pred))
    if pred_us is not None or true_us is not None:
        if pred_us is None or true_us is None or sigma_us is None:
            raise MetricInputError("delta metrics need true_us, pred_us and sigma_us")
        parts.append(delta_contributions(true_us, pred_us, sigma_us))
    if not parts:
        raise MetricInputError("nothing to score: give task and/or delta predictions")
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part)
    return out


# --------------------------------------------------------------------------------------------
# Point scores
# --------------------------------------------------------------------------------------------
def score_task(y_true, proba, task_comm=None, true_comm=None, *, pred=None) -> dict[str, float]:
    """acc, acc_comm (when the comm ids are given), top3, macro_f1, log_loss."""
    return task_contributions(y_true, proba, task_comm, true_comm, pred=pred).values()


def score_delta(true_us, pred_us, sigma_us: float) -> dict[str, float]:
    """mse_z, mae_us, msle."""
    return delta_contributions(true_us, pred_us, sigma_us).values()


def score(**inputs) -> dict[str, float]:
    """Every metric the inputs allow; keywords as in `contributions`."""
    return contributions(**inputs).values()
