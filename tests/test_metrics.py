"""Metrics: hand-computed values, scikit-learn where they overlap, perfect and constant cases."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from benchmark.scoring.bootstrap import weighted
from benchmark.scoring.metrics import (
    DELTA_METRICS,
    LOG_LOSS_EPS,
    METRICS,
    TASK_METRICS,
    Contributions,
    MetricInputError,
    contributions,
    delta_contributions,
    macro_f1_from_counts,
    score,
    score_delta,
    score_task,
    task_contributions,
)


def one_hot(ids, v: int) -> np.ndarray:
    out = np.zeros((len(ids), v), dtype=np.float32)
    out[np.arange(len(ids)), ids] = 1.0
    return out


def random_case(n: int = 3000, v: int = 12, seed: int = 0):
    """A model with some skill: probabilities strictly inside (0, 1), no ties."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, v, n)
    logits = rng.standard_normal((n, v))
    logits[np.arange(n), y] += 1.5 * rng.random(n)
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.astype(np.float32)


# -- the table --------------------------------------------------------------------------------
def test_metric_table_declares_directions_and_targets() -> None:
    assert TASK_METRICS == ("acc", "acc_comm", "top3", "macro_f1", "log_loss")
    assert DELTA_METRICS == ("mse_z", "mae_us", "msle")
    higher = {n for n, m in METRICS.items() if m.higher_is_better}
    assert higher == {"acc", "acc_comm", "top3", "macro_f1"}
    for name, m in METRICS.items():
        assert m.name == name and m.description and m.target in ("task", "delta")
    assert METRICS["acc"].better(0.9, 0.8) and not METRICS["acc"].better(0.8, 0.9)
    assert METRICS["mse_z"].better(0.1, 0.2) and METRICS["mse_z"].direction == "lower"
    ranked = sorted([0.3, float("nan"), 0.9, 0.5], key=METRICS["acc"].sort_key)
    assert ranked[:3] == [0.9, 0.5, 0.3] and math.isnan(ranked[3])
    assert sorted([0.3, 0.9], key=METRICS["log_loss"].sort_key) == [0.3, 0.9]


# -- hand-computed ------------------------------------------------------------------------------
def test_task_metrics_hand_computed() -> None:
    # V = 4 tasks; tasks 1 and 2 share comm 1, task 3 is comm 2, task 0 (<other>) comm 0.
    task_comm = np.array([0, 1, 1, 2])
    proba = np.array(
        [
            [0.1, 0.6, 0.2, 0.1],  # true 1: correct
            [0.1, 0.5, 0.3, 0.1],  # true 2: wrong task, same comm; rank 2 -> top3
            [0.4, 0.3, 0.2, 0.1],  # true 3: wrong, rank 4 -> not top3
            [0.0, 0.2, 0.1, 0.7],  # true 3: correct
        ],
        dtype=np.float32,
    )
    y = np.array([1, 2, 3, 3])
    true_comm = task_comm[y]
    out = score_task(y, proba, task_comm, true_comm)
    assert out["acc"] == pytest.approx(2 / 4)
    assert out["acc_comm"] == pytest.approx(3 / 4)
    assert out["top3"] == pytest.approx(3 / 4)
    # predictions 1, 1, 0, 3; truth 1, 2, 3, 3 -> classes {0, 1, 2, 3}
    # F1: c0 = 0 (tp 0), c1 = 2*1/(2+1) = 2/3, c2 = 0, c3 = 2*1/(1+2) = 2/3 -> mean 1/3
    assert out["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 4)
    expected_ll = -(math.log(0.6) + math.log(0.3) + math.log(0.1) + math.log(0.7)) / 4
    assert out["log_loss"] == pytest.approx(expected_ll, rel=1e-6)


def test_delta_metrics_hand_computed() -> None:
    true = np.array([10.0, 0.0, 100.0])
    pred = np.array([12.0, -5.0, 100.0])
    out = score_delta(true, pred, sigma_us=2.0)
    assert out["mse_z"] == pytest.approx(((2 / 2) ** 2 + (5 / 2) ** 2 + 0) / 3)
    assert out["mae_us"] == pytest.approx((2 + 5 + 0) / 3)
    # negative prediction clipped to 0 for msle only
    msle = ((math.log(13) - math.log(11)) ** 2 + 0 + 0) / 3
    assert out["msle"] == pytest.approx(msle)


def test_log_loss_clips_at_1e7() -> None:
    proba = one_hot([0, 1], 3)
    out = score_task([0, 2], proba)
    assert out["log_loss"] == pytest.approx(-math.log(LOG_LOSS_EPS) / 2)


def test_top3_tie_rule() -> None:
    # equal probabilities: top-1 is the lowest id; ties count against the prediction
    uniform5 = np.full((5, 5), 0.2, dtype=np.float32)
    out = score_task(np.arange(5), uniform5)
    assert out["acc"] == pytest.approx(1 / 5)  # argmax picks task 0
    assert out["top3"] == pytest.approx(1 / 5)  # only the top-1 hit counts
    uniform3 = np.full((3, 3), 1 / 3, dtype=np.float32)
    assert score_task(np.arange(3), uniform3)["top3"] == 1.0  # only 3 tasks: all in the top 3
    # one-hot predictions: top3 equals acc whatever the vocabulary order
    y = np.array([0, 1, 2, 3, 4, 5])
    pred = np.array([0, 2, 2, 1, 4, 0])
    out = score_task(y, one_hot(pred, 6))
    assert out["top3"] == out["acc"] == pytest.approx(3 / 6)


# -- scikit-learn --------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_task_metrics_agree_with_sklearn(seed: int) -> None:
    v = 12
    y, proba = random_case(v=v, seed=seed)
    out = score_task(y, proba)
    pred = proba.argmax(axis=1)
    labels = np.union1d(y, pred)
    assert out["acc"] == pytest.approx(skm.accuracy_score(y, pred))
    assert out["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", labels=labels))
    assert out["top3"] == pytest.approx(skm.top_k_accuracy_score(y, proba, k=3, labels=range(v)))
    p64 = proba.astype(np.float64)
    p64 /= p64.sum(axis=1, keepdims=True)
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, p64, labels=range(v)), rel=1e-5)


