"""Conformance checks of `Predictor.forecast` (issue 14), for any fitted model.

* `check_forecast_causal`: scrambling the rows at and after the first origin changes nothing
  in the forecast from that origin (a forecast reads rows `< origin` only);
* `check_forecast_matches_predict`: the forecast at horizon 1 is `predict` at the same
  positions (top-1 task unless predict has it nearly tied; delta to the online = batch
  tolerances, since a free run reads the online path), so the horizon track's step 1 is the
  one-step board's prediction;
* `check_fork_independent`: `OnlinePredictor.fork()` (a free run's branch at each origin)
  starts in the stream's state and neither copy's updates reach the other.

Each raises AssertionError with a one-line reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.leaks import ONLINE_DELTA_ATOL, ONLINE_DELTA_RTOL, ONLINE_PROBA_ATOL
from benchmark.running.protocol import OnlinePredictor, Predictor, fork_stream, row_at

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


def _answer(stream: OnlinePredictor) -> tuple[Any, Any]:
    """A copy of `predict_next()` (a stream may hand out an array it reuses)."""
    proba, delta = stream.predict_next()
    return (None if proba is None else np.array(proba, copy=True)), delta


def _same(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    """Equal answers, NaN equal to NaN (an answer's validity is output_shapes' business)."""
    if (a[0] is None) != (b[0] is None) or (a[1] is None) != (b[1] is None):
        return False
    return (a[0] is None or np.array_equal(a[0], b[0], equal_nan=True)) and (
        a[1] is None or np.array_equal(a[1], b[1], equal_nan=True)
    )


def check_fork_independent(model: Predictor, runs: Runs, at: int, steps: int = 8) -> None:
    """A fork of `model.online(rows < at)` answers as the stream does; then the stream takes
    the true rows from `at` and the fork other rows (each task moved to the next id), and each
    must answer as a fresh stream fed the same rows (same path, so exactly)."""
    name = type(model).__name__
    history = runs.rows(runs.start, at)
    shared = {id(model): model}
    stream = model.online(history)
    fork = fork_stream(stream, shared)
    if not _same(_answer(fork), _answer(stream)):
        raise AssertionError(f"{name}: online().fork() does not answer as the stream it copies")
    true_rows = [row_at(runs, i) for i in range(at, at + steps)]
    other_rows = [r._replace(task=(r.task + 1) % runs.n_tasks) for r in true_rows]
    for fed, rows, what in ((stream, true_rows, "stream"), (fork, other_rows, "fork")):
        fresh = model.online(history)
        for k, row in enumerate(rows):
            fed.update(row)
            fresh.update(row)
            if not _same(_answer(fed), _answer(fresh)):
                raise AssertionError(
                    f"{name}: after online().fork(), the {what}'s answer at step {k + 1} is not "
                    "that of a fresh stream fed the same rows: the fork shares state (override "
                    "OnlinePredictor.fork to copy every array an update writes)"
                )
        if what == "stream":  # the fork has taken no row yet: it must still answer as at `at`
            again = model.online(history)
            if not _same(_answer(fork), _answer(again)):
                raise AssertionError(
                    f"{name}: updating the stream changed its fork's answer: the fork shares "
                    "state (override OnlinePredictor.fork to copy every array an update writes)"
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


def check_fork_is_independent(ctx: Any) -> None:
    """`online().fork()` is an independent copy: it starts in the stream's state and neither
    copy's updates reach the other (a free run forks the stream at every origin)."""
    window = np.asarray(ctx.window, dtype=np.int64)
    check_fork_independent(ctx.fitted(), ctx.runs, int(window[len(window) // 2]))
