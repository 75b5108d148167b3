"""Causal features for the tree models (`decision_tree`, `lightgbm`): one builder, two paths.

For a position `p` (a full-trace row index) every feature is computed from rows `< p` of the
`Runs` given, and only from rows at or after that slice's start (a slice that starts later
simply has less history). Two implementations compute the same numbers:

* `FeatureBuilder.transform(runs, positions)`: vectorized numpy over all positions at once
  (a loop over the `top_m` candidate tasks, none over rows), used by `fit` and `predict`;
* `models.fast.stream.FeatureStream(builder, history)`: O(1)-per-row state in flat arrays
  with a compiled (numba) update, for `online()`: `update(row)` then `features()` for the
  next position.

Both give bit-identical float32 rows (tests/test_features.py checks it): integer quantities are
kept in int64 (run lengths in nanoseconds, `rint(delta_us * 1000)`), times and lengths are one
IEEE division of those integers; the one transcendental function (log1p of the last k run
lengths) may differ in the last float64 bit between numpy and the C library, which rounds to
the same float32 on every shipped run (see models/fast/stream.py).

Columns (`FeatureBuilder.names`), with `b` = 1..k runs back and `m` = the candidate tasks:

* `task_b`, `comm_b`, `state_b` (categorical ids; -1 before the slice start),
  `logd_b` = log1p(delta_us of that run) (-1 before the start),
  `kthread_b` = 1 if that run's comm is a kernel thread (see `is_kernel_thread`), 0 if not,
  -1 before the start;
* `prio_1`: the kernel priority of the last run (-1 where unknown or before the start);
* `follow_c` for each context order `c` in `follow` (none unless asked for; `distilled_tree`
  asks): the task that ran after the most recent earlier occurrence of the last `c` runs'
  context, -1 if that context has not occurred yet (or fewer than `c` runs precede). A context
  is the `c` runs' candidate slots (tasks outside the `top_m` candidates share one slot, as in
  the per-candidate columns); with `B = len(top_tasks) + 1` slots there are `B**c` contexts,
  looked up modulo `follow_table_size(B, c)` = min(B**c, FOLLOW_TABLE), so contexts of a high
  order can share an entry (both paths share it the same way). It is markov's context with
  a memory of one: it follows a change of the order in which tasks take turns at once, where a
  tree fitted on the training rows cannot. The streaming path keeps one table per order;
* per candidate task `m` (the `top_m` most frequent tasks of the training rows, ties by id,
  `<other>` included if it is among them; fixed at `fit`), in microseconds:
  `since_runs_m`  runs since `m` last ran (1 = it ran last; 1e9 if it has not run yet),
  `since_us_m`    microseconds from the end of `m`'s last run to now, the end of the last run
                  (1e12 if it has not run yet),
  `last_len_m`    `m`'s last run length (-1 if none),
  `mean_len_m`    `m`'s mean run length over its runs among the last `window` runs (-1 if none),
  `count_m`       how many of the last `window` runs were `m`.

The per-task times are not log-transformed: the tree models are invariant to monotone
transforms of a feature, and plain divisions keep the streaming update cheap and exact.
Only the `top_m` candidates get per-task columns so that the matrix stays
`5k + 1 + 5 top_m + len(follow)` wide whatever the vocabulary size (traces can have 50+ tasks;
the most frequent 8-16 cover nearly all runs); the rest are still visible through `task_b`/`comm_b`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.data.dataset import Runs

SINCE_NEVER_RUNS = 1e9
SINCE_NEVER_US = 1e12
MISSING = -1.0
# The most entries a `follow_c` table has (a prime, so that the modulo mixes every slot of a
# context): 128 KiB of int64 per order, which a forecast's 2,000 forks copy.
FOLLOW_TABLE = 16381
MAX_FOLLOW_ORDER = 8


def follow_table_size(n_slots: int, order: int) -> int:
    """Entries of the `follow_<order>` table over `n_slots` candidate slots (see the module)."""
    return min(n_slots**order, FOLLOW_TABLE)


def context_codes(slots: np.ndarray, order: int, n_slots: int) -> np.ndarray:
    """int64[len(slots) + 1 - order]: for i = order, ..., len(slots), the code of the context
    of position i (the candidate slots of runs i - order, ..., i - 1, the most recent the
    highest digit, as the streaming path rolls it); empty if there are fewer than `order`."""
    stop = len(slots)
    if stop < order:
        return np.zeros(0, dtype=np.int64)
    code = np.zeros(stop + 1 - order, dtype=np.int64)
    for back in range(1, order + 1):
        code = code * n_slots + slots[order - back : stop + 1 - back]
    return code


# Comm names of kernel threads (Linux names them itself; comms are truncated to 15 chars).
# The rule: a comm is a kernel thread when it is `<idle>`/`swapper*` (the idle task), or starts
# with one of the per-CPU or per-device kernel-thread prefixes below (kworker/, ksoftirqd/,
# rcu_*/rcuc/rcuog/rcuop/..., migration/, idle_inject/, watchdog*, cpuhp/, irq/, kswapd, jbd2/,
# ...), or is one of the singleton kernel threads (kthreadd, khugepaged, oom_reaper, ...).
# Everything else (nginx, ab, python, the captures' helpers) is a user task.
_KTHREAD_PREFIXES = (
    "kworker/",
    "ksoftirqd/",
    "rcu_",
    "rcuc/",
    "rcub/",
    "rcuog/",
    "rcuop/",
    "rcuos/",
    "migration/",
    "idle_inject/",
    "watchdog",
    "cpuhp/",
    "irq/",
    "swapper",
    "kswapd",
    "kcompactd",
    "jbd2/",
    "ext4-",
    "xfs",
    "scsi_",
    "napi/",
    "nvme",
    "card",  # DRM: card0-crtc0 ...
    "kdmflush",
    "kcryptd",
    "dmcrypt_",
    "pool_workqueue",
    "kthrotld",
    "kstrp",
    "kdamond",
    "ksmd",
    "kblockd",
    "kauditd",
    "khungtaskd",
    "kintegrityd",
    "writeback",
    "blkcg_punt_bio",
    "md",
    "edac-",
    "ipv6_addrconf",
    "mm_percpu_wq",
    "zswap",
)
_KTHREAD_NAMES = frozenset(
    {
        "<idle>",
        "kthreadd",
        "khugepaged",
        "oom_reaper",
        "kdevtmpfs",
        "netns",
        "inet_frag_wq",
        "tpm_dev_wq",
        "ata_sff",
        "charger_manager",
        "kpsmoused",
        "cryptd",
        "hwrng",
        "khvcd",
    }
)
_MD_RE = re.compile(r"^md\d*(_|$)")  # md0_raid1, md (not "mdadm" style user tools)


def is_kernel_thread(comm: str) -> bool:
    """Whether a comm name is a kernel thread's, by the naming rule documented above."""
    if comm in _KTHREAD_NAMES:
        return True
    if comm.startswith("md"):
        return bool(_MD_RE.match(comm))
    if comm.startswith("card"):
        return bool(re.match(r"^card\d+-", comm))
    return comm.startswith(_KTHREAD_PREFIXES)


