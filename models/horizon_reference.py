"""`repeat_period`: the horizon track's "repeat the last period" reference (issue 14).

At each origin it finds the longest suffix (up to `max_suffix` tasks) of the task sequence
before the origin that occurred before, takes its most recent earlier occurrence, and replays
the rows that followed it: if the occurrence ends p rows before the origin, the forecast is the
last p rows (tasks and run lengths) repeated. A strictly periodic trace is forecast perfectly;
it is strong on ping-pong. It learns nothing (`fit` returns self). A reference row (registered
as `repeat_period`, tagged "reference") of both tracks: it overrides `forecast`, `predict` is
its horizon-1 forecast, and `online` is a compiled scan (`_follow`, numba) of the history for
the most recent row that ends the longest matching suffix: O(history) a step, the honest cost
of this rule without an index (its latency on the board).

Without any earlier occurrence (the last task never ran before) it repeats the last row; with
no history at all it predicts `<other>` (id 0) with run length 0.

Search: for each suffix length L = 1, 2, ... a 64-bit polynomial hash of every window of L
tasks, a stable sort of the hashes (so each window's predecessor in its group is its most
recent earlier occurrence), and an exact comparison of the matched windows (a hash collision,
p ~ 1e-8, can only make a suffix shorter). It stops at the first L no origin matches (a suffix
that never occurred has no longer one that did): O(N log N * L) for N rows, a few seconds on the
longest trace.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numba import njit

from benchmark.data.dataset import Runs
from benchmark.running.protocol import (
    Forecast,
    OnlinePredictor,
    Prediction,
    Predictor,
    Reporter,
    RunRow,
    check_origins,
    resolve_targets,
)

_BASE = np.uint64(0x100000001B3)  # FNV-64's prime: an odd multiplier, wraps mod 2^64


class RepeatPeriod(Predictor):
    """Replay what followed the last earlier occurrence of the current context."""

    name = "repeat_period"
    tags = frozenset({"reference"})
    context = None  # the most recent occurrence may lie anywhere in the history

    def __init__(self, *, max_suffix: int = 64) -> None:
        self.max_suffix = max_suffix

    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> RepeatPeriod:
        """Nothing to learn; checks the arguments and marks the model fitted."""
        resolve_targets(self, targets)
        if self.max_suffix < 1:
            raise ValueError(f"max_suffix must be >= 1, got {self.max_suffix}")
        self.fitted_ = True
        return self

    def forecast(self, runs: Runs, origins: np.ndarray, horizon: int) -> Forecast:
        self.check_fitted()
        origins = check_origins(runs, origins, horizon)
        task, delta = replay(
            runs.task, runs.delta_us, origins - runs.start, horizon, self.max_suffix
        )
        return Forecast(origins, horizon, task, delta)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        ends, back = np.unique(positions - runs.start, return_inverse=True)
        task, delta = replay(runs.task, runs.delta_us, ends, 1, self.max_suffix)
        proba = np.zeros((len(positions), runs.n_tasks), dtype=np.float32)
        proba[np.arange(len(positions)), task[back, 0]] = 1.0
        return Prediction(task_proba=proba, delta_us=delta[back, 0])

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        return _ReplayOnline(history, history.n_tasks, self.max_suffix)


class _ReplayOnline(OnlinePredictor):
    """The history's tasks and run lengths in growing arrays; a step scans them (`_follow`)."""

    def __init__(self, history: Runs, n_tasks: int, max_suffix: int) -> None:
        self.n = len(history)
        size = max(1024, 2 * self.n)
        self.tasks = np.zeros(size, dtype=np.int64)
        self.deltas = np.zeros(size, dtype=np.float64)
        self.tasks[: self.n] = history.task
        self.deltas[: self.n] = history.delta_us
        self.proba = np.zeros(n_tasks, dtype=np.float32)
        self.max_suffix = max_suffix

    def predict_next(self) -> tuple[np.ndarray, float]:
        n = self.n
        self.proba[:] = 0.0
        if n == 0:
            self.proba[0] = 1.0
            return self.proba, 0.0
        follow = _follow(self.tasks, n, self.max_suffix)
        at = follow if follow >= 0 else n - 1  # no earlier occurrence: repeat the last row
        self.proba[self.tasks[at]] = 1.0
        return self.proba, float(self.deltas[at])

    def update(self, row: RunRow) -> None:
        if self.n == len(self.tasks):
            self.tasks = np.concatenate([self.tasks, np.zeros_like(self.tasks)])
            self.deltas = np.concatenate([self.deltas, np.zeros_like(self.deltas)])
        self.tasks[self.n], self.deltas[self.n] = row.task, row.delta_us
        self.n += 1


