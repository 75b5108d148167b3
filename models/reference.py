"""Reference predictors every learned model must beat: majority, order-k Markov, EWMA bursts.

All three are fitted on train + valid (they have no hyperparameter worth early stopping) and
predict from counts fixed at fit time; `ewma` also follows each task's recent run lengths.
They are cheap, so `fit(..., targets=...)` checks `targets` but fits and predicts every target.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import (
    OnlinePredictor,
    Prediction,
    Predictor,
    Reporter,
    RunRow,
    check_fit_input,
    resolve_targets,
)


def _train_and_valid(train: Runs, valid: Runs | None) -> Runs:
    return train if valid is None or len(valid) == 0 else train.concat(valid)


class Majority(Predictor):
    """The most frequent train+valid task (probabilities: train+valid frequencies); mean delta."""

    name = "majority"
    tags = frozenset({"reference"})
    trains_on_valid = True
    context = 0

    def __init__(self) -> None:
        pass

    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> Majority:
        resolve_targets(self, targets)  # every target is fitted either way (cheap)
        check_fit_input(self, train, 1)
        seen = _train_and_valid(train, valid)
        counts = np.bincount(seen.task, minlength=seen.n_tasks).astype(np.float64)
        self.proba_ = (counts / counts.sum()).astype(np.float32)
        self.delta_us_ = float(seen.delta_us.mean())
        self.fitted_ = True
        return self

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        n = len(positions)
        return Prediction(
            task_proba=np.broadcast_to(self.proba_, (n, len(self.proba_))).copy(),
            delta_us=np.full(n, self.delta_us_),
        )

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        return _ConstantOnline(self.proba_, self.delta_us_)


class _ConstantOnline(OnlinePredictor):
    def __init__(self, proba: np.ndarray, delta_us: float) -> None:
        self.proba, self.delta_us = proba, delta_us

    def predict_next(self) -> tuple[np.ndarray, float]:
        return self.proba, self.delta_us

    def update(self, row: RunRow) -> None:
        pass

    def fork(self, shared: dict[int, Any] | None = None) -> _ConstantOnline:
        return self  # no state: an update changes nothing


class Markov(Predictor):
    """Order-k back-off n-gram over tasks with add-alpha smoothing.

    The next task's distribution is that of the longest context (the last `order`, ..., 1
    tasks) seen at least `min_count` times in train+valid, else the unigram; the delta is the
    mean run length that followed that same context.
    """

    name = "markov"
    tags = frozenset({"reference"})
    trains_on_valid = True

    def __init__(self, *, order: int = 2, alpha: float = 0.05, min_count: int = 1) -> None:
        self.order = order
        self.alpha = alpha
        self.min_count = min_count

    @property
    def context(self) -> int:  # type: ignore[override]
        return int(self.order)

    @classmethod
    def search_space(cls, trial: Any, target: str | None = None) -> dict[str, Any]:
        return {
            "order": trial.suggest_int("order", 1, 4),
            "alpha": trial.suggest_float("alpha", 1e-3, 1.0, log=True),
            "min_count": trial.suggest_int("min_count", 1, 5),
        }

    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> Markov:
        resolve_targets(self, targets)  # every target is fitted either way (cheap)
        if self.order < 0:
            raise ValueError(f"order must be >= 0, got {self.order}")
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        check_fit_input(self, train, self.order + 1)
        seen = _train_and_valid(train, valid)
        n_tasks = seen.n_tasks
        self.n_tasks_ = n_tasks
        self.keys_: list[np.ndarray] = []
        self.proba_: list[np.ndarray] = []
        self.delta_us_: list[np.ndarray] = []
        self.lookup_: list[dict[int, int]] = []
        for order in range(self.order + 1):
            codes = _context_codes(seen.task, order, n_tasks, np.arange(order, len(seen)))
            nxt = seen.task[order:]
            keys, ctx = np.unique(codes, return_inverse=True)
            counts = np.zeros((len(keys), n_tasks), dtype=np.float64)
            np.add.at(counts, (ctx, nxt), 1.0)
            totals = counts.sum(axis=1)
            delta = np.bincount(ctx, weights=seen.delta_us[order:], minlength=len(keys)) / totals
            keep = totals >= (1 if order == 0 else self.min_count)
            proba = (counts[keep] + self.alpha) / (totals[keep, None] + self.alpha * n_tasks)
            self.keys_.append(keys[keep])
            self.proba_.append(proba.astype(np.float32))
            self.delta_us_.append(delta[keep])
            self.lookup_.append({int(k): i for i, k in enumerate(keys[keep])})
        self.fitted_ = True
        return self

    def _rows_per_order(self, runs: Runs, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each position: the order used and the row of that order's table."""
        local = positions - runs.start
        used = np.zeros(len(positions), dtype=np.int64)
        row = np.zeros(len(positions), dtype=np.int64)
        for order in range(1, self.order + 1):
            ok = local >= order
            codes = _context_codes(runs.task, order, self.n_tasks_, np.where(ok, local, order))
            keys = self.keys_[order]
            if len(keys) == 0:
                continue
            idx = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
            found = ok & (keys[idx] == codes)
            used[found] = order
            row[found] = idx[found]
        return used, row

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        used, row = self._rows_per_order(runs, positions)
        proba = np.empty((len(positions), self.n_tasks_), dtype=np.float32)
        delta = np.empty(len(positions), dtype=np.float64)
        for order in range(self.order + 1):
            mask = used == order
            proba[mask] = self.proba_[order][row[mask]]
            delta[mask] = self.delta_us_[order][row[mask]]
        return Prediction(task_proba=proba, delta_us=delta)

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        return _MarkovOnline(self, history.task[len(history) - self.order :].tolist())