def test_macro_f1_ignores_absent_classes_like_sklearn() -> None:
    # V = 10 but only classes 1, 2, 7 occur in truth or prediction
    y = np.array([1, 1, 2, 2, 2])
    pred = np.array([1, 2, 2, 7, 2])
    out = score_task(y, one_hot(pred, 10))
    expected = skm.f1_score(y, pred, average="macro", labels=[1, 2, 7])
    assert out["macro_f1"] == pytest.approx(expected)
    # F1(1) = 2/3, F1(2) = 2*2/(3+3) = 2/3, F1(7) = 0
    assert out["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


def test_delta_metrics_agree_with_sklearn() -> None:
    rng = np.random.default_rng(3)
    true = rng.exponential(80.0, 5000)
    pred = np.abs(true + rng.normal(0, 30, 5000))
    sigma = float(true.std())
    out = score_delta(true, pred, sigma)
    assert out["mse_z"] == pytest.approx(skm.mean_squared_error(true / sigma, pred / sigma))
    assert out["mae_us"] == pytest.approx(skm.mean_absolute_error(true, pred))
    assert out["msle"] == pytest.approx(skm.mean_squared_log_error(true, pred))


# -- perfect and constant predictions -----------------------------------------------------------
def test_perfect_predictions() -> None:
    rng = np.random.default_rng(4)
    v = 7
    y = rng.integers(0, v, 500)
    task_comm = np.array([0, 1, 1, 2, 3, 3, 4])
    delta = rng.exponential(50.0, 500)
    out = score(
        y_true=y,
        proba=one_hot(y, v),
        task_comm=task_comm,
        true_comm=task_comm[y],
        true_us=delta,
        pred_us=delta.copy(),
        sigma_us=12.0,
    )
    assert out == {
        "acc": 1.0,
        "acc_comm": 1.0,
        "top3": 1.0,
        "macro_f1": 1.0,
        "log_loss": 0.0,
        "mse_z": 0.0,
        "mae_us": 0.0,
        "msle": 0.0,
    }


def test_constant_predictions() -> None:
    # truth: 6 x task 0, 3 x task 1, 1 x task 2; always predict task 0 with certainty
    y = np.array([0] * 6 + [1] * 3 + [2])
    out = score_task(y, one_hot(np.zeros(10, dtype=int), 3))
    assert out["acc"] == pytest.approx(0.6)
    assert out["top3"] == pytest.approx(1.0)  # V = 3: every task is in the top 3
    # F1(0) = 2*6 / (10 + 6) = 0.75; F1(1) = F1(2) = 0
    assert out["macro_f1"] == pytest.approx(0.75 / 3)
    assert out["log_loss"] == pytest.approx(0.4 * -math.log(LOG_LOSS_EPS))
    # the class frequencies as the distribution: log loss is the empirical entropy
    freq = np.tile(np.array([0.6, 0.3, 0.1], dtype=np.float32), (10, 1))
    entropy = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1))
    assert score_task(y, freq)["log_loss"] == pytest.approx(entropy, rel=1e-6)

    # constant delta = the mean: mse_z is the variance over sigma^2
    true = np.array([1.0, 2.0, 3.0, 10.0])
    out = score_delta(true, np.full(4, 4.0), sigma_us=2.0)
    assert out["mse_z"] == pytest.approx(true.var() / 4.0)
    assert out["mae_us"] == pytest.approx((3 + 2 + 1 + 6) / 4)