@njit(cache=True)
def _follow(tasks: np.ndarray, n: int, max_suffix: int) -> int:
    """`_last_occurrence` for one end `n`, by a backward scan: the row after the most recent
    e < n whose preceding rows match the longest suffix of tasks[:n] (<= max_suffix); -1 if no
    earlier row matches even the last task."""
    best, best_len = -1, 0
    for e in range(n - 1, 0, -1):
        m = 0
        while m < max_suffix and m < e and tasks[e - 1 - m] == tasks[n - 1 - m]:
            m += 1
        if m > best_len:
            best, best_len = e, m
            if m == max_suffix:
                break
    return best


def replay(
    tasks: np.ndarray, deltas: np.ndarray, ends: np.ndarray, horizon: int, max_suffix: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Tasks (int64[n, H]) and run lengths (float64[n, H]) replayed after each local index in
    `ends` (sorted, unique, >= 0) from the rows before it only (see the module docstring)."""
    ends = np.asarray(ends, dtype=np.int64)
    if len(tasks) == 0:
        return np.zeros((len(ends), horizon), np.int64), np.zeros((len(ends), horizon))
    follow = _last_occurrence(np.asarray(tasks), ends, max_suffix)  # -1: none
    period = np.where(follow >= 0, ends - follow, 1)
    start = np.where(follow >= 0, follow, ends - 1)  # no occurrence: repeat the last row
    at = start[:, None] + np.arange(horizon)[None, :] % period[:, None]
    empty = ends == 0
    at[empty] = 0
    task = np.asarray(tasks)[at].astype(np.int64)
    delta = np.asarray(deltas)[at].astype(np.float64)
    task[empty], delta[empty] = 0, 0.0
    return task, delta


def _last_occurrence(tasks: np.ndarray, ends: np.ndarray, max_suffix: int) -> np.ndarray:
    """Per end n: the row after the most recent earlier occurrence (ending before n) of the
    longest suffix of tasks[:n] of length <= max_suffix that occurred before; -1 if none."""
    best = np.full(len(ends), -1, dtype=np.int64)
    top = int(ends.max()) if len(ends) else 0
    seq = tasks[:top].astype(np.uint64) + np.uint64(1)
    code = np.zeros(top + 1, dtype=np.uint64)  # code[e]: hash of the window tasks[e - L : e]
    for length in range(1, max_suffix + 1):
        if length > top:
            break
        code[length:] = code[length:] * _BASE + seq[: top + 1 - length]
        code[:length] = 0
        window_ends = np.arange(length, top + 1)
        order = np.argsort(code[length:], kind="stable")
        grouped = code[length:][order]
        tie = np.flatnonzero(grouped[1:] == grouped[:-1])
        prev = np.full(len(window_ends), -1, dtype=np.int64)
        prev[order[tie + 1]] = window_ends[order[tie]]
        asked = np.flatnonzero(ends >= length)
        cand = prev[ends[asked] - length]
        hit = cand >= 0
        asked, cand = asked[hit], cand[hit]
        offsets = np.arange(-length, 0)
        same = np.all(tasks[cand[:, None] + offsets] == tasks[ends[asked, None] + offsets], axis=1)
        if not same.any():
            break
        best[asked[same]] = cand[same]
    return best
