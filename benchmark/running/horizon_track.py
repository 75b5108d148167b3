"""The horizon track of one run (issue 14, README "Horizon track"), inside its worker.

After a run's fits, the harness forecasts the next `HORIZON` runs from the trace's fixed
origins (`horizon_origins`: 2,000 evenly spaced test positions, the same for every model),
checks a few forecasts of a model's own `forecast` again on the trace cut right before their
origin (a different answer fails the run with "leak detected in the forecast from origin o",
as `spot_verify` does for the one-step predictions), and scores them against the harness's
own copy of the trace. The default free run needs no such check: the harness, not the model,
reads the trace, and hands the model's stream the rows before the first origin, then one true
row at a time up to each origin. The model it forecasts with is the harness's copy of it taken
right after `fit`, so nothing `predict` was handed can reach it.

A run whose targets have their own parameters has two fitted models; `JointHeads` joins them
for the free run: each step takes the task from one and the run length from the other, and
feeds both the same row.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.origins import COUNT, HORIZONS, horizon_origins
from benchmark.running.protocol import (
    DELTA,
    TASK,
    Forecast,
    OnlinePredictor,
    Prediction,
    Predictor,
    RunRow,
    fork_stream,
)
from benchmark.running.verify import (
    SPOT_DELTA_ATOL,
    SPOT_DELTA_RTOL,
    LeakDetected,
    ModelOutputError,
    spot_order,
)
from benchmark.scoring.horizon import horizon_scores

HORIZON = max(HORIZONS)
SPOT_ORIGINS = 3  # forecasts checked again on the cut trace, per run


class JointStream(OnlinePredictor):
    """The task of one stream and the run length of another, both fed every row."""

    def __init__(self, task: OnlinePredictor, delta: OnlinePredictor) -> None:
        self.task, self.delta = task, delta

    def predict_next(self) -> tuple[np.ndarray | None, float | None]:
        return self.task.predict_next()[0], self.delta.predict_next()[1]

    def update(self, row: RunRow) -> None:
        self.task.update(row)
        self.delta.update(row)

    def fork(self, shared: dict[int, Any] | None = None) -> JointStream:
        return JointStream(fork_stream(self.task, shared), fork_stream(self.delta, shared))


class JointHeads(Predictor):
    """Two fitted models of one run as one: the task target of `task_model`, the delta
    target of `delta_model` (fitted apart because their parameters differ)."""

    name = "joint_heads"

    def __init__(self, task_model: Predictor, delta_model: Predictor) -> None:
        self.task_model, self.delta_model = task_model, delta_model
        self.fitted_ = True

    def fit(self, train: Runs, **kwargs: Any) -> JointHeads:
        raise TypeError("JointHeads joins two fitted models; fit them, not it")

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        task = self.task_model.predict(runs, positions).task_proba
        return Prediction(task, self.delta_model.predict(runs, positions).delta_us)

    def online(self, history: Runs) -> OnlinePredictor:
        return JointStream(self.task_model.online(history), self.delta_model.online(history))


def joined(fitted: dict[str, Predictor]) -> Predictor:
    """The model that forecasts a run's targets: the one fit, or `JointHeads` of two."""
    task, delta = fitted.get(TASK), fitted.get(DELTA)
    if task is None or delta is None or task is delta:
        return task or delta  # type: ignore[return-value]
    return JointHeads(task, delta)


FREE_RUN = "free run"


def method(model: Predictor) -> str:
    """How a model forecasts: the default free run, or its own `forecast` (its card says how)."""
    own = type(model).forecast is not Predictor.forecast
    return f"{type(model).__name__}.forecast" if own else FREE_RUN


def check_forecast(fc: Any, origins: np.ndarray, targets: list[str], n_tasks: int) -> Forecast:
    """The forecast, if it answers the origins asked with the targets fitted; else a
    `ModelOutputError` naming what is wrong."""
    if not isinstance(fc, Forecast):
        raise ModelOutputError(f"forecast returned {type(fc).__name__}, not a Forecast")
    try:
        fc.validate(n_tasks)
    except ValueError as error:
        raise ModelOutputError(str(error)) from error
    if fc.horizon != HORIZON or not np.array_equal(fc.origins, origins):
        raise ModelOutputError(
            f"forecast answered horizon {fc.horizon} from {len(fc.origins)} origins; asked "
            f"{HORIZON} from {len(origins)}"
        )
    for target, got in ((TASK, fc.task), (DELTA, fc.delta_us)):
        if (target in targets) != (got is not None):
            state = "none" if got is None else "one"
            raise ModelOutputError(f"forecast has {state} for {target}, fitted: {targets}")
    return fc