def test_acc_comm_counts_a_correct_other_prediction() -> None:
    """True task <other> (id 0) of a known comm: predicting <other> is right at both levels."""
    task_comm = np.array([0, 1, 2])
    y = np.array([0, 0, 1])
    true_comm = np.array([2, 0, 1])  # row 0: an unseen thread of comm 2
    pred = np.array([0, 2, 1])  # row 1: task 2 has comm 2, truth comm 0 -> miss
    out = score_task(y, one_hot(pred, 3), task_comm, true_comm)
    assert out["acc"] == pytest.approx(2 / 3)
    assert out["acc_comm"] == pytest.approx(2 / 3)
    rng = np.random.default_rng(0)
    y, proba = random_case(n=500, v=6)
    tc = rng.integers(0, 3, 6)
    cc = rng.integers(0, 3, 500)
    out = score_task(y, proba, tc, cc)
    assert out["acc_comm"] >= out["acc"]


def test_acc_comm_counts_same_comm_different_thread() -> None:
    task_comm = np.array([0, 5, 5, 6])
    y = np.array([1, 2, 3])
    pred = np.array([2, 2, 1])  # right comm, right thread, wrong comm
    out = score_task(y, one_hot(pred, 4), task_comm, task_comm[y])
    assert out["acc"] == pytest.approx(1 / 3)
    assert out["acc_comm"] == pytest.approx(2 / 3)


# -- structure ----------------------------------------------------------------------------------
def test_chunking_does_not_change_results() -> None:
    y, proba = random_case(n=1001, v=9, seed=5)
    task_comm = np.arange(9) % 4
    a = task_contributions(y, proba, task_comm, task_comm[y], chunk_rows=7).values()
    b = task_contributions(y, proba, task_comm, task_comm[y]).values()
    assert a == b


def test_weighted_with_unit_weights_equals_values() -> None:
    y, proba = random_case(n=400, v=6, seed=6)
    rng = np.random.default_rng(0)
    true = rng.exponential(10.0, 400)
    c = contributions(y_true=y, proba=proba, true_us=true, pred_us=true + 1.0, sigma_us=3.0)
    values = c.values()
    unit = weighted(c, np.ones((2, 400)))
    for name, v in values.items():
        assert unit[name] == pytest.approx([v, v])
    # integer weights = repeating positions
    w = rng.integers(0, 3, 400)
    rep = np.repeat(np.arange(400), w)
    again = contributions(
        y_true=y[rep], proba=proba[rep], true_us=true[rep], pred_us=true[rep] + 1.0, sigma_us=3.0
    ).values()
    for name, v in weighted(c, w[None, :].astype(float)).items():
        assert v[0] == pytest.approx(again[name])


def test_macro_f1_from_counts_vectorised() -> None:
    tp = np.array([[1, 0], [0, 0], [2, 2]])
    n_pred = np.array([[2, 1], [0, 0], [2, 3]])
    n_true = np.array([[1, 0], [0, 0], [3, 2]])
    got = macro_f1_from_counts(tp, n_pred, n_true)
    assert got == pytest.approx([(2 / 3 + 4 / 5) / 2, (0 + 4 / 5) / 2])
    assert math.isnan(macro_f1_from_counts(np.zeros(3), np.zeros(3), np.zeros(3)))


