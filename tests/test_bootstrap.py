"""Moving-block bootstrap: the resampling itself, the fast path, and the intervals' behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.scoring.bootstrap import (
    block_length,
    block_sums,
    class_indicator,
    coverage,
    from_totals,
    intervals,
    mean_matrix,
    paired_interval,
    paired_intervals,
    resample_starts,
    weighted,
)
from benchmark.scoring.metrics import METRICS, contributions


def model(n: int, v: int = 8, skill: float = 1.0, seed: int = 0, truth_seed: int = 100):
    """Contributions of a synthetic model of given skill on a fixed synthetic truth."""
    truth = np.random.default_rng(truth_seed)
    y = truth.integers(0, v, n)
    true_us = truth.exponential(50.0, n)
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, v))
    logits[np.arange(n), y] += skill
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    pred_us = np.abs(true_us + rng.normal(0.0, 40.0 / skill, n))
    task_comm = np.arange(v) % 3
    return contributions(
        y_true=y,
        proba=proba,
        task_comm=task_comm,
        true_comm=task_comm[y],
        true_us=true_us,
        pred_us=pred_us,
        sigma_us=50.0,
    )


def test_block_length_rule() -> None:
    assert [block_length(n) for n in (1, 2, 8, 9, 27, 28, 1000)] == [1, 2, 2, 3, 3, 4, 10]
    assert block_length(100_000) == 47
    assert block_length(1_000_000) == 100


def test_starts_are_seeded_in_range_and_independent_of_chunking() -> None:
    n = 1000
    a = np.concatenate(list(resample_starts(n, 300, seed=0)))
    b = np.concatenate(list(resample_starts(n, 300, seed=0, chunk=7)))
    c = np.concatenate(list(resample_starts(n, 300, seed=1)))
    assert a.shape == (300, math.ceil(n / 10))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() <= n - 10


def test_every_block_start_can_be_drawn() -> None:
    n = 30  # block 4: starts 0..26
    starts = np.concatenate(list(resample_starts(n, 500, seed=0)))
    assert set(np.unique(starts).tolist()) == set(range(n - 4 + 1))


def test_intervals_equal_the_reference_computation() -> None:
    """`intervals` == percentiles of each metric recomputed on the resampled positions."""
    c = model(1234, v=5)
    got = intervals(c, n_resamples=200, seed=4)
    block = block_length(c.n)
    draws: dict[str, list[float]] = {}
    for starts in resample_starts(c.n, 200, block=block, seed=4):
        for j in range(len(starts)):
            rows = np.concatenate([np.arange(s, s + block) for s in starts[j]])
            weights = np.bincount(rows, minlength=c.n).astype(float)[None, :]
            for name, value in weighted(c, weights).items():
                draws.setdefault(name, []).append(float(value[0]))
    for name, iv in got.items():
        low, high = np.quantile(draws[name], [0.025, 0.975])
        assert iv["low"] == pytest.approx(low, rel=1e-9), name
        assert iv["high"] == pytest.approx(high, rel=1e-9), name
        assert iv["value"] == c.values()[name]


def test_coverage_counts_blocks_covering_each_position() -> None:
    rng = np.random.default_rng(0)
    n, block = 50, 4
    starts = rng.integers(0, n - block + 1, size=(6, 13))
    expected = np.zeros((6, n))
    for j, row in enumerate(starts):
        for s in row:
            expected[j, s : s + block] += 1
    got = coverage(starts, n, block)
    assert np.array_equal(got, expected)
    assert np.all(got.sum(axis=1) == 13 * block)


def test_block_sums() -> None:
    m = np.arange(12, dtype=float).reshape(2, 6)
    got = block_sums(m, 3)
    assert np.array_equal(got, [[3, 21], [6, 24], [9, 27], [12, 30]])


def test_fast_path_equals_reweighting_by_coverage() -> None:
    """Block sums (means) and coverage @ indicator (macro_f1) == metrics on the resampled rows."""
    c = model(997, v=6)
    block = block_length(c.n)
    starts = next(resample_starts(c.n, 20, block=block, seed=3))
    cover = coverage(starts, c.n, block)
    reference = weighted(c, cover)
    sums = block_sums(mean_matrix(c), block)[starts].sum(axis=1)
    fast = from_totals(c, sums, np.asarray(cover @ class_indicator(c)), cover.sum(axis=1))
    for name in c.names:
        assert fast[name] == pytest.approx(reference[name], rel=1e-12)
    # and the reweighting equals scoring the concatenated blocks directly (one resample)
    rows = np.concatenate([np.arange(s, s + block) for s in starts[0]])
    y, pred = c.true[rows], c.pred[rows]
    acc = float(np.mean(y == pred))
    assert reference["acc"][0] == pytest.approx(acc)


def test_intervals_contain_the_estimate_and_are_deterministic() -> None:
    c = model(5000)
    out = intervals(c)
    assert set(out) == set(METRICS)
    for name, iv in out.items():
        assert set(iv) == {"value", "low", "high"}
        assert iv["low"] <= iv["value"] <= iv["high"], name
        assert iv["low"] < iv["high"], name
    assert intervals(c) == out
    assert intervals(c, seed=1) != out


def test_intervals_shrink_with_n() -> None:
    small = intervals(model(2000, seed=1), ["acc", "macro_f1", "mse_z"], n_resamples=400)
    large = intervals(model(50_000, seed=1), ["acc", "macro_f1", "mse_z"], n_resamples=400)
    for name in ("acc", "macro_f1", "mse_z"):
        w_small = small[name]["high"] - small[name]["low"]
        w_large = large[name]["high"] - large[name]["low"]
        # width ~ 1/sqrt(n): 25x the positions, about 5x narrower
        assert w_large < w_small / 3, name


def test_percentile_interval_width_is_about_right_for_iid_accuracy() -> None:
    """For i.i.d. hits the 95% interval is about +-1.96 sqrt(p(1-p)/n)."""
    rng = np.random.default_rng(0)
    n, p = 20_000, 0.3
    y = np.zeros(n, dtype=int)
    pred = np.where(rng.random(n) < p, 0, 1)
    proba = np.eye(2, dtype=np.float32)[pred]
    out = intervals(contributions(y_true=y, proba=proba), ["acc"])["acc"]
    half = 1.96 * math.sqrt(p * (1 - p) / n)
    assert (out["high"] - out["low"]) / 2 == pytest.approx(half, rel=0.15)


def test_blocks_widen_intervals_of_autocorrelated_hits() -> None:
    """Hits that come in runs of 200: blocks of 1 (i.i.d.) understate the uncertainty."""
    rng = np.random.default_rng(0)
    runs = rng.random(100) < 0.5
    hit = np.repeat(runs, 200)
    y = np.zeros(hit.size, dtype=int)
    proba = np.eye(2, dtype=np.float32)[np.where(hit, 0, 1)]
    c = contributions(y_true=y, proba=proba)
    blocky = intervals(c, ["acc"], block=200, n_resamples=300)["acc"]
    iid = intervals(c, ["acc"], block=1, n_resamples=300)["acc"]
    assert (blocky["high"] - blocky["low"]) > 5 * (iid["high"] - iid["low"])


def test_degenerate_all_correct() -> None:
    y = np.arange(100) % 4
    c = contributions(y_true=y, proba=np.eye(4, dtype=np.float32)[y])
    out = intervals(c, n_resamples=50)
    assert out["acc"] == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert out["macro_f1"] == {"value": 1.0, "low": 1.0, "high": 1.0}


def test_paired_interval_with_itself_is_zero() -> None:
    c = model(3000)
    for name in c.names:
        assert paired_interval(name, c, c) == {"value": 0.0, "low": 0.0, "high": 0.0}


def test_paired_interval_detects_a_better_model() -> None:
    good, bad = model(20_000, skill=2.0, seed=1), model(20_000, skill=1.0, seed=2)
    diff = paired_intervals(good, bad)
    assert diff["acc"]["low"] > 0  # higher is better: good - bad > 0
    assert diff["macro_f1"]["low"] > 0
    assert diff["log_loss"]["high"] < 0  # lower is better
    assert diff["mse_z"]["high"] < 0
    g, b = good.values(), bad.values()
    assert diff["acc"]["value"] == pytest.approx(g["acc"] - b["acc"])
    assert diff["acc"]["low"] <= diff["acc"]["value"] <= diff["acc"]["high"]


def test_paired_is_narrower_than_unpaired_for_correlated_models() -> None:
    """Two models that share most errors: pairing cancels the shared noise."""
    a = model(10_000, skill=1.5, seed=7)
    rng = np.random.default_rng(9)
    flip = rng.random(a.n) < 0.05
    pred_b = np.where(flip, (a.pred + 1) % a.n_classes, a.pred)
    b = contributions(y_true=a.true, proba=np.eye(a.n_classes, dtype=np.float32)[pred_b])
    a_only = contributions(y_true=a.true, proba=np.eye(a.n_classes, dtype=np.float32)[a.pred])
    paired = paired_interval("acc", a_only, b)
    ia, ib = intervals(a_only, ["acc"])["acc"], intervals(b, ["acc"])["acc"]
    unpaired_half = math.hypot(ia["high"] - ia["low"], ib["high"] - ib["low"]) / 2
    assert (paired["high"] - paired["low"]) / 2 < unpaired_half / 3


def test_paired_needs_same_positions_and_known_metrics() -> None:
    a, b = model(500), model(600)
    with pytest.raises(ValueError, match="same positions"):
        paired_interval("acc", a, b)
    other_truth = model(500, truth_seed=5)
    with pytest.raises(ValueError, match="true tasks differ"):
        paired_interval("acc", a, other_truth)
    with pytest.raises(KeyError, match="unknown"):
        intervals(a, ["accuracy"])
    delta_only = contributions(true_us=np.ones(500), pred_us=np.ones(500), sigma_us=1.0)
    with pytest.raises(KeyError, match="not available"):
        intervals(delta_only, ["acc"])
    with pytest.raises(ValueError):
        intervals(a, n_resamples=0)


def test_resampled_draws_of_two_models_are_paired() -> None:
    from benchmark.scoring.bootstrap import percentile_interval, resampled

    a, b = model(800, skill=1.5, seed=1), model(800, skill=1.0, seed=2)
    da = resampled(a, ["acc", "mse_z"], n_resamples=300, seed=7)
    db = resampled(b, ["acc", "mse_z"], n_resamples=300, seed=7)
    paired = paired_intervals(a, b, ["acc", "mse_z"], n_resamples=300, seed=7)
    for name in ("acc", "mse_z"):
        low, high = percentile_interval(da[name] - db[name])
        assert (low, high) == (paired[name]["low"], paired[name]["high"])
        assert low < paired[name]["value"] < high
