"""Reference predictors (README §5) on a hand-made 20-row table, every value worked out by hand.

The table (train = rows 0..13, valid = 14..15, test = 16..19 by the 70/10/20 rule):

    rows  0..12  a b a b a b a b a b a b a      (a = "a:1", b = "b:2")
    row   13     c                              (seen once: `<other>`)
    rows 14..15  b b                            (valid)
    rows 16..19  a b c d                        (test)
    delta_us of row i = i + 1

Train+valid counts: b 8, a 7, c 1, so the vocabulary is (`<other>`, b, a) = ids (0, 1, 2) and
the train-only mode (a, 7 of 14) differs from the train+valid mode (b, 8 of 16).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pytest

from benchmark.data.dataset import Runs, runs_from_frame
from benchmark.running.protocol import row_at
from models.reference import Ewma, Majority, Markov

TASKS = [*"abababababab", "a", "c", "b", "b", "a", "b", "c", "d"]
TEST = np.arange(16, 20)


@pytest.fixture(scope="module")
def runs() -> Runs:
    names = [f"{t}:{ord(t)}" for t in TASKS]
    n = len(names)
    frame = pd.DataFrame(
        {
            "t_ns": np.arange(n, dtype=np.int64) * 1000,
            "task": names,
            "comm": TASKS,
            "pid": [ord(t) for t in TASKS],
            "prio": np.full(n, 120),
            "delta_us": np.arange(1, n + 1, dtype=np.float64),
            "end_state": ["S"] * n,
        }
    )
    return runs_from_frame(frame, "hand")


def test_the_hand_made_table_splits_as_described(runs: Runs) -> None:
    assert runs.split.train == (0, 14) and runs.split.valid == (14, 16)
    assert runs.vocabulary == ("<other>", "b:98", "a:97")
    assert runs.task.tolist() == [2, 1] * 6 + [2, 0, 1, 1, 2, 1, 0, 0]


def test_majority_counts_train_and_valid(runs: Runs) -> None:
    model = Majority().fit(runs.train(), valid=runs.valid())
    pred = model.predict(runs, TEST)
    # train+valid: <other> 1, b 8, a 7 of 16; train alone would give (1, 6, 7) / 14.
    assert pred.task_proba == pytest.approx(np.tile([1 / 16, 8 / 16, 7 / 16], (4, 1)))
    assert pred.delta_us == pytest.approx([8.5] * 4)  # mean of 1..16 (train alone: 7.5)
    assert pred.task_proba.argmax(axis=1).tolist() == [1] * 4  # b, not the train mode a
    online = model.online(runs.rows(0, 16))
    proba, delta = online.predict_next()
    assert proba == pytest.approx([1 / 16, 8 / 16, 7 / 16]) and delta == 8.5


# Order-1 transitions in rows 0..15 (from -> counts of <other>, b, a; mean delta_us that followed):
#   b -> (0, 1, 6), deltas 3, 5, 7, 9, 11, 13, 16 -> 64 / 7
#   a -> (1, 6, 0), deltas 2, 4, ..., 14         -> 8
#   <other> -> (0, 1, 0), delta 15
# Add-alpha with alpha = 0.5 and 3 tasks: (count + 0.5) / (total + 1.5).
AFTER_B = [0.5 / 8.5, 1.5 / 8.5, 6.5 / 8.5]
AFTER_A = [1.5 / 8.5, 6.5 / 8.5, 0.5 / 8.5]
AFTER_OTHER = [0.5 / 2.5, 1.5 / 2.5, 0.5 / 2.5]
UNIGRAM = [1.5 / 17.5, 8.5 / 17.5, 7.5 / 17.5]  # (1, 8, 7) of 16 rows, mean delta 8.5
# Test positions 16..19 follow rows 15 (b), 16 (a), 17 (b), 18 (c = <other>).
MARKOV_PROBA = [AFTER_B, AFTER_A, AFTER_B, AFTER_OTHER]


def test_markov_order_one_by_hand(runs: Runs) -> None:
    model = Markov(order=1, alpha=0.5, min_count=1).fit(runs.train(), valid=runs.valid())
    pred = model.predict(runs, TEST)
    assert pred.task_proba == pytest.approx(np.array(MARKOV_PROBA), abs=1e-6)
    assert pred.delta_us == pytest.approx([64 / 7, 8.0, 64 / 7, 15.0])


def test_markov_min_count_backs_off_to_the_unigram(runs: Runs) -> None:
    # <other> was followed only once: with min_count 2 that context is dropped.
    model = Markov(order=1, alpha=0.5, min_count=2).fit(runs.train(), valid=runs.valid())
    pred = model.predict(runs, TEST)
    assert pred.task_proba[3] == pytest.approx(UNIGRAM, abs=1e-6)
    assert pred.delta_us[3] == pytest.approx(8.5)
    assert pred.task_proba[0] == pytest.approx(AFTER_B, abs=1e-6)


def ewma_tau(tasks: list[int], delta: list[float], stop: int, a: float, start: float) -> list:
    """A second, plain implementation of the burst average: tau = a * t + (1 - a) * tau."""
    tau = [start, start, start]
    for i in range(stop):
        tau[tasks[i]] = a * delta[i] + (1 - a) * tau[tasks[i]]
    return tau


@pytest.mark.parametrize("a", [0.801, 0.2, 1.0])
def test_ewma_with_non_default_parameters(runs: Runs, a: float) -> None:
    model = Ewma(a=a, order=1, alpha=0.5).fit(runs.train(), valid=runs.valid())
    pred = model.predict(runs, TEST)
    assert pred.task_proba == pytest.approx(np.array(MARKOV_PROBA), abs=1e-6)
    tasks = runs.task.tolist()
    delta = [float(i + 1) for i in range(20)]
    for k, position in enumerate(TEST):
        tau = ewma_tau(tasks, delta, int(position), a, 8.5)  # starts at the train+valid mean
        assert pred.delta_us[k] == pytest.approx(np.dot(MARKOV_PROBA[k], tau), rel=1e-6)
    # Positions out of order give the same answers (the fold follows sorted positions).
    shuffled = model.predict(runs, TEST[::-1])
    assert shuffled.delta_us == pytest.approx(pred.delta_us[::-1])


def test_ewma_a_0801_at_the_first_test_position(runs: Runs) -> None:
    """The committed `ewma-delta` parameter, one value written out.

    With a = 0.801, after rows 0..15: tau(<other>) = 0.801 * 14 + 0.199 * 8.5 = 12.9055 (one run),
    tau(b) = 15.66254..., tau(a) = 12.50324...; weighted by Markov's row after b that is
    13.08443. With a and 1 - a swapped it would be 9.11469.
    """
    model = Ewma(a=0.801, order=1, alpha=0.5).fit(runs.train(), valid=runs.valid())
    assert model.predict(runs, TEST[:1]).delta_us[0] == pytest.approx(13.084429828412654)


def test_ewma_rejects_a_outside_0_1(runs: Runs) -> None:
    for a in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"a must lie in \(0, 1\]"):
            Ewma(a=a).fit(runs.train(), valid=runs.valid())
    Ewma(a=1.0).fit(runs.train(), valid=runs.valid())


def test_markov_rejects_bad_parameters(runs: Runs) -> None:
    with pytest.raises(ValueError, match="order must be >= 0"):
        Markov(order=-1).fit(runs.train())
    with pytest.raises(ValueError, match="alpha must be > 0"):
        Markov(alpha=0.0).fit(runs.train())


def test_default_parameters() -> None:
    """The defaults the leaderboard's `(default)` rows use (models/README.md)."""
    markov, ewma = Markov(), Ewma()
    assert (markov.order, markov.alpha, markov.min_count) == (2, 0.05, 1)
    assert (ewma.a, ewma.order, ewma.alpha) == (0.5, 2, 0.05)