def test_score_over_both_and_merge() -> None:
    y, proba = random_case(n=50, v=5)
    t = np.linspace(1, 50, 50)
    both = score(y_true=y, proba=proba, true_us=t, pred_us=t[::-1], sigma_us=5.0)
    assert set(both) == set(METRICS) - {"acc_comm"}
    assert both == {**score_task(y, proba), **score_delta(t, t[::-1], 5.0)}
    only_delta = score(true_us=t, pred_us=t, sigma_us=1.0)
    assert set(only_delta) == set(DELTA_METRICS)
    c = delta_contributions(t, t, 1.0)
    with pytest.raises(ValueError, match="both"):
        c.merge(delta_contributions(t, t, 1.0))
    with pytest.raises(ValueError, match="positions"):
        c.merge(Contributions(3))


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.__setitem__((3, 0), np.nan), "row 3"),
        (lambda p: p.__setitem__((5, 1), np.inf), "row 5"),
        (lambda p: p.__setitem__((2, 0), -0.1), "row 2"),
        (lambda p: p.__setitem__(4, p[4] * 0.9), "row 4: probabilities sum to 0.9"),
    ],
)
def test_invalid_probabilities_name_the_row(mutate, message) -> None:
    y, proba = random_case(n=20, v=4)
    proba = proba.copy()
    mutate(proba)
    with pytest.raises(MetricInputError, match=message):
        score_task(y, proba)


def test_invalid_task_inputs() -> None:
    y, proba = random_case(n=20, v=4)
    with pytest.raises(MetricInputError, match="outside the vocabulary"):
        score_task(np.full(20, 4), proba)
    with pytest.raises(MetricInputError, match="entries"):
        score_task(y[:-1], proba)
    with pytest.raises(MetricInputError, match="float"):
        score_task(y, proba[:, 0])
    with pytest.raises(MetricInputError, match="both task_comm and true_comm"):
        score_task(y, proba, task_comm=np.zeros(4, dtype=int))
    with pytest.raises(MetricInputError, match="most probable"):
        score_task(y, proba, pred=proba.argmin(axis=1))
    # a tolerance of 1e-3 on the row sums
    ok = proba.astype(np.float64) * (1 + 5e-4)
    score_task(y, ok)


def test_invalid_delta_inputs() -> None:
    t = np.ones(5)
    with pytest.raises(MetricInputError, match="row 2"):
        score_delta(t, np.array([1, 1, np.nan, 1, 1.0]), 1.0)
    with pytest.raises(MetricInputError, match="sigma_us"):
        score_delta(t, t, 0.0)
    with pytest.raises(MetricInputError, match="one length"):
        score_delta(t, t[:3], 1.0)
    with pytest.raises(MetricInputError, match="true_us row 1"):
        score_delta(np.array([1.0, -1.0]), np.ones(2), 1.0)
    with pytest.raises(MetricInputError, match="nothing to score"):
        score()


def test_macro_f1_with_fixed_labels() -> None:
    tp = np.array([[1, 0], [0, 0], [2, 2]])
    n_pred = np.array([[2, 0], [0, 0], [2, 3]])
    n_true = np.array([[1, 0], [0, 0], [3, 2]])
    labels = np.array([True, False, True])
    got = macro_f1_from_counts(tp, n_pred, n_true, labels=labels)
    # column 1 lacks class 0 entirely: it still counts, with F1 = 0 (sklearn's labels=...)
    assert got == pytest.approx([(2 / 3 + 4 / 5) / 2, (0 + 4 / 5) / 2])
    y = np.array([0, 0, 1, 2])
    pred = np.array([0, 1, 1, 2])
    c = contributions(y_true=y, proba=one_hot(pred, 4))
    assert c.labels.tolist() == [True, True, True, False]
    # a reweighting that drops class 2 keeps it in the average as F1 = 0
    w = np.array([[1.0, 1.0, 1.0, 0.0]])
    expected = skm.f1_score(y[:3], pred[:3], average="macro", labels=[0, 1, 2], zero_division=0)
    assert weighted(c, w)["macro_f1"][0] == pytest.approx(expected)


def test_metric_facts_live_in_one_table() -> None:
    from benchmark.scoring.metrics import main_metric, target_metrics

    assert main_metric("task") == "acc" and main_metric("delta") == "mse_z"
    assert target_metrics("delta") == ("mse_z", "mae_us", "msle")
    assert [n for n, m in METRICS.items() if m.main] == ["acc", "mse_z"]
    assert format(12.3456, METRICS["mae_us"].digits) == "12.35"
    assert format(0.123456, METRICS["acc"].digits) == "0.1235"


