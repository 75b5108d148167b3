"""Predictors for the harness tests, loaded by file path: each breaks (or tests) one rule."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import OnlinePredictor, Prediction
from tests.helpers.toy_models import _Base


class Constant(_Base):
    """Always task id 0 and 10 us: an honest model whose score the tests compute by hand."""

    name = "constant"

    def _output(self, runs: Runs, n: int) -> Prediction:
        proba = np.zeros((n, runs.n_tasks), dtype=np.float32)
        proba[:, 0] = 1.0
        return Prediction(task_proba=proba, delta_us=np.full(n, 10.0))

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        return self._output(runs, len(positions))


class FailingConstant(Constant):
    """Files its results under `constant` and fails: a re-run that must not lose a good result."""

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        raise RuntimeError("deliberate failure of a re-run")


class Stochastic(Constant):
    """Tagged stochastic: evaluated over several seeds."""

    name = "stochastic_constant"
    tags = frozenset({"stochastic"})


class FailingStochastic(Stochastic):
    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        raise RuntimeError("deliberate failure of a re-run")


class OverwritesTruth(Constant):
    """Tries to write its own answer (task 0) into the trace it is given, then predicts 0."""

    name = "overwrites_truth"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        for array in (runs.task, runs.task.base):
            try:
                array.setflags(write=True)
                array[...] = 0
            except (AttributeError, ValueError, TypeError):
                pass
        return self._output(runs, len(positions))


class ReadsTheBase(Constant):
    """Keeps `train.task.base` if it reaches past train, then answers the test rows from it."""

    name = "reads_the_base"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        base = train.task
        while isinstance(base.base, np.ndarray):
            base = base.base
        self.whole_ = base if len(base) > len(train) else None
        return super().fit(train)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        pred = self._output(runs, len(positions))
        if self.whole_ is not None:
            proba = np.zeros_like(pred.task_proba)
            proba[np.arange(len(positions)), self.whole_[positions]] = 1.0
            pred = Prediction(task_proba=proba, delta_us=pred.delta_us)
        return pred


class BadDelta(Constant):
    """Predicts the delta given by $HARNESS_BAD_DELTA (nan, inf, -1, 1e308) at one position."""

    name = "bad_delta"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        delta = pred.delta_us.copy()
        delta[len(delta) // 2] = float(os.environ.get("HARNESS_BAD_DELTA", "nan"))
        return Prediction(task_proba=pred.task_proba, delta_us=delta)


class BadProba(Constant):
    """Rows that sum to 2."""

    name = "bad_proba"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        return Prediction(task_proba=pred.task_proba * 2, delta_us=pred.delta_us)


class SpawnsSleep(Constant):
    """Starts `sleep 300`, writes its pid to $HARNESS_PID_FILE, then hangs in fit."""

    name = "spawns_sleep"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        child = subprocess.Popen(["sleep", "300"])
        Path(os.environ["HARNESS_PID_FILE"]).write_text(str(child.pid))
        time.sleep(600)
        return self


class _CompiledStream(OnlinePredictor):
    compile_s = 0.25
    state_bytes = 4096

    def __init__(self, model: Constant, runs: Runs) -> None:
        self.proba = model._output(runs, 1).task_proba[0]

    def predict_next(self):
        return self.proba, 10.0

    def update(self, row) -> None:
        pass


class CompiledOnline(Constant):
    """An online path that reports a warm-up (`compile_s`) of 0.25 s and 4 KiB of state."""

    name = "compiled_online"

    def online(self, history: Runs) -> OnlinePredictor:
        return _CompiledStream(self, history)


class _LeaksWhen(Constant):
    """Answers position p with row p's own task and delta when `leaks(p, n)` says so."""

    def leaks(self, p: np.ndarray, n: int) -> np.ndarray:
        raise NotImplementedError

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        pred = self._output(runs, len(positions))
        local = positions - runs.start
        hit = self.leaks(positions, len(positions)) & (local < len(runs))
        proba, delta = pred.task_proba.copy(), pred.delta_us.copy()
        proba[hit] = 0.0
        proba[np.flatnonzero(hit), runs.task[local[hit]]] = 1.0
        delta[hit] = runs.delta_us[local[hit]]
        return Prediction(task_proba=proba, delta_us=delta)


class LeaksAtOddPositions(_LeaksWhen):
    name = "leaks_at_odd_positions"

    def leaks(self, p: np.ndarray, n: int) -> np.ndarray:
        return p % 2 == 1


class LeaksOnBigBatches(_LeaksWhen):
    name = "leaks_on_big_batches"

    def leaks(self, p: np.ndarray, n: int) -> np.ndarray:
        return np.full(len(p), n > 100)
