"""The tree models' features: batch == streaming (bit for bit), causal, documented layout."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmark.running.protocol import RunRow, row_at
from models.fast.stream import FeatureStream
from models.features import (
    MISSING,
    SINCE_NEVER_RUNS,
    SINCE_NEVER_US,
    ClassMap,
    FeatureBuilder,
    follow_table_size,
    is_kernel_thread,
)

# follow=(1, 2, 6): two exact tables and one of 7**6 contexts folded into FOLLOW_TABLE entries
FOLLOW = (1, 2, 6)


@pytest.fixture(scope="module", params=[(), FOLLOW], ids=["plain", "follow"])
def builder(excerpt, request):
    return FeatureBuilder.fit(excerpt.train(), k=3, top_m=6, window=32, follow=request.param)


def test_layout(builder, excerpt):
    assert (
        len(builder.names)
        == builder.n_features
        == (5 * 3 + 1 + 5 * len(builder.top_tasks) + len(builder.follow))
    )
    assert len(builder.top_tasks) == 6
    counts = np.bincount(excerpt.train().task, minlength=excerpt.n_tasks)
    # the candidates are the most frequent training tasks, most frequent first
    assert list(counts[builder.top_tasks]) == sorted(counts[builder.top_tasks], reverse=True)
    assert counts[builder.top_tasks].min() >= np.sort(counts)[::-1][5]
    for j in builder.categorical:
        assert builder.names[j].split("_")[0] in ("task", "comm", "state", "follow")
    assert [n for n in builder.names if n.startswith("follow_")] == [
        f"follow_{c}" for c in builder.follow
    ]


@pytest.mark.parametrize("start", [0, 700])
def test_batch_equals_streaming(builder, excerpt, start):
    """The streaming row before each update equals the batch row, bit for bit, also for a
    slice that does not start at row 0 (history starts where the slice starts)."""
    runs = excerpt.rows(start, excerpt.start + len(excerpt))
    prime = start + 40
    positions = np.arange(start, start + len(runs) + 1)
    batch = builder.transform(runs, positions)
    stream = FeatureStream(builder, runs.rows(start, start))  # empty history: the slice start
    for k, position in enumerate(positions[:-1]):
        row = stream.features()
        assert np.array_equal(row, batch[k]), (
            f"streaming != batch at position {position}: columns "
            f"{[builder.names[j] for j in np.flatnonzero(row != batch[k])]}"
        )
        stream.update(row_at(runs, int(position)))
        if position == prime:  # a stream primed with history agrees too
            primed = FeatureStream(builder, runs.rows(start, prime + 1))
            assert np.array_equal(primed.features(), batch[k + 1])
    assert np.array_equal(stream.features(), batch[-1])


@pytest.mark.parametrize("primed", range(9))
def test_streaming_from_a_short_history(builder, excerpt, primed):
    """A stream primed with fewer runs than a follow_c order (its context code is then partial)
    continues to equal the batch rows once the order is reached."""
    positions = np.arange(excerpt.start + primed, excerpt.start + primed + 30)
    batch = builder.transform(excerpt, positions)
    stream = FeatureStream(builder, excerpt.rows(excerpt.start, excerpt.start + primed))
    for k, position in enumerate(positions):
        assert np.array_equal(stream.features(), batch[k]), (primed, int(position))
        stream.update(row_at(excerpt, int(position)))


def test_features_are_causal(builder, excerpt):
    """Features at p depend on rows < p only: changing rows >= c leaves positions <= c alone."""
    cut = excerpt.start + 1500
    rng = np.random.default_rng(0)
    local = cut - excerpt.start
    fields = {}
    for name in ("t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state"):
        values = getattr(excerpt, name).copy()
        values[local:] = rng.permutation(values)[: len(values) - local]
        fields[name] = values
    scrambled = replace(excerpt, **fields)
    positions = np.arange(excerpt.start, cut + 1)
    assert np.array_equal(
        builder.transform(excerpt, positions), builder.transform(scrambled, positions)
    )
    # and the row at cut + 1 does read row cut
    after = np.array([cut + 1])
    assert not np.array_equal(
        builder.transform(excerpt, after), builder.transform(scrambled, after)
    )


def test_values_by_hand(builder, excerpt):
    """A few columns recomputed from their definitions."""
    p = excerpt.start + 900
    row = builder.transform(excerpt, np.array([p]))[0]
    names = builder.names
    i = p - excerpt.start
    assert row[names.index("task_1")] == excerpt.task[i - 1]
    assert row[names.index("comm_2")] == excerpt.comm[i - 2]
    assert row[names.index("logd_3")] == np.float32(np.log1p(excerpt.delta_us[i - 3]))
    assert row[names.index("prio_1")] == excerpt.prio[i - 1]
    for m in builder.top_tasks[:3]:
        past = np.flatnonzero(excerpt.task[:i] == m)
        window = excerpt.task[max(0, i - builder.window) : i] == m
        assert row[names.index(f"since_runs_{m}")] == (i - past[-1] if len(past) else 1e9)
        assert row[names.index(f"count_{m}")] == window.sum()
        if len(past):
            assert row[names.index(f"last_len_{m}")] == pytest.approx(
                excerpt.delta_us[past[-1]], rel=1e-6
            )
            lengths = excerpt.delta_us[max(0, i - builder.window) : i][window]
            if len(lengths):
                assert row[names.index(f"mean_len_{m}")] == pytest.approx(lengths.mean(), rel=1e-5)


def test_follow_by_hand(excerpt):
    """follow_c is the task after the most recent earlier occurrence of the last c runs' slots:
    recomputed by scanning back, with the exact context for orders whose table holds every
    context, and with the table entry (the context code modulo the table size) for order 6."""
    builder = FeatureBuilder.fit(excerpt.train(), k=3, top_m=6, window=32, follow=FOLLOW)
    slots = builder.slot_of_task()[excerpt.task.astype(np.int64)]
    n_slots = len(builder.top_tasks) + 1
    positions = np.arange(excerpt.start, excerpt.start + 1200)
    rows = builder.transform(excerpt, positions)
    found = dict.fromkeys(FOLLOW, 0)
    for order in FOLLOW:
        size = follow_table_size(n_slots, order)
        assert (size == n_slots**order) == (order < 6)

        def entry(i: int, order: int = order, size: int = size) -> int:
            code = 0
            for back in range(1, order + 1):
                code = code * n_slots + int(slots[i - back])
            return code % size

        for k, p in enumerate(positions - excerpt.start):
            want = MISSING
            if p >= order:
                for q in range(p - 1, order - 1, -1):
                    if entry(q) == entry(p):
                        want = float(excerpt.task[q])
                        break
            assert rows[k, builder.names.index(f"follow_{order}")] == want, (order, p)
            found[order] += want != MISSING
    assert min(found.values()) > 1000  # the contexts recur: the columns are mostly filled


def test_follow_orders_are_checked(excerpt):
    for bad in ((2, 1), (0,), (1, 1), (9,)):
        with pytest.raises(ValueError, match="follow must be increasing"):
            FeatureBuilder.fit(excerpt.train(), follow=bad)


def test_runs_of_another_vocabulary_are_refused(builder, excerpt):
    """Ids of another trace's vocabulary (an excerpt has its own) are refused in one line by both
    paths, not an IndexError from deep inside."""
    other = replace(
        excerpt, split=replace(excerpt.split, vocabulary=(*excerpt.vocabulary, "extra-task"))
    )
    with pytest.raises(ValueError, match="do not share the vocabulary"):
        builder.transform(other, np.array([other.start + 10]))
    with pytest.raises(ValueError, match="predict rows of the trace it was fitted on"):
        FeatureStream(builder, other.rows(other.start, other.start + 10))


def test_empty_history(builder, excerpt):
    row = builder.transform(excerpt, np.array([excerpt.start]))[0]
    m = len(builder.top_tasks)
    base = 5 * builder.k + 1
    assert (row[:base] == MISSING).all()
    assert (row[base : base + m] == np.float32(SINCE_NEVER_RUNS)).all()
    assert (row[base + m : base + 2 * m] == np.float32(SINCE_NEVER_US)).all()
    assert (row[base + 4 * m : base + 5 * m] == 0).all()
    assert (row[base + 5 * m :] == MISSING).all()  # no context has occurred


def test_stream_handles_unknown_ids(builder, excerpt):
    """A row with the catch-all ids 0 (no candidate task), prio -1 and a clock that went back
    becomes lag 1 as given and shifts the history; candidate columns count only real runs."""
    stream = FeatureStream(builder, excerpt.rows(excerpt.start, excerpt.start + 10))
    stream.update(RunRow(task=0, comm=0, delta_us=12.5, end_state=0, prio=-1, pid=1, t_ns=10**12))
    row = stream.features()
    assert np.isfinite(row).all()
    col = {name: float(row[j]) for j, name in enumerate(builder.names)}
    assert (col["task_1"], col["comm_1"], col["state_1"], col["prio_1"]) == (0, 0, 0, -1)
    assert col["logd_1"] == np.float32(np.log1p(12.5))
    assert 0 not in builder.top_tasks  # so the appended run is no candidate's last run
    task = np.append(excerpt.task[:10], 0)
    delta = np.append(excerpt.delta_us[:10], 12.5)
    for back in (2, 3):  # the history moved one run back
        assert col[f"task_{back}"] == task[11 - back]
        assert col[f"comm_{back}"] == excerpt.comm[11 - back]
        assert col[f"logd_{back}"] == np.float32(np.log1p(delta[11 - back]))
    for m in builder.top_tasks:
        where = np.flatnonzero(task == m)  # all 11 rows lie inside the 32-run window
        assert col[f"count_{m}"] == len(where)
        if len(where):
            assert col[f"since_runs_{m}"] == 11 - where[-1]
            assert col[f"last_len_{m}"] == pytest.approx(delta[where[-1]], rel=1e-6)
            assert col[f"mean_len_{m}"] == pytest.approx(delta[where].mean(), rel=1e-5)
        else:
            assert col[f"since_runs_{m}"] == 1e9
            assert col[f"last_len_{m}"] == col[f"mean_len_{m}"] == -1


@pytest.mark.parametrize(
    "comm",
    [
        "kworker/1:1",
        "kworker/u8:3",
        "ksoftirqd/1",
        "rcu_preempt",
        "rcu_sched",
        "migration/1",
        "kthreadd",
        "idle_inject/0",
        "watchdogd",
        "cpuhp/1",
        "irq/123-nvme0q1",
        "<idle>",
        "swapper/1",
        "kcompactd0",
        "kdamond.0",
        "jbd2/sda1-8",
        "md0_raid1",
    ],
)
def test_kernel_threads(comm):
    assert is_kernel_thread(comm)


@pytest.mark.parametrize(
    "comm", ["nginx", "ab", "python3", "bash", "memfd:sealed-91", "mdadm", "kworkers", "cardgame"]
)
def test_user_tasks(comm):
    assert not is_kernel_thread(comm)


def test_class_map():
    task = np.array([1, 1, 1, 2, 2, 3, 4, 4, 5])
    cmap = ClassMap.fit(task, n_tasks=7, max_classes=2)
    assert list(cmap.top) == [1, 2]
    assert list(cmap.rest) == [3, 4, 5]
    assert list(cmap.labels(np.array([1, 2, 3, 6]))) == [0, 1, 2, 2]
    proba = cmap.to_vocabulary(np.array([[0.5, 0.2, 0.3]]), np.array([0, 1, 2]))
    assert proba.dtype == np.float32 and proba.shape == (1, 7)
    assert proba.sum() == pytest.approx(1.0, abs=1e-6)
    assert proba[0, 0] == 0 and proba[0, 6] == 0  # never seen in training
    assert proba[0, 4] == pytest.approx(0.3 * 2 / 4)  # residual share by training count
    # a class absent from the classifier's classes gets 0
    partial = cmap.to_vocabulary(np.array([[0.25, 0.75]]), np.array([0, 2]))
    assert partial[0, 2] == 0 and partial.sum() == pytest.approx(1.0, abs=1e-6)