def test_throughput_benchmark_times_the_sizes_it_was_asked_for() -> None:
    from benchmark.scoring.throughput import synthetic_predictions, throughput_benchmark

    out = throughput_benchmark(
        n_scoring=2000, n_bootstrap=1000, n_tasks=10, n_resamples=20, n_ceiling=500
    )
    assert {k for k in out if k.endswith("_s")} == {
        "scoring_s",
        "scoring_cpu_s",
        "bootstrap_s",
        "bootstrap_cpu_s",
        "ceiling_s",
        "ceiling_cpu_s",
    }
    assert (out["scoring_n"], out["bootstrap_n"], out["ceiling_n"]) == (2000, 1000, 500)
    assert out["bootstrap_resamples"] == 20 and out["bootstrap_metrics"] == len(METRICS)
    # the synthetic model has skill: the true task gets extra mass, so acc is far above 1/10
    inputs = synthetic_predictions(5000, 10, seed=3)
    hit = np.argmax(inputs["proba"], axis=1) == inputs["y_true"]
    assert hit.mean() > 0.5


class _FakeClock:
    """Wall and CPU clocks that move only when a step says how long it took."""

    def __init__(self) -> None:
        self.wall = 1000.0
        self.cpu = 50.0

    def take(self, wall_s: float, cpu_s: float) -> None:
        self.wall += wall_s
        self.cpu += cpu_s


def test_throughput_benchmark_reports_each_steps_own_wall_and_cpu_time(monkeypatch) -> None:
    """Each `_s` is the (wall, CPU) time of its own step on the sizes asked; building the
    synthetic inputs (and the untimed contributions the bootstrap starts from) is not counted."""
    import time

    from benchmark.scoring import throughput

    clock = _FakeClock()
    monkeypatch.setattr(time, "perf_counter", lambda: clock.wall)
    monkeypatch.setattr(time, "process_time", lambda: clock.cpu)
    calls: list[tuple[str, int]] = []
    real = {
        name: getattr(throughput, name)
        for name in ("synthetic_predictions", "contributions", "intervals", "ceiling")
    }
    costs = {  # (wall, cpu) seconds each call "takes"
        "synthetic_predictions": (100.0, 100.0),
        "contributions": (1.5, 0.5),
        "intervals": (4.0, 3.0),
        "ceiling": (7.0, 6.5),
    }

    sizes = {  # what each call was asked to work on
        "synthetic_predictions": lambda a, k: a[0],
        "contributions": lambda a, k: len(k["y_true"]),
        "intervals": lambda a, k: k["n_resamples"],
        "ceiling": lambda a, k: len(a[0]),
    }

    def fake(name: str) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            out = real[name](*args, **kwargs)
            calls.append((name, sizes[name](args, kwargs)))
            clock.take(*costs[name])
            return out

        return step

    for name in real:
        monkeypatch.setattr(throughput, name, fake(name))
    out = throughput.throughput_benchmark(
        n_scoring=300, n_bootstrap=200, n_tasks=5, n_resamples=7, n_ceiling=150
    )
    assert (out["scoring_s"], out["scoring_cpu_s"]) == (1.5, 0.5)
    assert (out["bootstrap_s"], out["bootstrap_cpu_s"]) == (4.0, 3.0)
    assert (out["ceiling_s"], out["ceiling_cpu_s"]) == (7.0, 6.5)
    assert calls == [
        ("synthetic_predictions", 300),
        ("contributions", 300),
        ("synthetic_predictions", 200),
        ("contributions", 200),
        ("intervals", 7),
        ("ceiling", 150),
    ]


def test_top1_contributions_from_stored_argmax_ids() -> None:
    from benchmark.scoring.metrics import top1_contributions

    y = np.array([0, 1, 2, 2, 1])
    pred = np.array([0, 2, 2, 2, 0])
    c = top1_contributions(y, pred, n_classes=3)
    # hits at 0, 2, 3 -> 3/5; F1: class 0 2*1/(2+1), class 1 0, class 2 2*2/(3+2)
    assert c.values() == pytest.approx({"acc": 0.6, "macro_f1": (2 / 3 + 0 + 4 / 5) / 3})
    with pytest.raises(MetricInputError, match="outside the vocabulary"):
        top1_contributions(y, np.array([0, 1, 2, 3, 0]), n_classes=3)
