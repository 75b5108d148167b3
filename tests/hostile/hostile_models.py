"""Hostile model classes for `kernel-oracle check` (tests/hostile/test_models_hostile.py):
unsafe names, broken outputs, a fit that raises, broken constructors, non-predictors."""

from __future__ import annotations

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import Prediction, Predictor


class _Uniform(Predictor):
    targets = frozenset({"task", "delta"})

    def __init__(self) -> None:
        pass

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        self.fitted_ = True
        return self

    def proba(self, runs: Runs, n: int) -> np.ndarray:
        return np.full((n, runs.n_tasks), 1.0 / runs.n_tasks, dtype=np.float32)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        return Prediction(self.proba(runs, len(positions)), np.full(len(positions), 10.0))


class Uniform(_Uniform):
    """Honest and trivial: every rule holds."""

    name = "uniform"


class DotDotName(_Uniform):
    name = "../../outside"


class MarkupName(_Uniform):
    name = "[/red][link=x]boom"


class WrongShape(_Uniform):
    name = "wrong_shape"

    def proba(self, runs: Runs, n: int) -> np.ndarray:
        return np.full((n, runs.n_tasks + 1), 1.0 / (runs.n_tasks + 1), dtype=np.float32)


class NaNProba(_Uniform):
    name = "nan_proba"

    def proba(self, runs: Runs, n: int) -> np.ndarray:
        out = super().proba(runs, n)
        out[n // 2] = np.nan
        return out


class ProbaNotSummingToOne(_Uniform):
    name = "proba_sum"

    def proba(self, runs: Runs, n: int) -> np.ndarray:
        return super().proba(runs, n) * 0.5


class NegativeDelta(_Uniform):
    name = "negative_delta"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        return Prediction(pred.task_proba, -pred.delta_us)


class HugeDelta(_Uniform):
    name = "huge_delta"

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        return Prediction(pred.task_proba, np.full(len(positions), 1e308))


class ReturnsADict(_Uniform):
    name = "returns_a_dict"

    def predict(self, runs: Runs, positions: np.ndarray):  # type: ignore[override]
        positions = self.check_positions(runs, positions)
        return {"task_proba": self.proba(runs, len(positions))}


class FitRaises(_Uniform):
    name = "fit_raises"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        raise RuntimeError("deliberate failure in fit\nsecond line of the message")


class InitRaises(_Uniform):
    name = "init_raises"

    def __init__(self) -> None:
        raise RuntimeError("deliberate failure in __init__")


class VarArgs(_Uniform):
    name = "var_args"

    def __init__(self, *args: float) -> None:
        self.args = args


class Abstract(Predictor):
    """Forgets predict."""

    name = "abstract"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        return self


class UnknownTag(_Uniform):
    name = "unknown_tag"
    tags = frozenset({"quantum"})


class NotAPredictor:
    name = "not_a_predictor"

    def fit(self, train, **kwargs):
        return self