def _context_codes(tasks: np.ndarray, order: int, n_tasks: int, local: np.ndarray) -> np.ndarray:
    """Integer code of the `order` tasks before each local index (most recent = lowest digit)."""
    codes = np.zeros(len(local), dtype=np.int64)
    scale = 1
    for back in range(1, order + 1):
        codes += tasks[local - back].astype(np.int64) * scale
        scale *= n_tasks
    return codes


class _MarkovOnline(OnlinePredictor):
    """Dictionary look-ups on the last `order` tasks: a few microseconds a step."""

    def __init__(self, model: Markov, recent: list[int]) -> None:
        self.model = model
        self.recent = recent  # oldest first
        self.order = model.order
        self.n_tasks = model.n_tasks_

    def _choose(self) -> tuple[int, int]:
        recent, n_tasks = self.recent, self.n_tasks
        for order in range(min(self.order, len(recent)), 0, -1):
            code, scale = 0, 1
            for back in range(1, order + 1):
                code += recent[-back] * scale
                scale *= n_tasks
            row = self.model.lookup_[order].get(code)
            if row is not None:
                return order, row
        return 0, 0

    def predict_next(self) -> tuple[np.ndarray, float]:
        order, row = self._choose()
        return self.model.proba_[order][row], float(self.model.delta_us_[order][row])

    def update(self, row: RunRow) -> None:
        self.recent.append(row.task)
        if len(self.recent) > self.order:
            del self.recent[0]

    def fork(self, shared: dict[int, Any] | None = None) -> _MarkovOnline:
        new = copy.copy(self)  # the model's tables are shared, read-only
        new.recent = self.recent.copy()
        return new


class Ewma(Predictor):
    """The textbook burst predictor: per task, tau = a * t + (1 - a) * tau over its past runs.

    delta = sum over tasks of p_markov(task) * tau(task); the task distribution is Markov's.
    A task not yet seen in the history starts at the train+valid mean run length.
    """

    name = "ewma"
    tags = frozenset({"reference"})
    trains_on_valid = True

    def __init__(self, *, a: float = 0.5, order: int = 2, alpha: float = 0.05) -> None:
        self.a = a
        self.order = order
        self.alpha = alpha

    @classmethod
    def search_space(cls, trial: Any, target: str | None = None) -> dict[str, Any]:
        return {
            "a": trial.suggest_float("a", 0.01, 1.0),
            "order": trial.suggest_int("order", 1, 4),
            "alpha": trial.suggest_float("alpha", 1e-3, 1.0, log=True),
        }

    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> Ewma:
        resolve_targets(self, targets)  # every target is fitted either way (cheap)
        if not 0 < self.a <= 1:
            raise ValueError(f"a must lie in (0, 1], got {self.a}")
        self.markov_ = Markov(order=self.order, alpha=self.alpha).fit(train, valid=valid)
        seen = _train_and_valid(train, valid)
        self.initial_us_ = float(seen.delta_us.mean())
        self.fitted_ = True
        return self

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        task_proba = self.markov_.predict(runs, positions).task_proba
        assert task_proba is not None
        order = np.argsort(positions, kind="stable")
        tau = np.full(runs.n_tasks, self.initial_us_)
        delta = np.empty(len(positions), dtype=np.float64)
        a, tasks, lengths = self.a, runs.task, runs.delta_us
        cursor = 0  # rows [0, cursor) of `runs` are folded into tau
        for k in order:
            stop = positions[k] - runs.start
            for i in range(cursor, stop):
                task = tasks[i]
                tau[task] = a * lengths[i] + (1.0 - a) * tau[task]
            cursor = max(cursor, stop)
            delta[k] = float(task_proba[k] @ tau)
        return Prediction(task_proba=task_proba, delta_us=delta)

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        return _EwmaOnline(self, history)


class _EwmaOnline(OnlinePredictor):
    def __init__(self, model: Ewma, history: Runs) -> None:
        self.a = model.a
        self.markov = model.markov_.online(history)
        self.tau = np.full(history.n_tasks, model.initial_us_)
        for task, length in zip(history.task.tolist(), history.delta_us.tolist(), strict=True):
            self.tau[task] = self.a * length + (1.0 - self.a) * self.tau[task]

    def predict_next(self) -> tuple[np.ndarray, float]:
        proba, _ = self.markov.predict_next()
        return proba, float(proba @ self.tau)

    def update(self, row: RunRow) -> None:
        self.markov.update(row)
        self.tau[row.task] = self.a * row.delta_us + (1.0 - self.a) * self.tau[row.task]

    def fork(self, shared: dict[int, Any] | None = None) -> _EwmaOnline:
        new = copy.copy(self)
        new.markov, new.tau = self.markov.fork(shared), self.tau.copy()
        return new
