"""The bootstrap's edges and wiring (README §5), pinned where mutation testing found them loose:
exact error messages, the smallest valid inputs, every keyword reaching the draws, macro_f1's
label set under reweighting. Expected values are literals or sklearn, never the module's own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm

from benchmark.scoring import bootstrap as bs
from benchmark.scoring.metrics import METRICS, contributions


def sample(n: int = 120, n_tasks: int = 4, seed: int = 0, *, task: bool = True, delta: bool = True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_tasks, n)
    proba = rng.random((n, n_tasks)).astype(np.float32)
    proba[np.arange(n), y] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    true_us = rng.lognormal(3.0, 1.0, n)
    inputs = {}
    if task:
        inputs.update(y_true=y, proba=proba)
    if delta:
        inputs.update(true_us=true_us, pred_us=true_us * rng.lognormal(0, 0.5, n), sigma_us=20.0)
    return contributions(**inputs)


def test_the_smallest_valid_inputs() -> None:
    c = sample(n=1)
    out = bs.intervals(c, n_resamples=1)
    assert out["acc"]["low"] == out["acc"]["high"] == out["acc"]["value"]
    assert [s.shape for s in bs.resample_starts(1, 3)] == [(3, 1)]
    full = bs.intervals(sample(n=10), block=10, n_resamples=5)  # one block: the whole series
    assert full["mae_us"]["low"] == pytest.approx(full["mae_us"]["value"])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: bs.intervals(sample(), n_resamples=0),
            ValueError,
            "n_resamples must be at least 1",
        ),
        (
            lambda: bs.intervals(sample(n=10), block=0),
            ValueError,
            "block length must be in [1, 10], got 0",
        ),
        (
            lambda: bs.intervals(sample(n=10), block=11),
            ValueError,
            "block length must be in [1, 10], got 11",
        ),
        (lambda: next(bs.resample_starts(0)), ValueError, "cannot bootstrap zero positions"),
        (
            lambda: bs.class_indicator(sample(task=False)),
            ValueError,
            "no task predictions in these contributions",
        ),
        (
            lambda: bs.intervals(sample(), ["nope"]),
            KeyError,
            f"unknown metrics ['nope']; known: {', '.join(METRICS)}",
        ),
        (
            lambda: bs.intervals(sample(delta=False), ["mae_us"]),
            KeyError,
            "metrics ['mae_us'] are not available from these predictions",
        ),
        (
            lambda: bs.weighted(sample(n=5), np.ones(5)),
            ValueError,
            "weights must be float[m, 5], got shape (5,)",
        ),
        (
            lambda: bs.weighted(sample(n=5), np.ones((2, 4))),
            ValueError,
            "weights must be float[m, 5], got shape (2, 4)",
        ),
        (
            lambda: bs.paired_intervals(sample(n=5), sample(n=6)),
            ValueError,
            "paired intervals need the same positions: 5 vs 6",
        ),
        (
            lambda: bs.paired_intervals(sample(seed=1), sample(seed=2)),
            ValueError,
            "paired intervals need the same positions: the true tasks differ",
        ),
        (
            lambda: bs.paired_intervals(sample(), sample(delta=False), ["acc", "mae_us", "msle"]),
            KeyError,
            "metrics ['mae_us', 'msle'] are not available for both models",
        ),
    ],
)
def test_errors_are_exact(call, error, message) -> None:
    with pytest.raises(error) as info:
        call()
    text = info.value.args[0]
    assert text == message


def test_percentile_interval_of_one_finite_value() -> None:
    assert bs.percentile_interval(np.array([2.5, math.nan, math.inf])) == (2.5, 2.5)
    low, high = bs.percentile_interval(np.array([math.nan]))
    assert math.isnan(low) and math.isnan(high)
    assert bs.percentile_interval(np.arange(101.0), level=0.5) == (25.0, 75.0)


def test_every_keyword_reaches_the_draws() -> None:
    a, b = sample(seed=0), sample(seed=0)
    b = contributions(y_true=a.true, proba=np.roll(np.eye(4, dtype=np.float32)[a.true], 1, axis=0))
    kwargs = {"n_resamples": 60, "block": 3, "seed": 7, "level": 0.8}
    one = bs.paired_interval("acc", a, b, **kwargs)
    assert one == bs.paired_intervals(a, b, ["acc"], **kwargs)["acc"]
    for key, other in (("n_resamples", 7), ("block", 4), ("seed", 8), ("level", 0.9)):
        changed = bs.paired_interval("acc", a, b, **{**kwargs, key: other})
        assert (changed["low"], changed["high"]) != (one["low"], one["high"]), key
    draws = bs.resampled(a, ["mae_us"], n_resamples=40, block=3, seed=2)["mae_us"]
    assert list(bs.resampled(a, ["mae_us"], n_resamples=2)) == ["mae_us"] and draws.shape == (40,)
    other = bs.resampled(a, ["mae_us"], n_resamples=40, seed=2)["mae_us"]
    assert not np.array_equal(draws, other)
    wide = bs.intervals(a, ["mae_us"], level=0.95)["mae_us"]
    narrow = bs.intervals(a, ["mae_us"], level=0.5)["mae_us"]
    assert wide["low"] < narrow["low"] <= narrow["high"] < wide["high"]


def test_delta_only_contributions_need_no_class_counts() -> None:
    out = bs.intervals(sample(task=False), n_resamples=20)
    assert set(out) == {"mse_z", "mae_us", "msle"}
    paired = bs.paired_intervals(sample(task=False, seed=1), sample(task=False, seed=1))
    assert paired["mae_us"] == {"value": 0.0, "low": 0.0, "high": 0.0}


def test_reweighting_keeps_macro_f1_label_set() -> None:
    """A resample that drops class 2 still averages F1 over classes 0..2 (class 2 scores 0)."""
    y = np.array([0, 1, 2, 0, 1, 1])
    pred = np.array([0, 1, 2, 1, 1, 0])
    c = contributions(y_true=y, proba=np.eye(3, dtype=np.float32)[pred])
    w = np.array([[1.0, 1.0, 0.0, 1.0, 1.0, 1.0], [1, 1, 1, 1, 1, 1]])
    got = bs.weighted(c, w)["macro_f1"]
    keep = w[0] > 0
    expected = skm.f1_score(y[keep], pred[keep], average="macro", labels=[0, 1, 2], zero_division=0)
    assert got[0] == pytest.approx(expected)
    assert got[1] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got[0] < skm.f1_score(y[keep], pred[keep], average="macro")  # labels matter here