def ns_of(delta_us: np.ndarray) -> np.ndarray:
    """Run lengths in integer nanoseconds (exact for traces recorded with --ns)."""
    return np.rint(np.asarray(delta_us, dtype=np.float64) * 1000.0).astype(np.int64)


@dataclass
class FeatureBuilder:
    """Fitted feature layout: which tasks get per-task columns, and the kernel-thread flags."""

    k: int
    top_m: int
    window: int
    top_tasks: np.ndarray  # int64[M'] candidate task ids, most frequent first (M' <= top_m)
    kthread: np.ndarray  # float64[n_comms] 1.0 for kernel-thread comms
    n_tasks: int
    follow: tuple[int, ...] = ()  # context orders of the follow_c columns, increasing
    # the fitted trace's task and comm vocabularies: ids mean nothing under another's
    vocabulary: tuple[str, ...] = ()
    comm_vocabulary: tuple[str, ...] = ()

    @classmethod
    def fit(
        cls,
        train: Runs,
        *,
        k: int = 4,
        top_m: int = 16,
        window: int = 64,
        follow: tuple[int, ...] = (),
    ) -> FeatureBuilder:
        if k < 1 or top_m < 0 or window < 1:
            raise ValueError(f"need k >= 1, top_m >= 0, window >= 1; got {k}, {top_m}, {window}")
        follow = tuple(int(c) for c in follow)
        if list(follow) != sorted(set(follow)) or any(
            not 1 <= c <= MAX_FOLLOW_ORDER for c in follow
        ):
            raise ValueError(
                f"follow must be increasing context orders in 1..{MAX_FOLLOW_ORDER}; got {follow}"
            )
        counts = np.bincount(train.task, minlength=train.n_tasks)
        order = np.lexsort((np.arange(len(counts)), -counts))  # most frequent first, ties by id
        top = order[counts[order] > 0][:top_m].astype(np.int64)
        kthread = np.array(
            [1.0 if is_kernel_thread(c) else 0.0 for c in train.comm_vocabulary], dtype=np.float64
        )
        kthread[0] = 0.0  # `<other>`: unknown comms count as user tasks
        return cls(
            int(k),
            int(top_m),
            int(window),
            top,
            kthread,
            int(train.n_tasks),
            follow,
            tuple(train.vocabulary),
            tuple(train.comm_vocabulary),
        )

    def check_runs(self, runs: Runs) -> None:
        """Refuse runs whose ids come from another vocabulary than the fitted trace's (a model
        fitted on an excerpt, which has its own vocabulary, asked about the full trace)."""
        if self.vocabulary and (
            runs.vocabulary != self.vocabulary or runs.comm_vocabulary != self.comm_vocabulary
        ):
            raise ValueError(
                f"runs of {runs.name!r} ({runs.n_tasks} tasks, {runs.n_comms} comms) do not share "
                f"the vocabulary the model was fitted with ({len(self.vocabulary)} tasks, "
                f"{len(self.comm_vocabulary)} comms): predict rows of the trace it was fitted on"
            )

    # -- layout ------------------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        return 5 * self.k + 1 + 5 * len(self.top_tasks) + len(self.follow)

    @property
    def names(self) -> list[str]:
        out = []
        for b in range(1, self.k + 1):
            out += [f"task_{b}", f"comm_{b}", f"state_{b}", f"logd_{b}", f"kthread_{b}"]
        out.append("prio_1")
        for kind in ("since_runs", "since_us", "last_len", "mean_len", "count"):
            out += [f"{kind}_{int(m)}" for m in self.top_tasks]
        out += [f"follow_{c}" for c in self.follow]
        return out

    @property
    def categorical(self) -> list[int]:
        """Column indices holding ids (task_b, comm_b, state_b, follow_c)."""
        first_follow = self.n_features - len(self.follow)
        return [5 * (b - 1) + j for b in range(1, self.k + 1) for j in range(3)] + list(
            range(first_follow, self.n_features)
        )

    def slot_of_task(self) -> np.ndarray:
        """int64[n_tasks]: each task's candidate slot (its place in `top_tasks`), and
        `len(top_tasks)` (the shared slot) for every other task."""
        m = len(self.top_tasks)
        slots = np.full(max(self.n_tasks, 1), m, dtype=np.int64)
        slots[self.top_tasks] = np.arange(m)
        return slots

    # -- batch -------------------------------------------------------------------------------
    def transform(self, runs: Runs, positions: np.ndarray) -> np.ndarray:
        """float32[len(positions), n_features]: features of each position from rows < it."""
        self.check_runs(runs)
        positions = np.asarray(positions, dtype=np.int64)
        local = positions - runs.start
        if len(local) and (local.min() < 0 or local.max() > len(runs)):
            raise IndexError("positions must lie in [runs.start, runs.start + len(runs)]")
        n = len(local)
        out = np.empty((n, self.n_features), dtype=np.float32)
        if n == 0:
            return out
        stop = int(local.max())  # rows [0, stop) are all any position may read
        if stop == 0:  # no position has any history
            out[:] = self._empty_row()
            return out
        task = runs.task[:stop].astype(np.int64)
        comm = runs.comm[:stop].astype(np.int64)
        state = runs.end_state[:stop].astype(np.int64)
        delta = np.asarray(runs.delta_us[:stop], dtype=np.float64)
        dns = ns_of(delta)
        end_ns = runs.t_ns[:stop].astype(np.int64) + dns
        logd = np.log1p(delta)
        kth = self.kthread[comm]

        for b in range(1, self.k + 1):
            row = local - b
            ok = row >= 0
            safe = np.where(ok, row, 0)
            col = 5 * (b - 1)
            for j, values in enumerate((task, comm, state, logd, kth)):
                out[:, col + j] = np.where(ok, values[safe], MISSING)
        ok = local >= 1
        safe = np.where(ok, local - 1, 0)
        prio = runs.prio[:stop].astype(np.float64)
        out[:, 5 * self.k] = np.where(ok, prio[safe], MISSING)
        now = np.where(ok, end_ns[safe], 0)

        base = 5 * self.k + 1
        m_count = len(self.top_tasks)
        index = np.arange(stop, dtype=np.int64)
        lo = np.maximum(local - self.window, 0)
        for slot, m in enumerate(self.top_tasks):
            hit = task == m
            last = np.maximum.accumulate(np.where(hit, index, -1))
            last_before = np.where(ok, last[safe], -1)
            seen = last_before >= 0
            lb = np.where(seen, last_before, 0)
            cum_n = np.concatenate([[0], np.cumsum(hit, dtype=np.int64)])
            cum_s = np.concatenate([[0], np.cumsum(np.where(hit, dns, 0), dtype=np.int64)])
            count = cum_n[local] - cum_n[lo]
            total = cum_s[local] - cum_s[lo]
            since_runs = np.where(seen, (local - lb).astype(np.float64), SINCE_NEVER_RUNS)
            since_ns = np.where(seen, now - end_ns[lb], 0)
            since_us = np.where(seen, since_ns / 1000.0, SINCE_NEVER_US)
            last_len = np.where(seen, dns[lb] / 1000.0, MISSING)
            mean_len = np.where(count > 0, total / np.maximum(count, 1) / 1000.0, MISSING)
            for j, values in enumerate((since_runs, since_us, last_len, mean_len, count)):
                out[:, base + j * m_count + slot] = values
        first_follow = base + 5 * m_count
        for j, order in enumerate(self.follow):
            out[:, first_follow + j] = self._followers(task, order, local)
        return out

    def _followers(self, task: np.ndarray, order: int, local: np.ndarray) -> np.ndarray:
        """float64[len(local)]: the `follow_<order>` column (the module), by one stable sort of
        the contexts' table entries: each index's predecessor in its group is the most recent
        earlier index with the same entry."""
        stop = len(task)
        n_slots = len(self.top_tasks) + 1
        entry = np.full(stop + 1, -1, dtype=np.int64)  # index i: the context t[i-order..i-1]
        if stop >= order:
            codes = context_codes(self.slot_of_task()[task], order, n_slots)
            entry[order:] = codes % follow_table_size(n_slots, order)
        index = np.arange(stop + 1)
        by_entry = np.lexsort((index, entry))
        same = entry[by_entry[1:]] == entry[by_entry[:-1]]
        previous = np.full(stop + 1, -1, dtype=np.int64)
        previous[by_entry[1:][same]] = by_entry[:-1][same]
        previous[entry < 0] = -1
        q = previous[local]
        return np.where(q >= 0, task[np.maximum(q, 0)], MISSING)

    def _empty_row(self) -> np.ndarray:
        m_count = len(self.top_tasks)
        row = np.full(self.n_features, MISSING, dtype=np.float32)
        base = 5 * self.k + 1
        row[base : base + m_count] = SINCE_NEVER_RUNS
        row[base + m_count : base + 2 * m_count] = SINCE_NEVER_US
        row[base + 4 * m_count : base + 5 * m_count] = 0.0
        return row


