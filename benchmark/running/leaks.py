"""The conformance suite's leak searches (README §4): a prediction at `p` reads rows `< p` only,
whatever the batch, the position, how far ahead a leak reads, or the path (batch or online).

They search rather than sample. Every position of the excerpt's second half is predicted once
in one big batch (`Context.batch`); causality then cuts the future at many places across it
(beginning, middle and end, the test start among them) and requires the same predictions at
every position up to each cut with the rows from the cut on scrambled, and again with them cut
off; a leak of row `p` itself shows only at `p = c`, so causality also re-predicts many
positions (a fixed random sample, both parities) from their history alone, as the harness's
spot verification does (`verify.spot_verify`); single-position calls and a shuffled batch must equal
the big batch; the online path must equal it over thousands of steps. A model that leaks only
on big batches, only at odd positions or only a thousand rows ahead differs somewhere, and the
failure says where.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from benchmark.data.dataset import COLUMNS, Runs
from benchmark.running.contract import (
    Context,
    Prediction,
    _describe,
    assert_same,
    predict_checked,
    sample,
)
from benchmark.running.protocol import row_at
from benchmark.running.verify import LeakDetected, ModelOutputError, spot_verify

N_CUTS = 15  # cuts spread over the compared half of the excerpt (odd and even), + test start
SPAN = 1500  # positions compared before each cut (a leak of any distance shows within them)
N_SINGLES = 48  # single-position calls on the whole excerpt, half at odd and half at even rows
N_HISTORY_ONLY = 96  # positions re-predicted from their history alone (verify.spot_verify)
ONLINE_STEPS = 3000
ONLINE_PROBA_ATOL, ONLINE_DELTA_RTOL, ONLINE_DELTA_ATOL = 1e-4, 1e-4, 1e-3


def scrambled_from(runs: Runs, cut: int, seed: int = 0) -> Runs:
    """`runs` with every column of rows >= `cut` replaced: other rows' values, shuffled, and
    random tasks and run lengths (so that a read of any of those rows changes the answer)."""
    rng = np.random.default_rng(seed)
    local = cut - runs.start
    fields = {}
    for name in COLUMNS:
        values = np.array(getattr(runs, name))
        values[local:] = rng.permutation(values)[: len(values) - local]
        fields[name] = values
    fields["task"][local:] = rng.integers(0, runs.n_tasks, len(runs) - local)
    fields["delta_us"][local:] = rng.exponential(1000.0, len(runs) - local)
    return replace(runs, **fields)


def cuts(ctx: Context) -> np.ndarray:
    """Where causality cuts the future: evenly over the compared positions, and the test start."""
    window = ctx.window
    even = np.linspace(window[0] + 1, window[-1], N_CUTS).round().astype(np.int64)
    test_start = ctx.runs.split.test[0]
    extra = [test_start] if window[0] < test_start <= window[-1] else []
    return np.unique(np.concatenate([even, extra]).astype(np.int64))


def _predict(model, runs: Runs, positions: np.ndarray, what: str) -> Prediction:
    try:
        return predict_checked(model, runs, positions)
    except AssertionError as error:  # an output the protocol refuses
        raise AssertionError(f"{what}: {error}") from error
    except Exception as error:
        raise AssertionError(f"{what}: predict() raised {_describe(error)}") from error


def _stack(preds: list[Prediction], like: Prediction) -> Prediction:
    """One-position predictions as one prediction (fields present where `like` has them)."""
    return Prediction(
        None if like.task_proba is None else np.vstack([p.task_proba for p in preds]),
        None if like.delta_us is None else np.concatenate([p.delta_us for p in preds]),
    )


def check_batch_equals_single(ctx: Context) -> None:
    """`predict(P)[i]` equals `predict([p_i])`: big batches, single positions, any order."""
    batch, model, window = ctx.batch(), ctx.fitted(), ctx.window
    singles = _both_parities(window, N_SINGLES)
    runs = ctx.runs
    preds = [_predict(model, runs, np.array([p]), f"position {p} alone") for p in singles]
    alone = _stack(preds, batch)
    assert_same(ctx.batch_at(singles), alone, "one position per call vs one big batch", singles)
    rng = np.random.default_rng(0)
    shuffled = np.concatenate([rng.permutation(window), window[:16]])
    again = _predict(model, ctx.runs, shuffled, "a shuffled batch with repeats")
    assert_same(ctx.batch_at(shuffled), again, "a shuffled batch vs the sorted one", shuffled)


def _both_parities(window: np.ndarray, count: int) -> np.ndarray:
    even = sample(window[window % 2 == 0], count // 2)
    odd = sample(window[window % 2 == 1], count - count // 2)
    return np.sort(np.concatenate([even, odd]))


def check_causality(ctx: Context) -> None:
    """A prediction at p reads rows < p only: scrambling, or cutting off, the rows >= c changes
    no prediction at positions <= c, for cuts across the excerpt and at single positions."""
    model, window, runs = ctx.fitted(), ctx.window, ctx.runs
    batch, targets = ctx.batch(), sorted(type(model).targets)
    try:  # the harness's spot verification, on many more positions than an evaluation's
        spot_verify(model, runs, window, batch, targets, budget_s=math.inf, k=N_HISTORY_ONLY)
    except (LeakDetected, ModelOutputError) as error:
        raise AssertionError(f"{error} (a look-ahead leak)") from error
    for k, cut in enumerate(cuts(ctx)):
        positions = window[(window >= cut - SPAN) & (window <= cut)]
        expected = ctx.batch_at(positions)
        for what, future in (
            (f"after scrambling rows >= {cut}", scrambled_from(runs, cut, k)),
            (f"with rows >= {cut} cut off", runs.rows(runs.start, int(cut))),
        ):
            what += " (a look-ahead leak)"
            assert_same(expected, _predict(model, future, positions, what), what, positions)


def check_online_matches_batch(ctx: Context) -> None:
    """Streaming with `online()` predicts what `predict()` does, step by step, for thousands
    of steps (after the same model has predicted the whole excerpt)."""
    model, runs = ctx.fitted(), ctx.runs
    positions = ctx.window[-ONLINE_STEPS:]
    batch = _predict(model, runs, positions, "the batch before streaming")
    stream = model.online(runs.rows(runs.start, int(positions[0])))
    probas, deltas = [], []
    for position in positions:
        proba, delta = stream.predict_next()
        probas.append(None if proba is None else np.array(proba))  # it may reuse its buffer
        deltas.append(delta)
        stream.update(row_at(runs, int(position)))
    for field, got, want in (("task", probas, batch.task_proba), ("delta", deltas, batch.delta_us)):
        if want is None:
            assert all(g is None for g in got), f"online gives a {field} the batch does not"
            continue
        assert all(g is not None for g in got), f"online gives no {field} where predict() does"
        got_arr = np.asarray(got, dtype=np.float64).reshape(want.shape)
        if field == "task":
            close = np.isclose(got_arr, want, rtol=0, atol=ONLINE_PROBA_ATOL).all(axis=1)
        else:
            close = np.isclose(got_arr, want, ONLINE_DELTA_RTOL, ONLINE_DELTA_ATOL)
        bad = np.flatnonzero(~close)
        assert not len(bad), (
            f"online {field} differs from predict() at {len(bad)} of {len(positions)} steps "
            f"(first: position {int(positions[bad[0]])})"
        )