def _differs(fc: Forecast, i: int, again: Forecast) -> str | None:
    if fc.task is not None and (
        again.task is None or not np.array_equal(fc.task[i], again.task[0])
    ):
        return "its tasks changed"
    if fc.delta_us is not None and (
        again.delta_us is None
        or not np.allclose(
            fc.delta_us[i], again.delta_us[0], rtol=SPOT_DELTA_RTOL, atol=SPOT_DELTA_ATOL
        )
    ):
        return "its run lengths changed"
    return None


def spot_verify_forecast(model: Predictor, seen: Runs, fc: Forecast, k: int) -> int:
    """Forecast `k` origins again (fixed random order) from `seen` cut right before each;
    raises `LeakDetected` at the first that differs. Returns how many were checked.

    The forecast is asked again from the first origin and the checked one, so that a free run
    computes exactly what it did (its stream starts at the first origin and takes in the same
    rows): a float32 state reached by another path could flip a near-tied argmax and change
    the rest of the run without any leak."""
    checked = 0
    for i in spot_order(len(fc.origins), k):
        origin = int(fc.origins[i])
        cut = seen.rows(seen.start, origin)
        asked = np.unique(np.array([fc.origins[0], origin], dtype=np.int64))
        again = model.forecast(cut, asked, HORIZON)
        if isinstance(again, Forecast) and len(again.origins) == len(asked) > 1:
            again = _last(again)
        how = _differs(fc, int(i), again) if isinstance(again, Forecast) else "it is no Forecast"
        if how:
            raise LeakDetected(
                f"leak detected in the forecast from origin {origin}: {how} when the rows from "
                "that origin on are absent"
            )
        checked += 1
    return checked


def _last(fc: Forecast) -> Forecast:
    """The forecast of its last origin only."""
    pick = slice(len(fc.origins) - 1, None)
    return Forecast(
        fc.origins[pick],
        fc.horizon,
        None if fc.task is None else fc.task[pick],
        None if fc.delta_us is None else fc.delta_us[pick],
    )


def bootstrap_block(origins: np.ndarray) -> int:
    """Origins per bootstrap block: enough that a block spans the longest horizon (windows of
    neighbouring origins overlap; `benchmark.scoring.horizon`'s caution)."""
    if len(origins) < 2:
        return 1
    spacing = float(origins[-1] - origins[0]) / (len(origins) - 1)
    return max(1, math.ceil(HORIZON / spacing))


def run_horizon(
    fitted: dict[str, Predictor],
    truth: Runs,
    seen: Runs,
    *,
    count: int = COUNT,
    spot: int = SPOT_ORIGINS,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The horizon entry of a result file and the forecast arrays for its npz, from the run's
    fitted models (target -> model), the truth and the model's read-only copy `seen`."""
    model = joined(fitted)
    targets = sorted(fitted)
    origins = horizon_origins(truth, count)
    t0 = time.perf_counter()
    answer = model.forecast(seen, origins.copy(), HORIZON)
    fc = check_forecast(answer, origins, targets, truth.n_tasks)
    forecast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # The harness's free run hands the model rows before the first origin, then one true row
    # at a time up to each origin; the model was copied before it saw the test rows. Only a
    # model's own `forecast`, which reads `seen` itself, is checked again on a cut trace.
    checked = spot_verify_forecast(model, seen, fc, spot) if method(model) != FREE_RUN else 0
    spot_s = time.perf_counter() - t0
    block = bootstrap_block(origins)
    scores = horizon_scores(fc, truth, block=block)
    entry = {
        "horizon": HORIZON,
        "steps": list(HORIZONS),
        "n_origins": len(origins),
        "origins": {"first": int(origins[0]), "last": int(origins[-1])},
        "bootstrap_block": block,
        "method": method(model),
        "metrics": scores.entries(HORIZONS),
        "costs": {"forecast_s": forecast_s, "spot_check_s": spot_s, "spot_origins": checked},
    }
    arrays = {"horizon_origins": origins}
    if fc.task is not None:
        arrays["horizon_task"] = fc.task
    if fc.delta_us is not None:
        arrays["horizon_delta_us"] = fc.delta_us
    return entry, arrays
