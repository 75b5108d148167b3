"""`arima`: a statsmodels ARIMA (SARIMAX state space) model of the run-length series.

Delta only (`targets = {"delta"}`): the series is `delta_us` in trace order, all tasks
interleaved, as a time-series baseline sees it; the model knows nothing of which task runs.

* Transform: `transform="none"` (default) models the raw microseconds; the one-step forecast is
  the Kalman filter's conditional mean, clipped at 0 (a run length is never negative, and the
  clip can only lower a squared error). Raw is the default because `mse_z` is a squared error on
  raw microseconds: ARMA's Gaussian likelihood is a least-squares fit of exactly that, while a
  log model forecasts the conditional median and needs a back-transform. `transform="log1p"`
  models ln(1 + delta) and back-transforms with Duan's smearing estimate,
  delta = exp(forecast) * mean(exp(training one-step residuals)) - 1 (robust where the log
  series is not Gaussian, which it is not: run lengths are multi-modal).
* Fit: maximum likelihood (L-BFGS) on the last `fit_tail` training runs (the full prefix of
  200k+ runs takes minutes per order and gains nothing for a handful of parameters). Valid rows
  are not used for fitting (`trains_on_valid = False`); the seed is irrelevant (MLE is
  deterministic).
* Predict: the fitted parameters fixed, the Kalman filter runs once forward over the observed
  series of the given `Runs` from its first row (stationary initialisation), and the forecast
  for position j is the filter's one-step prediction from rows < j: no refit, no look-ahead
  (the series is cut at the last position asked for, followed by one missing value).
* Online: the filter state after the history (from statsmodels), then one compiled (numba)
  Kalman step per new run with the fitted state-space matrices (tests check it equals
  statsmodels').
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import (
    DELTA,
    OnlinePredictor,
    Prediction,
    Predictor,
    Reporter,
    RunRow,
    check_fit_input,
    resolve_targets,
)
from models.fast.kalman import kalman_forecast, kalman_step, pack
from models.fast.online import WARM_UP_ROW, CompiledStream, compiled_entry

MIN_TRAIN_RUNS = 50
TRANSFORMS = ("none", "log1p")


class Arima(Predictor):
    """ARIMA(p, d, q) with a constant on delta_us (raw or log1p), one-step Kalman forecasts."""

    name = "arima"
    targets = frozenset({DELTA})
    trains_on_valid = False
    fast_params: ClassVar[dict[str, Any]] = {"p": 1, "q": 1, "fit_tail": 1000, "maxiter": 20}

    def __init__(
        self,
        *,
        p: int = 2,
        d: int = 0,
        q: int = 1,
        transform: str = "none",
        fit_tail: int = 20_000,
        maxiter: int = 50,
    ) -> None:
        self.p = p
        self.d = d
        self.q = q
        self.transform = transform
        self.fit_tail = fit_tail
        self.maxiter = maxiter

    @classmethod
    def search_space(cls, trial: Any, target: str | None = None) -> dict[str, Any]:
        return {
            "p": trial.suggest_int("p", 0, 4),
            "d": trial.suggest_int("d", 0, 1),
            "q": trial.suggest_int("q", 0, 3),
            "transform": trial.suggest_categorical("transform", list(TRANSFORMS)),
            "fit_tail": trial.suggest_int("fit_tail", 5_000, 50_000, log=True),
        }

    # -- helpers -------------------------------------------------------------------------------
    def _series(self, delta_us: np.ndarray) -> np.ndarray:
        y = np.asarray(delta_us, dtype=np.float64)
        return np.log1p(y) if self.transform == "log1p" else y.copy()

    def _back(self, forecast: np.ndarray) -> np.ndarray:
        out = np.exp(forecast) * self.smearing_ - 1.0 if self.transform == "log1p" else forecast
        return np.maximum(out, 0.0)

    def _model(self, endog: np.ndarray) -> Any:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        return SARIMAX(
            endog,
            order=(self.p, self.d, self.q),
            trend="c" if self.d == 0 else "n",
        )

    def _filter(self, endog: np.ndarray) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._model(endog).filter(self.params_)

    # -- protocol ------------------------------------------------------------------------------
    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> Arima:
        resolve_targets(self, targets)  # delta is its only target
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")
        if min(self.p, self.d, self.q) < 0 or self.d > 1:
            raise ValueError(f"need p, q >= 0 and d in (0, 1); got {self.p}, {self.d}, {self.q}")
        check_fit_input(self, train, MIN_TRAIN_RUNS)
        if self.fit_tail < MIN_TRAIN_RUNS:
            raise ValueError(f"fit_tail must be >= {MIN_TRAIN_RUNS}, got {self.fit_tail}")
        y = self._series(train.delta_us[-self.fit_tail :])
        import statsmodels.tsa.statespace.sarimax  # noqa: F401  (its import resets filters)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self._model(y).fit(disp=False, maxiter=self.maxiter)
        self.params_ = np.asarray(result.params, dtype=np.float64)
        if self.transform == "log1p":
            forecasts = result.filter_results.forecasts[0]
            resid = y - forecasts
            self.smearing_ = float(np.mean(np.exp(resid[self.d :])))
        else:
            self.smearing_ = 1.0
        self.fitted_ = True
        return self

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        if len(positions) == 0:
            return Prediction(None, np.zeros(0, dtype=np.float64))
        local = positions - runs.start
        stop = int(local.max())  # rows [0, stop) are all any position may read
        endog = np.concatenate([self._series(runs.delta_us[:stop]), [np.nan]])
        forecasts = self._filter(endog).filter_results.forecasts[0]
        return Prediction(None, self._back(forecasts[local]))

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        return _KalmanOnline(self, history)


class _KalmanOnline(CompiledStream):
    """One conventional Kalman filter step per run with the fitted (time-invariant) matrices,
    compiled (models/fast/kalman.py): one numba call per `update`.

    f = Z a + d,  F = Z P Z' + H,  K = P Z' / F
    a <- T (a + K (y - f)) + c,  P <- T (P - K F K') T' + R Q R'
    """

    state_arrays = ("weights",)  # a step writes these

    def __init__(self, model: Arima, history: Runs) -> None:
        endog = np.concatenate([model._series(history.delta_us), [np.nan]])
        res = model._filter(endog)
        ssm = res.model.ssm
        R = _constant(ssm["selection"], 2)
        fr = res.filter_results
        t0 = time.perf_counter()  # compile_s: packing the matrices, compiling the step
        self.meta, self.weights = pack(
            Z=_constant(ssm["design"], 2)[0],
            d=float(_constant(ssm["obs_intercept"], 1)[0]),
            H=float(_constant(ssm["obs_cov"], 2)[0, 0]),
            T=_constant(ssm["transition"], 2),
            c=_constant(ssm["state_intercept"], 1),
            RQR=R @ _constant(ssm["state_cov"], 2) @ R.T,
            # statsmodels' prediction for the row after the history (the appended missing value)
            a=np.array(fr.predicted_state[:, -2], dtype=np.float64),
            P=np.array(fr.predicted_state_cov[:, :, -2], dtype=np.float64),
            smearing=model.smearing_,
            log1p=model.transform == "log1p",
        )
        # compile (or load the cached kernel) now, on a copy, outside any timing
        self.step = compiled_entry(
            kalman_step, self.meta, self.weights.copy(), WARM_UP_ROW.delta_us
        )
        self.next = None, kalman_forecast(self.meta, self.weights)
        self.compile_s = time.perf_counter() - t0
        # the compiled path's memory: its state and model arrays
        self.state_bytes = int(self.meta.nbytes + self.weights.nbytes)

    def predict_next(self) -> tuple[None, float]:
        return self.next

    def update(self, row: RunRow) -> None:
        self.next = None, self.step(self.meta, self.weights, row[2])


def _constant(matrix: Any, ndim: int) -> np.ndarray:
    """A state-space matrix of `ndim` dimensions that statsmodels may store with a trailing
    time axis (e.g. the state intercept of a model with a constant): its value, which must not
    change over time for a one-step update with fixed matrices."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim == ndim:
        return m.copy()
    if m.ndim != ndim + 1 or not np.all(m == m[..., :1]):
        raise ValueError("the fitted state-space model is not time-invariant")
    return m[..., 0].copy()
