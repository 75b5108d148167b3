"""Edges of scoring and the reference models that mutation testing found unpinned (issue 17).

Groups metrics, bootstrap and reference (tests/mutation.py). Expected values are literals worked
out by hand or plain numpy recomputations, never the modules' own constants.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from benchmark.data.dataset import Runs
from benchmark.scoring.bootstrap import (
    intervals,
    paired_interval,
    resample_starts,
    weighted,
)
from benchmark.scoring.metrics import (
    Contributions,
    MetricInputError,
    contributions,
    delta_contributions,
    macro_f1_from_counts,
    score_task,
    task_contributions,
    top1_contributions,
)
from models.reference import Ewma, Majority, Markov
from tests.test_reference_models import runs  # noqa: F401  (its hand-made table, one fixture)


def plain_macro_f1(y: np.ndarray, pred: np.ndarray, labels) -> float:
    """F1 per label from the confusion counts, averaged over `labels` (a second implementation)."""
    f1 = []
    for c in labels:
        tp = np.sum((pred == c) & (y == c))
        denom = np.sum(pred == c) + np.sum(y == c)
        f1.append(2.0 * tp / denom if denom else 0.0)
    return float(np.mean(f1))


# --------------------------------------------------------------------------------------------
# metrics: edges of the accepted range
# --------------------------------------------------------------------------------------------
def test_a_bad_probability_row_is_found_after_a_row_at_the_upper_tolerance() -> None:
    # row 0 holds exactly 1 + 1e-3 (accepted); row 1 is out of range: the message names row 1
    proba = np.array([[1.0 + 1e-3, 0.0], [1.5, -0.5]])
    with pytest.raises(MetricInputError) as info:
        task_contributions(np.array([0, 0]), proba)
    assert str(info.value) == "proba row 1: probabilities must be finite and in [0, 1]"


@pytest.mark.skipif(
    np.finfo(np.longdouble).nmant < 63, reason="needs an extended-precision long double"
)
def test_a_row_summing_to_exactly_one_plus_the_tolerance_is_accepted() -> None:
    # In extended precision 0.5 + d (d = the double nearest 1e-3) is exact, so the row sums to
    # exactly 1 + d: |sum - 1| == tolerance, which is inside it (the tolerance is inclusive).
    d = np.longdouble(1e-3)
    proba = np.array([[np.longdouble(0.5) + d, np.longdouble(0.5)]], dtype=np.longdouble)
    assert proba.sum() - 1 == d
    c = task_contributions(np.array([0]), proba)
    assert c.values()["acc"] == 1.0
    # just beyond it is refused
    over = proba.copy()
    over[0, 1] += np.longdouble(2.0) ** -60
    with pytest.raises(MetricInputError, match=r"^proba row 0: probabilities sum to "):
        task_contributions(np.array([0]), over)


def test_an_explicit_top1_exactly_1e6_below_the_maximum_is_accepted() -> None:
    # p(pred) == max - 1e-6 exactly (the same float expression): inside the tolerance
    proba = np.array([[0.5, 0.5 - 1e-6, 1e-6]])
    c = task_contributions(np.array([1]), proba, pred=np.array([1]))
    assert c.values()["acc"] == 1.0
    # a little further below is refused
    further = np.array([[0.5, 0.5 - 2e-6, 2e-6]])
    with pytest.raises(MetricInputError, match=r"^pred row 0: the predicted task is not one"):
        task_contributions(np.array([1]), further, pred=np.array([1]))


@pytest.mark.parametrize(
    ("true_us", "pred_us", "message"),
    [
        ([1.0, 2.0], [1.0, None], "pred_us row 1: not a finite number"),
        ([1.0, None], [1.0, 2.0], "true_us row 1: not a finite number >= 0"),
    ],
)
def test_missing_delta_values_are_refused_by_row(true_us, pred_us, message) -> None:
    # a missing value (None, as an object column holds it) is a NaN: refused with its row,
    # not a TypeError from comparing None
    with pytest.raises(MetricInputError) as info:
        delta_contributions(true_us, pred_us, 1.0)
    assert str(info.value) == message


def test_delta_metrics_of_integer_lists() -> None:
    got = delta_contributions([0, 3], [4, 1], 2.0).values()
    assert got["mse_z"] == pytest.approx(((4 / 2) ** 2 + (2 / 2) ** 2) / 2)
    assert got["mae_us"] == pytest.approx(3.0)
    expect = np.mean(np.square(np.log1p([4.0, 1.0]) - np.log1p([0.0, 3.0])))
    assert got["msle"] == pytest.approx(expect)


def test_zero_positions_score_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = score_task(np.zeros(0, dtype=np.int64), np.zeros((0, 3)))
    assert got.keys() == {"acc", "top3", "macro_f1", "log_loss"}
    assert all(math.isnan(v) for v in got.values())


def test_top1_contributions_keep_the_whole_vocabulary() -> None:
    # class 3 of a 4-task vocabulary appears nowhere: the counts still have 4 entries
    y, pred = np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])
    c = top1_contributions(y, pred, 4)
    tp, n_pred, n_true = c.class_counts()
    assert tp.tolist() == [1, 1, 1, 0]
    assert n_pred.tolist() == [1, 1, 2, 0] and n_true.tolist() == [1, 2, 1, 0]
    assert c.labels.tolist() == [True, True, True, False]
    # and the bootstrap can resample them (its class indicator spans the vocabulary)
    got = weighted(c, np.ones((1, 4)))["macro_f1"][0]
    assert got == pytest.approx(plain_macro_f1(y, pred, [0, 1, 2]))


# --------------------------------------------------------------------------------------------
# metrics: macro_f1_from_counts
# --------------------------------------------------------------------------------------------
def test_macro_f1_over_a_single_fixed_label() -> None:
    # classes (tp, n_pred, n_true): 0 -> (1, 2, 1), 1 -> (0, 1, 2); labels = {0}: F1_0 = 2/3
    tp, n_pred, n_true = np.array([1, 0]), np.array([2, 1]), np.array([1, 2])
    got = macro_f1_from_counts(tp, n_pred, n_true, labels=np.array([True, False]))
    assert float(got) == pytest.approx(2 / 3)
    # with trailing axes: two reweightings, the second doubles every count (same F1)
    got2 = macro_f1_from_counts(
        np.stack([tp, 2 * tp], axis=1),
        np.stack([n_pred, 2 * n_pred], axis=1),
        np.stack([n_true, 2 * n_true], axis=1),
        labels=np.array([True, False]),
    )
    assert got2 == pytest.approx([2 / 3, 2 / 3])


def test_macro_f1_over_no_labels_is_nan_without_dividing_by_zero() -> None:
    m = 4096  # many reweightings, so an uninitialised result cannot pass for NaN by chance
    counts = np.ones((3, m))
    with np.errstate(all="raise"):
        got = macro_f1_from_counts(counts, counts, counts, labels=np.zeros(3, dtype=bool))
    assert got.shape == (m,) and np.isnan(got).all()


def test_macro_f1_with_no_counts_is_nan_without_dividing_by_zero() -> None:
    with np.errstate(all="raise"):
        got = macro_f1_from_counts(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)))
    assert np.isnan(got).all()


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------
def test_bootstrap_when_the_last_class_never_occurs_in_the_truth() -> None:
    # vocabulary of 3; the truth holds classes 0 and 1 only, the predictions 0, 1 and 2
    y = np.array([0, 1, 1, 0, 1, 0])
    pred = np.array([0, 1, 2, 0, 0, 2])
    c = task_contributions(y, np.eye(3)[pred])
    got = weighted(c, np.ones((1, 6)))["macro_f1"][0]
    assert got == pytest.approx(plain_macro_f1(y, pred, [0, 1, 2]))
    # and when no position is of the last class at all
    y2, pred2 = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    c2 = task_contributions(y2, np.eye(3)[pred2])
    weights = np.array([[1.0, 2.0, 0.0, 1.0]])
    got2 = weighted(c2, weights)["macro_f1"][0]
    expect = plain_macro_f1(np.array([0, 1, 0, 0]), np.array([0, 1, 0, 0]), [0, 1])  # drawn rows
    assert got2 == pytest.approx(expect)
    box = intervals(c2, ["macro_f1"], n_resamples=20, block=1)
    assert 0.0 <= box["macro_f1"]["low"] <= box["macro_f1"]["high"] <= 1.0


def test_bootstrap_of_contributions_with_only_class_predictions() -> None:
    # Contributions carrying nothing but pred/true: macro_f1 is their only metric
    y, pred = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    c = Contributions(4, {}, pred=pred, true=y, n_classes=2)
    assert c.names == ("macro_f1",)
    got = weighted(c, np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 2.0, 0.0, 2.0]]))["macro_f1"]
    # resample 2 is rows 1, 1, 3, 3: class 0 F1 = 2*2/(2+2) = 1, class 1 F1 = 2*2/4 = 1
    assert got == pytest.approx([plain_macro_f1(y, pred, [0, 1]), 1.0])
    box = intervals(c, n_resamples=10, block=2)
    assert box["macro_f1"]["value"] == pytest.approx(plain_macro_f1(y, pred, [0, 1]))


def test_weights_are_summed_in_double_precision() -> None:
    # float32 weights: their total is taken in float64 (a float32 sum drifts by ~1e-7)
    rng = np.random.default_rng(3)
    n = 1000
    y = np.zeros(n, dtype=np.int64)
    pred = (np.arange(n) % 3 == 0).astype(np.int64)  # hits where pred == 0
    c = top1_contributions(y, pred, 2)
    w = rng.uniform(0.0, 3.0, (1, n)).astype(np.float32)
    w64 = w.astype(np.float64)[0]
    expect = float(np.sum(w64 * (pred == 0))) / float(np.sum(w64))
    assert weighted(c, w)["acc"][0] == pytest.approx(expect, rel=1e-12)


def test_chunks_of_resamples_stay_near_1_5_million_weights() -> None:
    # one resample of a million positions is already 1e6 weights: one resample a chunk
    n = 1_000_000
    sizes = [len(s) for s in resample_starts(n, 3)]
    assert sizes == [1, 1, 1]
    # 10_000 positions: 150 resamples (1.5M weights) a chunk
    assert [len(s) for s in resample_starts(10_000, 400)] == [150, 150, 100]


def test_paired_interval_names_an_unknown_or_unshared_metric() -> None:
    a = contributions(
        y_true=np.array([0, 1]),
        proba=np.eye(2),
        task_comm=np.array([0, 1]),
        true_comm=np.array([0, 1]),
    )
    b = contributions(y_true=np.array([0, 1]), proba=np.eye(2))
    with pytest.raises(KeyError, match=r"unknown metrics \['nope'\]"):
        paired_interval("nope", a, b, n_resamples=5)
    with pytest.raises(KeyError, match=r"metrics \['acc_comm'\] are not available for both"):
        paired_interval("acc_comm", a, b, n_resamples=5)


# --------------------------------------------------------------------------------------------
# reference: Markov online answers exactly what batch answers
# --------------------------------------------------------------------------------------------
def test_markov_online_probabilities_are_the_batch_float32_values(runs: Runs) -> None:  # noqa: F811
    model = Markov(order=1, alpha=0.5).fit(runs.train(), valid=runs.valid())
    batch = model.predict(runs, np.arange(16, 20))
    assert batch.task_proba.dtype == np.float32
    for k, p in enumerate(range(16, 20)):
        proba, _ = model.online(runs.rows(0, p)).predict_next()
        assert proba.dtype == np.float32
        assert np.array_equal(proba, batch.task_proba[k]), p
    # after b (position 16) the order-1 row is (0.5, 1.5, 6.5) / 8.5, rounded to float32
    assert batch.task_proba[0].tolist() == np.float32([0.5 / 8.5, 1.5 / 8.5, 6.5 / 8.5]).tolist()


def test_macro_f1_scores_an_absent_class_zero_whatever_memory_holds() -> None:
    """F1 of a class with no predictions and no truths is 0 by definition, not whatever the
    output buffer held: freed blocks of the same size, filled with 9.0, are offered to numpy's
    small-allocation cache first, so an uninitialised output (`out=None` with `where=`) shows.
    Hand-computed: F1 = 2*1/(2+1) = 2/3 and 2*2/(2+2) = 1 for the present classes 0 and 2;
    mean over the present classes 5/6, over all three labels (2/3 + 0 + 1) / 3 = 5/9."""
    tp, n_pred, n_true = (
        np.array([1.0, 0.0, 2.0]),
        np.array([2.0, 0.0, 2.0]),
        np.array([1.0, 0.0, 2.0]),
    )
    for _ in range(20):
        junk = [np.full(3, 9.0) for _ in range(16)]
        del junk
        assert macro_f1_from_counts(tp, n_pred, n_true) == pytest.approx(5 / 6)
        junk = [np.full(3, 9.0) for _ in range(16)]
        del junk
        got = macro_f1_from_counts(tp, n_pred, n_true, labels=np.ones(3, dtype=bool))
        assert got == pytest.approx(5 / 9)


@pytest.mark.parametrize("cls", [Majority, Markov, Ewma])
def test_a_reference_model_refuses_targets_it_does_not_have(runs, cls) -> None:  # noqa: F811
    """The references fit every target either way, but `fit(targets=...)` still checks what it
    is asked: an unknown target, or none, is the protocol's ValueError, not silently ignored."""
    for bad in (["nosuch"], []):
        with pytest.raises(ValueError, match="give a non-empty subset of its targets"):
            cls().fit(runs.train(), targets=bad)
    fitted = cls().fit(runs.train(), targets=["task"])
    assert fitted.predict(runs, runs.test_positions()).task_proba is not None