@dataclass
class ClassMap:
    """The classifier's classes: the `max_classes` most frequent training tasks, each its own
    class, and one residual class for every other task seen in training.

    A classifier's probability for the residual class is spread over those other tasks in
    proportion to their training counts; tasks never seen in training get 0. Rows stay summing
    to 1. Capping the classes keeps multiclass fits bounded on traces with 50+ tasks (the 16
    most frequent cover over 98% of the runs of every shipped trace).
    """

    n_tasks: int
    top: np.ndarray  # int64[C] vocabulary ids of the top classes (class label = position)
    rest: np.ndarray  # int64[R] vocabulary ids merged into the residual class (label C)
    rest_weights: np.ndarray  # float64[R] their share of the residual class

    @classmethod
    def fit(cls, task: np.ndarray, n_tasks: int, max_classes: int) -> ClassMap:
        if max_classes < 1:
            raise ValueError(f"max_classes must be >= 1, got {max_classes}")
        counts = np.bincount(np.asarray(task, dtype=np.int64), minlength=n_tasks)
        order = np.lexsort((np.arange(n_tasks), -counts))  # most frequent first, ties by id
        top = order[counts[order] > 0][:max_classes].astype(np.int64)
        rest = np.setdiff1d(np.flatnonzero(counts > 0), top).astype(np.int64)
        weights = counts[rest] / counts[rest].sum() if len(rest) else np.zeros(0)
        return cls(int(n_tasks), top, rest, weights.astype(np.float64))

    def labels(self, task: np.ndarray) -> np.ndarray:
        """Class label of each task id (the residual label for tasks outside the top)."""
        label_of = np.full(self.n_tasks, len(self.top), dtype=np.int64)
        label_of[self.top] = np.arange(len(self.top))
        return label_of[np.asarray(task, dtype=np.int64)]

    def to_vocabulary(self, class_proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """float32[n, n_tasks]: probabilities over `classes` (labels, columns) in vocabulary
        order. Each vocabulary task takes its class's column times its weight (1 for a top
        class, its residual share, 0 when unseen): one gather and one product, so one row or
        many give the same bits. Rows sum to 1 when the class probabilities do (up to
        rounding)."""
        source, weight = self._gather(tuple(np.asarray(classes, dtype=np.int64).tolist()))
        padded = np.concatenate(
            [np.asarray(class_proba, dtype=np.float64), np.zeros((len(class_proba), 1))], axis=1
        )
        return (padded[:, source] * weight).astype(np.float32)

    def _gather(self, classes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        cache = self.__dict__.setdefault("_gather_cache", {})
        if classes not in cache:
            column = {label: j for j, label in enumerate(classes)}
            zero = len(classes)  # the padded zero column
            source = np.full(self.n_tasks, zero, dtype=np.int64)
            weight = np.zeros(self.n_tasks, dtype=np.float64)
            for label, task in enumerate(self.top.tolist()):
                if label in column:
                    source[task], weight[task] = column[label], 1.0
            residual = column.get(len(self.top))
            if residual is not None:
                source[self.rest] = residual
                weight[self.rest] = self.rest_weights
            cache[classes] = (source, weight)
        return cache[classes]


def feature_search_space(trial: Any, target: str | None = None) -> dict[str, Any]:
    """The feature parameters shared by the tree models' Optuna search spaces; `max_classes`
    (the classifier's class cap) only where the task target is fitted (`target` not "delta")."""
    out = {
        "k": trial.suggest_int("k", 1, 8),
        "top_m": trial.suggest_int("top_m", 4, 32, log=True),
        "window": trial.suggest_int("window", 16, 512, log=True),
    }
    if target != "delta":
        out["max_classes"] = trial.suggest_int("max_classes", 8, 64, log=True)
    return out
