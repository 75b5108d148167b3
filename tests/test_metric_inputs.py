"""Metric inputs (README §5): every refusal's exact message, and the edges of the accepted range,
pinned where mutation testing found them loose. Expected values are literals or sklearn.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm

from benchmark.scoring.metrics import (
    MetricInputError,
    contributions,
    macro_f1_from_counts,
    score_task,
    task_contributions,
    top1_contributions,
)

P2 = np.array([[0.7, 0.3], [0.2, 0.8]], dtype=np.float32)
Y2 = np.array([0, 1])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: task_contributions(Y2, P2[0]), "proba must be float[n, V], got shape (2,)"),
        (
            lambda: task_contributions(Y2, np.eye(2, dtype=int)),
            "proba must be floating point, got dtype int64",
        ),
        (
            lambda: task_contributions(np.array([], int), np.zeros((0, 0))),
            "proba has no columns (empty vocabulary)",
        ),
        (
            lambda: task_contributions(Y2[None], P2),
            "y_true must be one-dimensional, got shape (1, 2)",
        ),
        (lambda: task_contributions(Y2[:1], P2), "y_true has 1 entries, expected 2"),
        (
            lambda: task_contributions(Y2 * 1.0, P2),
            "y_true must hold integer ids, got dtype float64",
        ),
        (
            lambda: task_contributions(np.array([0, 2]), P2),
            "y_true holds ids outside the vocabulary [0, 2)",
        ),
        (
            lambda: task_contributions(Y2, P2, task_comm=np.array([0, 0])),
            "acc_comm needs both task_comm and true_comm",
        ),
        (
            lambda: task_contributions(Y2, P2, np.array([0]), np.array([0, 0])),
            "task_comm has 1 entries, expected 2",
        ),
        (
            lambda: task_contributions(Y2, P2, np.array([0, 0]), np.array([0])),
            "true_comm has 1 entries, expected 2",
        ),
        (lambda: task_contributions(Y2, P2, pred=np.array([0])), "pred has 1 entries, expected 2"),
        (
            lambda: task_contributions(Y2, P2, pred=np.array([0, 2])),
            "pred holds ids outside the vocabulary [0, 2)",
        ),
        (
            lambda: task_contributions(Y2, P2, pred=np.array([-1, 1])),
            "pred holds ids outside the vocabulary [0, 2)",
        ),
        (
            lambda: task_contributions(Y2, P2, pred=np.array([1, 1])),
            "pred row 0: the predicted task is not one of the row's most probable tasks",
        ),
        (
            lambda: task_contributions(Y2, np.array([[0.0, 1.0], [1.5, -0.5]])),
            "proba row 1: probabilities must be finite and in [0, 1]",
        ),
        (
            lambda: task_contributions(Y2, np.array([[1.0, 0.0], [1.5, 0.0]])),
            "proba row 1: probabilities must be finite and in [0, 1]",
        ),
        (
            lambda: task_contributions(Y2, np.array([[1.0, 0.0], [math.nan, 1.0]])),
            "proba row 1: probabilities must be finite and in [0, 1]",
        ),
        (
            lambda: task_contributions(Y2, np.array([[1.0, 0.0], [0.5, 0.4]])),
            "proba row 1: probabilities sum to 0.9, not 1 (tolerance 0.001)",
        ),
        (lambda: top1_contributions(Y2, np.array([0]), 2), "pred has 1 entries, expected 2"),
        (
            lambda: top1_contributions(Y2[None], Y2, 2),
            "y_true must be one-dimensional, got shape (1, 2)",
        ),
        (
            lambda: top1_contributions(np.array([0, 3]), Y2, 2),
            "y_true holds ids outside the vocabulary [0, 2)",
        ),
        (
            lambda: top1_contributions(Y2, np.array([0, 3]), 2),
            "pred holds ids outside the vocabulary [0, 2)",
        ),
        (lambda: contributions(y_true=Y2), "task metrics need both y_true and proba"),
        (lambda: contributions(proba=P2), "task metrics need both y_true and proba"),
        (
            lambda: contributions(true_us=np.ones(2), pred_us=np.ones(2)),
            "delta metrics need true_us, pred_us and sigma_us",
        ),
        (
            lambda: contributions(true_us=np.ones(2), sigma_us=1.0),
            "delta metrics need true_us, pred_us and sigma_us",
        ),
        (
            lambda: contributions(pred_us=np.ones(2), sigma_us=1.0),
            "delta metrics need true_us, pred_us and sigma_us",
        ),
        (lambda: contributions(), "nothing to score: give task and/or delta predictions"),
    ],
)
def test_refusals_are_exact(call, message) -> None:
    with pytest.raises(MetricInputError) as info:
        call()
    assert str(info.value) == message


def test_the_edges_of_what_is_accepted() -> None:
    one = score_task(np.array([0, 0]), np.ones((2, 1)))  # a one-task vocabulary
    assert one["acc"] == 1.0 and one["log_loss"] == 0.0
    # a probability up to 1 + 1e-3 is rounding: accepted, and its log loss clipped at 0
    edge = task_contributions(np.array([0]), np.array([[1.0 + 1e-3, 0.0]]))
    assert edge.values()["log_loss"] == 0.0
    # an explicit top-1 equal to the row's maximum, on rows with different maxima
    proba = np.array([[0.6, 0.4], [0.1, 0.9], [0.5, 0.5]])
    c = task_contributions(np.array([0, 1, 1]), proba, pred=np.array([0, 1, 1]))
    assert c.values()["acc"] == 1.0
    # the explicit prediction is kept through `contributions` (the argmax of row 2 is 0)
    both = contributions(y_true=np.array([1]), proba=np.array([[0.5, 0.5]]), pred=np.array([1]))
    assert both.values()["acc"] == 1.0
    assert contributions(y_true=np.array([1]), proba=np.array([[0.5, 0.5]])).values()["acc"] == 0


def test_class_counts_need_task_predictions() -> None:
    c = contributions(true_us=np.ones(3), pred_us=np.ones(3), sigma_us=1.0)
    with pytest.raises(ValueError, match=r"^no task predictions in these contributions$"):
        c.class_counts()


def test_macro_f1_edges() -> None:
    assert macro_f1_from_counts(np.array([2.0]), np.array([2.0]), np.array([2.0])) == 1.0
    y, pred = np.array([0, 0, 1]), np.array([0, 1, 1])
    c = task_contributions(y, np.eye(2)[pred])
    assert c.values()["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    single = task_contributions(np.array([1, 1]), np.eye(3)[[1, 1]])
    assert single.values()["macro_f1"] == 1.0  # one class present: its F1 alone
    empty = macro_f1_from_counts(np.zeros(3), np.zeros(3), np.zeros(3))
    assert math.isnan(float(empty))


def test_merging_task_and_delta_contributions() -> None:
    task = task_contributions(Y2, P2)
    delta = contributions(true_us=np.ones(2), pred_us=np.ones(2), sigma_us=1.0)
    for merged in (task.merge(delta), delta.merge(task)):
        assert merged.values()["acc"] == 1.0 and merged.values()["mae_us"] == 0.0
        assert merged.pred.tolist() == [0, 1] and merged.n_classes == 2
    with pytest.raises(ValueError) as info:
        task.merge(task_contributions(Y2, P2))
    assert str(info.value) == "both contributions carry task predictions"
    with pytest.raises(ValueError) as info:
        delta.merge(delta)
    assert str(info.value) == "both contributions carry ['mae_us', 'mse_z', 'msle']"
    with pytest.raises(ValueError) as info:
        task.merge(contributions(true_us=np.ones(3), pred_us=np.ones(3), sigma_us=1.0))
    assert str(info.value) == "cannot merge contributions on 2 and 3 positions"


def test_a_bad_explicit_prediction_is_named_by_its_row_across_chunks() -> None:
    proba = np.tile([[0.9, 0.1]], (4, 1))
    pred = np.array([0, 0, 0, 1])  # row 3 (the second row of the second chunk) is not top-1
    with pytest.raises(MetricInputError) as info:
        task_contributions(np.zeros(4, int), proba, pred=pred, chunk_rows=2)
    assert str(info.value).startswith("pred row 3:")


def test_better_is_strict() -> None:
    from benchmark.scoring.metrics import METRICS

    assert METRICS["acc"].better(0.6, 0.5) and not METRICS["acc"].better(0.5, 0.5)
    assert METRICS["mse_z"].better(0.5, 0.6) and not METRICS["mse_z"].better(0.5, 0.5)
