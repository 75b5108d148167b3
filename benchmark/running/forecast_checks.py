"""Conformance checks of `Predictor.forecast` (issue 14), for any fitted model.

* `check_forecast_causal`: scrambling the rows at and after the first origin changes nothing
  in the forecast from that origin (a forecast reads rows `< origin` only);
* `check_forecast_matches_predict`: the forecast at horizon 1 is `predict` at the same
  positions (top-1 task unless predict has it nearly tied; delta to the online = batch
  tolerances, since a free run reads the online path), so the horizon track's step 1 is the
  one-step board's prediction.

Each raises AssertionError with a one-line reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.leaks import ONLINE_DELTA_ATOL, ONLINE_DELTA_RTOL, ONLINE_PROBA_ATOL
from benchmark.running.protocol import Predictor

DELTA_RTOL = 1e-9


def scrambled_after(runs: Runs, origin: int, seed: int = 0) -> Runs:
    """A copy of `runs` whose rows >= `origin` have their tasks and run lengths permuted
    (independently, by a seeded permutation): a future a causal forecast cannot notice."""
    cut = origin - runs.start
    rng = np.random.default_rng(seed)
    task, delta = np.array(runs.task), np.array(runs.delta_us)
    task[cut:] = rng.permutation(task[cut:])
    delta[cut:] = rng.permutation(delta[cut:])
    return replace(runs, task=task, delta_us=delta)


def check_forecast_causal(
    model: Predictor, runs: Runs, origins: np.ndarray, horizon: int = 8, seed: int = 0
) -> None:
    """The forecast from `origins[0]` is the same on `runs` and on `scrambled_after(runs,
    origins[0])` (every origin is forecast in both, so a model that reads ahead fails)."""
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) == 0:
        raise ValueError("check_forecast_causal needs at least one origin")
    first = int(origins[0])
    future = scrambled_after(runs, first, seed)
    cut = first - runs.start
    if np.array_equal(runs.task[cut:], future.task[cut:]) and np.array_equal(
        runs.delta_us[cut:], future.delta_us[cut:]
    ):
        raise ValueError(f"scrambling the rows >= {first} changed nothing: the check is void")
    plain = model.forecast(runs, origins, horizon)
    mixed = model.forecast(future, origins, horizon)
    why = f"{type(model).__name__}.forecast is not causal: scrambling rows >= origin {first}"
    if (plain.task is None) != (mixed.task is None):
        raise AssertionError(f"{why} changed whether it forecasts tasks")
    if plain.task is not None and not np.array_equal(plain.task[0], mixed.task[0]):
        raise AssertionError(f"{why} changed the tasks forecast from it")
    if (plain.delta_us is None) != (mixed.delta_us is None):
        raise AssertionError(f"{why} changed whether it forecasts deltas")
    if plain.delta_us is not None and not np.allclose(
        plain.delta_us[0], mixed.delta_us[0], rtol=DELTA_RTOL, atol=0.0
    ):
        raise AssertionError(f"{why} changed the deltas forecast from it")


def check_forecast_matches_predict(model: Predictor, runs: Runs, origins: np.ndarray) -> None:
    """`forecast(runs, origins, 1)` equals `predict(runs, origins)`: the argmax task (unless
    predict's top two are within `ONLINE_PROBA_ATOL`), and the delta to the online = batch
    tolerances (both None for a model without a delta head)."""
    name = type(model).__name__
    fc = model.forecast(runs, origins, 1)
    pred = model.predict(runs, np.asarray(origins, dtype=np.int64))
    if (fc.task is None) != (pred.task_proba is None):
        raise AssertionError(
            f"{name}: forecast task is {'None' if fc.task is None else 'set'} but predict's "
            f"task_proba is {'None' if pred.task_proba is None else 'set'}"
        )
    top = pred.task_proba.argmax(axis=1) if pred.task_proba is not None else None
    bad = np.zeros(0, dtype=np.int64)
    if top is not None and fc.task is not None:
        chosen = np.asarray(fc.task)[:, 0]
        rows = np.arange(len(top))
        # a different argmax only counts where predict does not have the two nearly tied
        # (the free run reads the online path, equal to predict to ONLINE_PROBA_ATOL)
        gap = pred.task_proba[rows, top] - pred.task_proba[rows, chosen]
        bad = np.flatnonzero((chosen != top) & (gap > ONLINE_PROBA_ATOL))
    if bad.size and fc.task is not None and top is not None:
        i = int(bad[0])
        raise AssertionError(
            f"{name}.forecast at horizon 1 predicts task {fc.task[i, 0]} at {origins[i]} where "
            f"predict's argmax is {top[i]} ({bad.size} of {len(top)} origins differ)"
        )
    if (fc.delta_us is None) != (pred.delta_us is None):
        raise AssertionError(
            f"{name}: forecast delta_us is {'None' if fc.delta_us is None else 'set'} but "
            f"predict's is {'None' if pred.delta_us is None else 'set'}"
        )
    if fc.delta_us is not None and pred.delta_us is not None:
        got, want = np.asarray(fc.delta_us)[:, 0], np.asarray(pred.delta_us)
        close = np.isclose(got, want, rtol=ONLINE_DELTA_RTOL, atol=ONLINE_DELTA_ATOL)
        off = np.flatnonzero(~close)
        if off.size:
            i = int(off[0])
            raise AssertionError(
                f"{name}.forecast at horizon 1 predicts delta {got[i]!r} us at {origins[i]} "
                f"where predict gives {want[i]!r} ({off.size} of {len(got)} origins differ)"
            )


# -- as conformance checks (`kernel-oracle check`) ----------------------------------------------
CHECK_ORIGINS = 20  # origins per check: each is a fork of the stream and `horizon` steps
CHECK_HORIZON = 8


def _origins(ctx: Any) -> np.ndarray:
    """`CHECK_ORIGINS` evenly spaced positions of the checks' window, each with history."""
    window = np.asarray(ctx.window, dtype=np.int64)
    window = window[window > ctx.runs.start]
    pick = np.linspace(0, len(window) - 1, min(CHECK_ORIGINS, len(window))).astype(np.int64)
    return np.unique(window[pick])


def check_forecast_is_causal(ctx: Any) -> None:
    """`forecast` reads rows before each origin only: scrambling the tasks and run lengths at
    and after the first origin changes nothing forecast from it."""
    check_forecast_causal(ctx.fitted(), ctx.runs, _origins(ctx), CHECK_HORIZON)


def check_forecast_step_one_is_predict(ctx: Any) -> None:
    """`forecast(runs, origins, 1)` is `predict` at those positions (argmax task; delta to
    the online = batch tolerances): the horizon track's first step is the one-step board's
    prediction."""
    check_forecast_matches_predict(ctx.fitted(), ctx.runs, _origins(ctx))
