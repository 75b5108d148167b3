"""The tree models' streaming features, compiled: O(1) state per run in two flat arrays.

`FeatureStream(builder, history)` is the online half of `models.features.FeatureBuilder`
(the batch half is `FeatureBuilder.transform`): primed with a history, `update(row)` appends
the run that ended and `features()` is the next position's float32 row, equal to the batch
row (tests check it bit for bit). The state lives in two arrays so that a model's compiled
step can take it as two arguments and call `advance` inline:

* `ints` (int64): a header (sizes, rows seen, the end of the last run, the ring's head and
  length), then per candidate task its last row index, last end time, window count and window
  sum of run lengths, the ring of the last `window` runs (candidate slot, nanoseconds), the
  task -> candidate slot table, and per `follow_c` order its context code and the table of
  each context's last follower;
* `floats` (float64): the next position's feature row (float64 values that round to the batch
  path's float32), then the kernel-thread flag of each comm.

`attach` appends a model's own int and float arrays after the stream's (their offsets go in
the header), so that a whole compiled step takes two arrays and the run's six numbers: each
array argument costs the numba dispatcher ~55 ns, a third of a 1 us step with a dozen arrays.

Integer quantities stay int64 (nanoseconds: `rint(delta_us * 1000)`), times and means are one
IEEE division of them, as in the batch path. The one transcendental value, log1p of the run
length, comes from the C library here and from numpy's SIMD loop in the batch path; the two
can differ in the last float64 bit, which rounds to the same float32 on every run of the
shipped traces (checked over all of them).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from benchmark.data.dataset import Runs
from benchmark.running.protocol import RunRow
from models.features import (
    MISSING,
    SINCE_NEVER_RUNS,
    SINCE_NEVER_US,
    context_codes,
    follow_table_size,
    ns_of,
)

if TYPE_CHECKING:
    from models.features import FeatureBuilder

# header slots of the int state; MODEL_INTS / MODEL_FLOATS: where a model's arrays begin
K, M, WINDOW, N_SLOTS, N_COMMS, N_FEATURES, N_SEEN, NOW, HEAD, LENGTH = range(10)
MODEL_INTS, MODEL_FLOATS = 10, 11
N_FOLLOW, FOLLOW_AT = 12, 13  # the follow_c orders and where their block begins
HEADER = 14
# per follow_c order, its slots in the follow block: the order, its table's size, the weight of
# the most recent run's slot (n_slots ** (order - 1)), the code of the next position's context
# and where its table begins
F_ORDER, F_SIZE, F_TOP, F_CODE, F_TABLE = range(5)
F_SLOTS = 5


@njit(cache=True)
def advance(ints, floats, task, comm, delta_us, end_state, prio, t_ns):
    """Append one run to the state and rewrite the next position's feature row in place."""
    k, m, w = ints[K], ints[M], ints[WINDOW]
    n_slots, n_comms = ints[N_SLOTS], ints[N_COMMS]
    last_idx = HEADER
    last_end = last_idx + m
    win_n = last_end + m
    win_s = win_n + m
    ring_slot = win_s + m
    ring_ns = ring_slot + w
    slot_of = ring_ns + w
    row = floats
    kthread = ints[N_FEATURES]
    base = 5 * k + 1

    ns = np.int64(np.rint(delta_us * 1000.0))
    end = np.int64(t_ns) + ns
    ints[NOW] = end
    for j in range(5 * k - 1, 4, -1):  # the last-k block moves back by one run
        row[j] = row[j - 5]
    row[0] = float(task)
    row[1] = float(comm)
    row[2] = float(end_state)
    row[3] = math.log1p(delta_us)
    row[4] = floats[kthread + comm] if 0 <= comm < n_comms else 0.0
    row[5 * k] = float(prio)

    slot = ints[slot_of + task] if 0 <= task < n_slots else -1
    n = ints[N_SEEN]
    digit = slot if slot >= 0 else m  # the shared slot of the tasks that are no candidate
    first_follow = base + 5 * m
    for j in range(ints[N_FOLLOW]):
        at = ints[FOLLOW_AT] + F_SLOTS * j
        order, size, code = ints[at + F_ORDER], ints[at + F_SIZE], ints[at + F_CODE]
        if n >= order:  # this run follows the context of its own position
            ints[ints[at + F_TABLE] + code % size] = task
        code = code // (m + 1) + digit * ints[at + F_TOP]
        ints[at + F_CODE] = code
        follower = ints[ints[at + F_TABLE] + code % size] if n + 1 >= order else -1
        row[first_follow + j] = float(follower) if follower >= 0 else MISSING
    if slot >= 0:
        ints[last_idx + slot] = n
        ints[last_end + slot] = end
        row[base + 2 * m + slot] = ns / 1000.0
        ints[win_n + slot] += 1
        ints[win_s + slot] += ns
    old = -1
    head, length = ints[HEAD], ints[LENGTH]
    if length < w:
        at = (head + length) % w
        ints[LENGTH] = length + 1
    else:  # the oldest run leaves the window
        at = head
        old = ints[ring_slot + at]
        if old >= 0:
            ints[win_n + old] -= 1
            ints[win_s + old] -= ints[ring_ns + at]
        ints[HEAD] = (head + 1) % w
    ints[ring_slot + at] = slot
    ints[ring_ns + at] = ns
    for s in (slot, old):
        if s >= 0:
            c = ints[win_n + s]
            row[base + 3 * m + s] = ints[win_s + s] / c / 1000.0 if c else MISSING
            row[base + 4 * m + s] = float(c)
    n += 1
    ints[N_SEEN] = n
    for s in range(m):
        i = ints[last_idx + s]
        if i >= 0:
            row[base + s] = float(n - i)
            row[base + m + s] = (end - ints[last_end + s]) / 1000.0
        else:
            row[base + s] = SINCE_NEVER_RUNS
            row[base + m + s] = SINCE_NEVER_US