class RecordingTrial:
    """Stands in for an Optuna trial: records each suggestion, answers its lower bound."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def suggest_int(self, name, low, high, **kwargs):
        self.calls.append(("int", name, low, high, kwargs))
        return low

    def suggest_float(self, name, low, high, **kwargs):
        self.calls.append(("float", name, low, high, kwargs))
        return low


def test_search_spaces() -> None:
    trial = RecordingTrial()
    assert Markov.search_space(trial) == {"order": 1, "alpha": 1e-3, "min_count": 1}
    assert trial.calls == [
        ("int", "order", 1, 4, {}),
        ("float", "alpha", 1e-3, 1.0, {"log": True}),
        ("int", "min_count", 1, 5, {}),
    ]
    trial = RecordingTrial()
    assert Ewma.search_space(trial) == {"a": 0.01, "order": 1, "alpha": 1e-3}
    assert trial.calls == [
        ("float", "a", 0.01, 1.0, {}),
        ("int", "order", 1, 4, {}),
        ("float", "alpha", 1e-3, 1.0, {"log": True}),
    ]


def test_majority_on_a_prefix_keeps_the_whole_vocabulary(runs: Runs) -> None:
    # Row 1 alone (b): the distribution still has one entry per vocabulary task.
    pred = Majority().fit(runs.rows(1, 2)).predict(runs, TEST)
    assert pred.task_proba.shape == (4, 3)
    assert pred.task_proba[0].tolist() == [0.0, 1.0, 0.0] and pred.delta_us[0] == 2.0


def test_a_one_row_valid_is_used(runs: Runs) -> None:
    # train rows 0..13 (a 7, b 6, c 1) plus the one valid row 14 (b): (1, 7, 7) / 15
    pred = Majority().fit(runs.train(), valid=runs.rows(14, 15)).predict(runs, TEST)
    assert pred.task_proba[0] == pytest.approx([1 / 15, 7 / 15, 7 / 15])
    assert pred.delta_us[0] == pytest.approx(8.0)  # mean of 1..15


def test_too_short_training_runs_are_refused_by_name(runs: Runs) -> None:
    with pytest.raises(ValueError, match="Majority needs at least 1 training runs, got 0"):
        Majority().fit(runs.rows(0, 0))
    Majority().fit(runs.rows(0, 1))
    with pytest.raises(ValueError, match="Markov needs at least 3 training runs, got 2"):
        Markov(order=2).fit(runs.rows(0, 2))
    Markov(order=2).fit(runs.rows(0, 3))


def test_markov_order_zero_is_the_unigram(runs: Runs) -> None:
    pred = Markov(order=0, alpha=0.5).fit(runs.train(), valid=runs.valid()).predict(runs, TEST)
    assert pred.task_proba == pytest.approx(np.tile(UNIGRAM, (4, 1)), abs=1e-6)
    assert pred.delta_us == pytest.approx([8.5] * 4)


def test_markov_unigram_is_kept_below_min_count(runs: Runs) -> None:
    # Two rows (a, b): every context was seen once, below min_count 3, and so was the unigram's
    # only row count (2): the unigram is still the answer, (0 + .5, 1 + .5, 1 + .5) / 3.5.
    pred = Markov(order=1, alpha=0.5, min_count=3).fit(runs.rows(0, 2)).predict(runs, TEST)
    assert pred.task_proba[0] == pytest.approx([0.5 / 3.5, 1.5 / 3.5, 1.5 / 3.5], abs=1e-6)
    one = Markov(order=0, alpha=0.5).fit(runs.rows(0, 1)).predict(runs, TEST)
    assert one.task_proba[0] == pytest.approx([0.5 / 2.5, 0.5 / 2.5, 1.5 / 2.5], abs=1e-6)


def test_markov_with_a_single_context_and_a_context_above_every_key(runs: Runs) -> None:
    # Rows 1..15: b was followed 7 times (a 6, b 1), a 6 times, <other> once; with min_count 7
    # only the context b (code 1) is kept. After a (code 2, above every key): the unigram of
    # rows 1..15, (1, 8, 6) / 15 smoothed.
    model = Markov(order=1, alpha=0.5, min_count=7).fit(runs.rows(1, 16))
    pred = model.predict(runs, np.array([16, 17]))
    assert pred.task_proba[0] == pytest.approx(AFTER_B, abs=1e-6)
    assert pred.task_proba[1] == pytest.approx([1.5 / 16.5, 8.5 / 16.5, 6.5 / 16.5], abs=1e-6)


def test_ewma_on_a_slice_that_does_not_start_at_row_0(runs: Runs) -> None:
    model = Ewma(a=0.801, order=1, alpha=0.5).fit(runs.train(), valid=runs.valid())
    tail = runs.rows(2, 20)
    pred = model.predict(tail, TEST)
    tasks = runs.task.tolist()[2:]
    delta = [float(i + 1) for i in range(2, 20)]
    for k, position in enumerate(TEST):
        tau = ewma_tau(tasks, delta, int(position) - 2, 0.801, 8.5)
        assert pred.delta_us[k] == pytest.approx(np.dot(MARKOV_PROBA[k], tau), rel=1e-6)


def plain_markov(seen: list[int], n_tasks: int, order: int, alpha: float, min_count: int):
    """A second, dictionary-based order-k back-off model; returns predict(history)."""
    counts: dict[tuple, Counter] = defaultdict(Counter)
    after: dict[tuple, list[float]] = defaultdict(list)
    for k in range(order + 1):
        for i in range(k, len(seen)):
            context = (k, *seen[i - k : i])
            counts[context][seen[i]] += 1
            after[context].append(i)

    def predict(history: list[int], delta: list[float]) -> tuple[list[float], float]:
        for k in range(min(order, len(history)), -1, -1):
            context = (k, *history[len(history) - k :])
            total = sum(counts[context].values())
            if total and (k == 0 or total >= min_count):
                proba = [
                    (counts[context][t] + alpha) / (total + alpha * n_tasks) for t in range(n_tasks)
                ]
                return proba, float(np.mean([delta[i] for i in after[context]]))
        raise AssertionError("the unigram always answers")

    return predict


@pytest.mark.parametrize(("order", "min_count"), [(3, 2), (2, 1)])
def test_markov_batch_and_online_match_a_plain_implementation(excerpt, order, min_count) -> None:
    seen = excerpt.through_valid()
    model = Markov(order=order, alpha=0.3, min_count=min_count).fit(
        excerpt.train(), valid=excerpt.valid()
    )
    positions = excerpt.test_positions()[::7]
    pred = model.predict(excerpt, positions)
    plain = plain_markov(seen.task.tolist(), excerpt.n_tasks, order, 0.3, min_count)
    tasks, delta = excerpt.task.tolist(), excerpt.delta_us.tolist()
    for k, p in enumerate(positions):
        proba, mean = plain(tasks[:p], delta)
        assert pred.task_proba[k] == pytest.approx(proba, abs=1e-6), p
        assert pred.delta_us[k] == pytest.approx(mean), p
    start = int(excerpt.test_positions()[0])
    online = model.online(excerpt.rows(0, start))
    for p in range(start, start + 200):
        proba, mean = plain(tasks[:p], delta)
        got_proba, got_delta = online.predict_next()
        assert got_proba == pytest.approx(proba, abs=1e-6), p
        assert got_delta == pytest.approx(mean), p
        online.update(row_at(excerpt, p))


def test_markov_online_backs_off_to_the_unigram(runs: Runs) -> None:
    # With min_count 2 the context <other> (followed once) is dropped: after row 18 (c) the
    # online predictor answers the unigram, as the batch one does at position 19.
    model = Markov(order=1, alpha=0.5, min_count=2).fit(runs.train(), valid=runs.valid())
    proba, delta = model.online(runs.rows(0, 19)).predict_next()
    assert proba == pytest.approx(UNIGRAM, abs=1e-6) and delta == pytest.approx(8.5)


def test_markov_online_from_an_empty_history_equals_batch(runs: Runs) -> None:
    model = Markov(order=2, alpha=0.5).fit(runs.train(), valid=runs.valid())
    online = model.online(runs.rows(0, 0))
    for p in range(8):
        proba, delta = online.predict_next()
        batch = model.predict(runs, np.array([p]))
        assert proba == pytest.approx(batch.task_proba[0], abs=1e-6), p
        assert delta == pytest.approx(batch.delta_us[0]), p
        online.update(row_at(runs, p))
