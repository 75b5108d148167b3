"""Checks of what a model returned, inside the worker (README §4, §6).

* `check_prediction`: shapes, and run lengths that are finite numbers in [0, `MAX_DELTA_US`];
  the probabilities themselves are checked by the metrics (finite, in [0, 1], rows sum to 1).
* `spot_verify`: positions from a fixed random order of the test positions are predicted again
  from the trace cut right before each one (rows `>= p` absent; a model that declares a finite
  `context` gets only that many rows before `p`, as its online path does); an answer that differs
  from the batch run beyond float tolerance is a leak. Positions are checked until
  `SPOT_POSITIONS` are done or the time budget (a share of the run's own load + fit + predict
  time, at least `SPOT_FLOOR_S` and `SPOT_MIN` positions) is spent, so verification stays a
  small part of an evaluation even for a network that re-reads the whole history on each call.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import DELTA, TASK, Prediction, Predictor
from benchmark.scoring.metrics import MAX_DELTA_US  # one limit for models and submissions

SPOT_POSITIONS = 200  # at most, per fit
SPOT_MIN = 5  # at least, whatever the budget
SPOT_SHARE = 0.08  # of the run's load + fit + predict seconds ...
SPOT_FLOOR_S = 0.1  # ... or this, whichever is more
SPOT_SEED = 20240601
SPOT_PROBA_ATOL = 1e-3
SPOT_DELTA_RTOL = 1e-3
SPOT_DELTA_ATOL = 1e-3


class LeakDetected(RuntimeError):
    """A prediction changed when the rows at and after its position were removed."""


class ModelOutputError(ValueError):
    """A model returned predictions that cannot be scored (shape, NaN, inf, out of range)."""


def check_prediction(pred: Any, n: int, n_tasks: int, targets: list[str]) -> None:
    """Raise `ModelOutputError` unless `pred` holds scorable predictions of `targets` for `n`
    positions over `n_tasks` tasks."""
    if not isinstance(pred, Prediction):
        raise ModelOutputError(f"predict returned {type(pred).__name__}, not a Prediction")
    if TASK in targets:
        proba = pred.task_proba
        if proba is None or np.shape(proba) != (n, n_tasks):
            got = None if proba is None else np.shape(proba)
            raise ModelOutputError(f"task_proba has shape {got}, expected ({n}, {n_tasks})")
    if DELTA in targets:
        delta = pred.delta_us
        if delta is None or np.shape(delta) != (n,):
            got = None if delta is None else np.shape(delta)
            raise ModelOutputError(f"delta_us has shape {got}, expected ({n},)")
        delta = np.asarray(delta, dtype=np.float64)
        bad = ~(np.isfinite(delta) & (delta >= 0) & (delta <= MAX_DELTA_US))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ModelOutputError(
                f"delta_us[{i}] = {float(delta[i]):g}: a run length must be a finite number in "
                f"[0, {MAX_DELTA_US:g}] microseconds"
            )


def spot_order(n: int, k: int = SPOT_POSITIONS, seed: int = SPOT_SEED) -> np.ndarray:
    """The first `k` indices of a fixed random order of `n` positions (a longer budget checks
    a superset of a shorter one)."""
    return np.random.default_rng(seed).permutation(n)[: min(k, n)]


def _differs(pred: Prediction, i: int, again: Prediction, targets: list[str]) -> str | None:
    """How prediction `i` of the batch run differs from the single re-prediction, if it does."""
    if TASK in targets:
        a, b = np.asarray(pred.task_proba[i]), np.asarray(again.task_proba[0])
        if not np.allclose(a, b, rtol=0.0, atol=SPOT_PROBA_ATOL):
            return f"its task probabilities differ by up to {float(np.max(np.abs(a - b))):.3g}"
    if DELTA in targets:
        a, b = float(pred.delta_us[i]), float(again.delta_us[0])
        if not np.isclose(a, b, rtol=SPOT_DELTA_RTOL, atol=SPOT_DELTA_ATOL):
            return f"its delta is {a:.6g} us with the whole trace and {b:.6g} us without"
    return None


def spot_budget(load_s: float, fit_s: float, predict_s: float) -> float:
    """Seconds spot verification may take in a run with these costs."""
    return max(SPOT_FLOOR_S, SPOT_SHARE * (load_s + fit_s + predict_s))


def spot_verify(
    model: Predictor,
    runs: Runs,
    positions: np.ndarray,
    pred: Prediction,
    targets: list[str],
    budget_s: float,
    k: int = SPOT_POSITIONS,
) -> int:
    """Re-predict positions (fixed random order) from `runs` cut before each; raises
    `LeakDetected` at the first that differs. Returns how many positions were checked."""
    context = model.context
    t0 = time.perf_counter()
    checked = 0
    for i in spot_order(len(positions), k):
        if checked >= SPOT_MIN and time.perf_counter() - t0 > budget_s:
            break
        p = int(positions[i])
        lo = runs.start if context is None else max(runs.start, p - int(context))
        again = model.predict(runs.rows(lo, p), np.array([p], dtype=np.int64))
        check_prediction(again, 1, runs.n_tasks, targets)
        how = _differs(pred, int(i), again, targets)
        if how:
            kept = "" if context is None else f" (the {context} rows it declares it needs kept)"
            raise LeakDetected(
                f"leak detected at position {p}: {how} when the rows from that position on "
                f"are absent{kept}"
            )
        checked += 1
    return checked
