"""Leaky predictors, written as a hostile submitter would write them against the old harness.

Each one repeats the previous task (honest) except where it cheats. `kernel-oracle check` must
fail every one of them, naming the rule that catches it (tests/test_leaky_models.py). Loaded by
path (`tests/hostile/leaky_models.py:Class`), like a submission.
"""

from __future__ import annotations

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import OnlinePredictor, Prediction, Predictor, RunRow

AHEAD = 1000
BIG_BATCH = 64


class _LastTask(Predictor):
    """Predicts row `rows[i]`'s task with certainty and its run length; honest with `p - 1`."""

    targets = frozenset({"task", "delta"})

    def __init__(self) -> None:
        pass

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.fitted_ = True
        return self

    def answer(self, runs: Runs, rows: np.ndarray) -> Prediction:
        rows = np.clip(rows, 0, len(runs) - 1)  # local row indices
        proba = np.zeros((len(rows), runs.n_tasks), dtype=np.float32)
        proba[np.arange(len(rows)), runs.task[rows]] = 1.0
        return Prediction(proba, runs.delta_us[rows].astype(np.float64))

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        return self.answer(runs, self.rows(runs, positions))

    def rows(self, runs: Runs, positions: np.ndarray) -> np.ndarray:
        return positions - runs.start - 1  # the honest answer: the row before


class HonestLastTask(_LastTask):
    """The shared core alone: it must pass every rule (so the leaks are what fails)."""

    name = "honest_last_task"


class ReadsTraceThroughBase(_LastTask):
    """fit keeps `train.task.base`, which was the whole trace's column while slices were
    views, and predict reads the truth of each position from it."""

    name = "reads_trace_through_base"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.trace_task_ = train.task.base
        self.trace_delta_ = train.delta_us.base
        return super().fit(train)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        truth = np.asarray(self.trace_task_)[positions]
        proba = np.zeros((len(positions), runs.n_tasks), dtype=np.float32)
        proba[np.arange(len(positions)), truth] = 1.0
        return Prediction(proba, np.asarray(self.trace_delta_)[positions].astype(np.float64))


class OverwritesTruth(_LastTask):
    """After predicting, writes its answers into `runs.task`, which the old harness then read
    as the truth (a perfect score)."""

    name = "overwrites_truth"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        local = np.asarray(positions) - runs.start
        inside = local < len(runs)
        runs.task[local[inside]] = pred.task_proba.argmax(axis=1)[inside]
        return pred


class ReplacesTruth(_LastTask):
    """Writing is refused, so it swaps in a forged `task` array instead (the frozen dataclass
    is bypassed with object.__setattr__)."""

    name = "replaces_truth"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        forged = np.array(runs.task)
        local = np.asarray(positions) - runs.start
        inside = local < len(runs)
        forged[local[inside]] = pred.task_proba.argmax(axis=1)[inside]
        object.__setattr__(runs, "task", forged)
        return pred


class LeaksOnBigBatches(_LastTask):
    """Reads row p itself, but only when asked for many positions at once (as the harness
    does), so that small spot checks see an honest model."""

    name = "leaks_on_big_batches"

    def rows(self, runs: Runs, positions: np.ndarray) -> np.ndarray:
        local = positions - runs.start
        return local if len(positions) > BIG_BATCH else local - 1


class LeaksAtOddPositions(_LastTask):
    """Reads row p itself at odd positions only."""

    name = "leaks_at_odd_positions"

    def rows(self, runs: Runs, positions: np.ndarray) -> np.ndarray:
        local = positions - runs.start
        return np.where(positions % 2 == 1, local, local - 1)


class LeaksFarAhead(_LastTask):
    """Reads the task of row p + 1000 when the trace has it: far outside a short window."""

    name = "leaks_far_ahead"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        ahead = positions - runs.start + AHEAD
        there = ahead < len(runs)
        proba = pred.task_proba
        proba[there] = 0.0
        proba[np.flatnonzero(there), runs.task[ahead[there]]] = 1.0
        return pred


class _PeekingStream(OnlinePredictor):
    def __init__(self, seen: Runs | None, history: Runs) -> None:
        self.seen, self.history = seen, history
        self.position = history.start + len(history)
        self.last: RunRow | None = None

    def predict_next(self) -> tuple[np.ndarray, float]:
        proba = np.zeros(self.history.n_tasks, dtype=np.float32)
        local = self.position - (self.seen.start if self.seen is not None else 0)
        if self.seen is not None and local < len(self.seen):  # the truth of the next row
            proba[self.seen.task[local]] = 1.0
            return proba, float(self.seen.delta_us[local])
        row = self.last
        proba[row.task if row else self.history.task[-1]] = 1.0
        return proba, float(row.delta_us if row else self.history.delta_us[-1])

    def update(self, row: RunRow) -> None:
        self.last = row
        self.position += 1


class PeeksOnline(_LastTask):
    """Honest in `predict`, but it keeps the runs it was last handed and its online stream
    answers from them: the truth of the row it is asked to predict."""

    name = "peeks_online"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        self.seen_ = runs
        return super().predict(runs, positions)

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        return _PeekingStream(getattr(self, "seen_", None), history)
