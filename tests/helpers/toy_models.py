"""Predictors built for one property each (a failure, a hang, a leak), loaded by file path."""

from __future__ import annotations

import time

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import (
    Forecast,
    OnlinePredictor,
    Prediction,
    Predictor,
    RunRow,
    check_origins,
)


class _Base(Predictor):
    targets = frozenset({"task", "delta"})

    def __init__(self) -> None:
        pass

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.fitted_ = True
        return self

    def _uniform(self, runs: Runs, n: int) -> Prediction:
        proba = np.full((n, runs.n_tasks), 1.0 / runs.n_tasks, dtype=np.float32)
        return Prediction(task_proba=proba, delta_us=np.full(n, 10.0))


class RaisesInFit(_Base):
    name = "raises_in_fit"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        raise RuntimeError("deliberate failure in fit")

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        raise AssertionError("unreachable")


class SleepsInFit(_Base):
    name = "sleeps_in_fit"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        time.sleep(600)
        return super().fit(train)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        raise AssertionError("unreachable")


class Leaky(_Base):
    """Reads row j itself when predicting position j: the leak the causality check must catch."""

    name = "leaky"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        local = np.minimum(positions - runs.start, len(runs) - 1)
        proba = np.zeros((len(positions), runs.n_tasks), dtype=np.float32)
        proba[np.arange(len(positions)), runs.task[local]] = 1.0
        return Prediction(task_proba=proba, delta_us=runs.delta_us[local].astype(np.float64))


class LastTask(_Base):
    """Repeats the previous task with certainty: honest, simple, used to test the harness."""

    name = "last_task"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        local = np.maximum(positions - runs.start - 1, 0)
        proba = np.zeros((len(positions), runs.n_tasks), dtype=np.float32)
        proba[np.arange(len(positions)), runs.task[local]] = 1.0
        return Prediction(task_proba=proba, delta_us=runs.delta_us[local].astype(np.float64))

    context = 1


class SeededNoise(LastTask):
    """LastTask whose delta is scaled by a seeded random factor: a submitted model that declares
    `stochastic`, so it is evaluated over several seeds like a built-in."""

    name = "seeded_noise"
    tags = frozenset({"stochastic"})

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.scale_ = float(np.random.default_rng(seed).uniform(0.5, 1.5))
        return super().fit(train)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        return Prediction(task_proba=pred.task_proba, delta_us=pred.delta_us * self.scale_)


# -- one broken rule each (tests/test_testing.py): LastTask but for the one thing it gets wrong --
class SetsStateInInit(LastTask):
    name = "sets_state_in_init"

    def __init__(self, *, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.cache = {}  # not a parameter


class ChangesParamInInit(LastTask):
    name = "changes_param_in_init"

    def __init__(self, *, alpha: float = 1.0) -> None:
        self.alpha = float(alpha) * 2  # stored altered


class ChangesParamInFit(LastTask):
    name = "changes_param_in_fit"

    def __init__(self, *, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.alpha = 0.5  # "tuned" in place
        return super().fit(train)


class PublicFittedState(LastTask):
    name = "public_fitted_state"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.counts = np.bincount(train.task)  # fitted state without the trailing _
        return super().fit(train)


class RememberingFits(LastTask):
    """Each fit adds to the last: fitting twice differs from fitting once."""

    name = "remembering_fits"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.fits_ = getattr(self, "fits_", 0) + 1
        return super().fit(train)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        return Prediction(pred.task_proba, pred.delta_us + self.fits_)


class Unseeded(LastTask):
    name = "unseeded"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.noise_ = float(np.random.default_rng().uniform(1.0, 2.0))  # ignores the seed
        return super().fit(train)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        return Prediction(pred.task_proba, pred.delta_us * self.noise_)


class NotPicklable(LastTask):
    name = "not_picklable"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.scale_ = lambda x: x  # a lambda does not pickle
        return super().fit(train)


class NoFitCheck(LastTask):
    """Predicts before fit without saying why."""

    name = "no_fit_check"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = np.asarray(positions)
        proba = np.full((len(positions), runs.n_tasks), 1.0 / runs.n_tasks, dtype=np.float32)
        return Prediction(proba, np.full(len(positions), 1.0))


class BatchDependent(LastTask):
    """Its delta depends on how many positions one call asks for."""

    name = "batch_dependent"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        return Prediction(pred.task_proba, pred.delta_us + len(positions))


class PeeksInForecast(LastTask):
    """Honest one step ahead, but its own `forecast` reads the true rows from each origin on:
    the leak only the forecast checks (conformance, and the harness's re-forecast) can see."""

    name = "peeks_in_forecast"

    def forecast(self, runs: Runs, origins: np.ndarray, horizon: int) -> Forecast:
        origins = check_origins(runs, origins, horizon)
        at = np.minimum(origins[:, None] - runs.start + np.arange(horizon), len(runs) - 1)
        at[:, 0] = origins - runs.start - 1  # step 1 as predict: the last task seen
        return Forecast(origins, horizon, runs.task[at].astype(np.int64),
                        runs.delta_us[at].astype(np.float64))  # fmt: skip


class _SharedForkStream(OnlinePredictor):
    """LastTask's stream whose `fork` is the stream itself: a free run's branches then feed
    their guesses into the true stream."""

    def __init__(self, last: tuple[int, float], n_tasks: int) -> None:
        self.last, self.n_tasks = last, n_tasks

    def predict_next(self):
        proba = np.zeros(self.n_tasks, dtype=np.float32)
        proba[self.last[0]] = 1.0
        return proba, float(self.last[1])

    def update(self, row: RunRow) -> None:
        self.last = (row.task, row.delta_us)

    def fork(self, shared=None):
        return self


class SharedFork(LastTask):
    """Honest one step ahead; its online stream's `fork` shares the stream's state."""

    name = "shared_fork"

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        i = len(history) - 1
        return _SharedForkStream((int(history.task[i]), float(history.delta_us[i])),
                                 history.n_tasks)  # fmt: skip


class _Peeking(OnlinePredictor):
    """A stream that reads the true next run from a trace it should not have."""

    def __init__(self, stash: Runs, at: int) -> None:
        self.stash, self.at = stash, at

    def predict_next(self):
        i = min(max(self.at - self.stash.start, 0), len(self.stash) - 1)
        proba = np.zeros(self.stash.n_tasks, dtype=np.float32)
        proba[self.stash.task[i]] = 1.0
        return proba, float(self.stash.delta_us[i])

    def update(self, row: RunRow) -> None:
        self.at += 1


class StashesInPredict(LastTask):
    """Honest one step ahead, but `predict` keeps the trace it is handed (test rows included)
    and a later `online()` stream reads the future from it: what the harness's copy of the
    model taken before `predict` keeps out of the horizon track."""

    name = "stashes_in_predict"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        if len(runs) > len(getattr(self, "stash_", ())):  # the harness's whole trace
            self.stash_ = runs
        return super().predict(runs, positions)

    def online(self, history: Runs) -> OnlinePredictor:
        stash = getattr(self, "stash_", None)
        if stash is None:
            return super().online(history)
        return _Peeking(stash, history.start + len(history))