def _prime_follow(
    ints: np.ndarray, builder: FeatureBuilder, task: np.ndarray, at: int, sizes: list[int]
) -> None:
    """Fill the follow block from the history's tasks: each context's last follower, and the
    code of the next position's context (as `advance` rolls it, so that later steps continue
    it: with fewer than `order` runs, the code of those runs alone)."""
    n_slots = len(builder.top_tasks) + 1
    slots = builder.slot_of_task()[task] if len(task) else np.zeros(0, dtype=np.int64)
    n = len(task)
    table = at + F_SLOTS * len(sizes)
    for j, (order, size) in enumerate(zip(builder.follow, sizes, strict=True)):
        head = at + F_SLOTS * j
        top = n_slots ** (order - 1)
        ints[head + F_ORDER], ints[head + F_SIZE], ints[head + F_TOP] = order, size, top
        ints[head + F_TABLE] = table
        ints[table : table + size] = -1
        codes = context_codes(slots, order, n_slots)  # positions order, ..., n
        if n > order:  # position p in [order, n) was followed by task[p]; the latest one wins
            entry = codes[:-1] % size
            last = len(entry) - 1 - np.unique(entry[::-1], return_index=True)[1]
            ints[table + entry[last]] = task[order:][last]
        code = int(codes[-1]) if n >= order else 0
        if n < order:
            for s in slots.tolist():
                code = code // n_slots + s * top
        ints[head + F_CODE] = code
        table += size


class FeatureStream:
    """Incremental features: `update(row)` per run that ends, `features()` for the next one."""

    def __init__(self, builder: FeatureBuilder, history: Runs) -> None:
        builder.check_runs(history)
        self.builder = builder
        m, w = len(builder.top_tasks), builder.window
        n_slots = max(builder.n_tasks, 1)
        nf = builder.n_features
        follow_at = HEADER + 4 * m + 2 * w + n_slots
        sizes = [follow_table_size(m + 1, c) for c in builder.follow]
        ints = np.zeros(follow_at + F_SLOTS * len(sizes) + sum(sizes), dtype=np.int64)
        ints[[K, M, WINDOW, N_SLOTS, N_COMMS, N_FEATURES, N_FOLLOW, FOLLOW_AT]] = (
            builder.k,
            m,
            w,
            n_slots,
            len(builder.kthread),
            nf,
            len(sizes),
            follow_at,
        )
        last_idx, last_end = HEADER, HEADER + m
        win_n, win_s = HEADER + 2 * m, HEADER + 3 * m
        ring_slot, ring_ns, slot_of = HEADER + 4 * m, HEADER + 4 * m + w, HEADER + 4 * m + 2 * w
        slots = np.full(n_slots, -1, dtype=np.int64)
        slots[builder.top_tasks] = np.arange(m)
        ints[slot_of:follow_at] = slots

        n = len(history)
        task = history.task.astype(np.int64)
        dns = ns_of(history.delta_us)
        end_ns = history.t_ns.astype(np.int64) + dns
        ints[N_SEEN], ints[NOW] = n, (int(end_ns[-1]) if n else 0)
        ints[last_idx : last_idx + m] = -1
        for slot, t in enumerate(builder.top_tasks):
            where = np.flatnonzero(task == t)
            if len(where):
                ints[last_idx + slot] = where[-1]
                ints[last_end + slot] = end_ns[where[-1]]
        lo = max(0, n - w)
        ring = slots[task[lo:]]
        ints[LENGTH] = len(ring)
        ints[ring_slot : ring_slot + len(ring)] = ring
        ints[ring_ns : ring_ns + len(ring)] = dns[lo:]
        seen = ring >= 0
        ints[win_n : win_n + m] = np.bincount(ring[seen], minlength=m)
        np.add.at(ints, win_s + ring[seen], dns[lo:][seen])
        _prime_follow(ints, builder, task, follow_at, sizes)
        self.ints = ints
        self.floats = np.concatenate(
            [builder.transform(history, np.array([history.start + n]))[0], builder.kthread]
        ).astype(np.float64)
        self._out = np.empty(nf, dtype=np.float32)

    def attach(self, model_ints: np.ndarray, model_floats: np.ndarray) -> tuple[int, int]:
        """Append a model's arrays to the state; returns their offsets (also in the header)."""
        at_i, at_f = len(self.ints), len(self.floats)
        self.ints = np.concatenate([self.ints, np.asarray(model_ints, dtype=np.int64)])
        self.floats = np.concatenate([self.floats, np.asarray(model_floats, dtype=np.float64)])
        self.ints[MODEL_INTS], self.ints[MODEL_FLOATS] = at_i, at_f
        return at_i, at_f

    def update(self, row: RunRow) -> None:
        """Append the run that just ended and recompute the next position's row."""
        advance(self.ints, self.floats, *row[:5], row.t_ns)

    def features(self) -> np.ndarray:
        """float32[n_features]: the next position's features (equal to the batch path's).

        The array is reused by the next call: copy it to keep it.
        """
        out = self._out
        out[:] = self.floats[: len(out)]
        return out
