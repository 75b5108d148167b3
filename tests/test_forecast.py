"""The horizon track's library layer (issue 14): free run, origins, metrics, checks, reference.

On the `excerpt` fixture (3,000 real runs) with markov, ewma and a small decision tree; the
metric numbers are worked by hand in the comments, not taken from the code.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmark.data.dataset import Runs
from benchmark.running.forecast import Forecast
from benchmark.running.forecast_checks import (
    check_forecast_causal,
    check_forecast_matches_predict,
    scrambled_after,
)
from benchmark.running.origins import HORIZONS, horizon_origins
from benchmark.running.protocol import Predictor, free_run
from benchmark.scoring.horizon import horizon_scores, horizon_truth, score_horizon
from models.horizon_reference import RepeatPeriod, replay
from models.reference import Ewma, Markov
from models.tree import NegiDecisionTree

MODELS = ("markov", "ewma", "decision_tree")
COLUMNS = ("t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state")


@pytest.fixture(scope="module")
def fitted(excerpt: Runs) -> dict[str, Predictor]:
    train, valid = excerpt.train(), excerpt.valid()
    return {
        "markov": Markov().fit(train, valid=valid),
        "ewma": Ewma().fit(train, valid=valid),
        "decision_tree": NegiDecisionTree(**NegiDecisionTree.fast_params).fit(train, valid=valid),
    }


@pytest.fixture(scope="module")
def origins(excerpt: Runs) -> np.ndarray:
    return horizon_origins(excerpt, count=12)


def _extended(runs: Runs, stop: int, fed: list[dict]) -> Runs:
    """Rows [start, stop) of `runs` followed by the hand-built rows `fed`."""
    head = runs.rows(runs.start, stop)
    cols = {
        c: np.concatenate([getattr(head, c), np.array([r[c] for r in fed], getattr(head, c).dtype)])
        for c in COLUMNS
    }
    return replace(head, **cols)


def _brute_free_run(model: Predictor, runs: Runs, origin: int, horizon: int):
    """The free run from `origin` by `predict` on a history grown row by row, its fields found
    by scanning the rows before the origin backwards (independent of `LastRuns`)."""
    local = origin - runs.start
    fed: list[dict] = []
    tasks, deltas = [], []
    t_ns, prev_delta = int(runs.t_ns[local - 1]), float(runs.delta_us[local - 1])
    for _ in range(horizon):
        grown = _extended(runs, origin, fed)
        pred = model.predict(grown, np.array([grown.start + len(grown)]))
        task = int(pred.task_proba[0].argmax())
        delta = float(pred.delta_us[0])
        before = [i for i in range(local) if runs.task[i] == task]
        src = before[-1] if before else local - 1
        t_ns += round(prev_delta * 1000.0)
        fed.append(
            {
                "t_ns": t_ns,
                "task": task,
                "comm": runs.comm[src] if before else runs.task_comm[task],
                "pid": runs.pid[src],
                "prio": runs.prio[src],
                "delta_us": delta,
                "end_state": runs.end_state[src],
            }
        )
        tasks.append(task)
        deltas.append(delta)
        prev_delta = delta
    return np.array(tasks), np.array(deltas)


# -- the free run ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_free_run_step_one_equals_predict(fitted, excerpt, origins, name):
    check_forecast_matches_predict(fitted[name], excerpt, origins)


@pytest.mark.parametrize("name", MODELS)
def test_free_run_is_causal(fitted, excerpt, origins, name):
    check_forecast_causal(fitted[name], excerpt, origins[:4], horizon=8)


@pytest.mark.parametrize("name", MODELS)
def test_free_run_feeds_back_its_own_predictions(fitted, excerpt, origins, name):
    """Every step equals `predict` on the history extended by the earlier predicted rows."""
    model = fitted[name]
    fc = model.forecast(excerpt, origins[:3], 6)
    fc.validate(excerpt.n_tasks)
    true_task, _ = horizon_truth(excerpt, origins[:3], 6)
    for k, origin in enumerate(origins[:3]):
        tasks, deltas = _brute_free_run(model, excerpt, int(origin), 6)
        np.testing.assert_array_equal(fc.task[k], tasks)
        np.testing.assert_allclose(fc.delta_us[k], deltas, rtol=1e-9, atol=0)
    # not a replay of the truth: a fed-back wrong task must have been possible to notice
    assert (fc.task != true_task).any()


def test_free_run_without_a_delta_head_feeds_the_last_run_length(excerpt, origins):
    model = NegiDecisionTree(**NegiDecisionTree.fast_params)
    model.fit(excerpt.train(), targets=["task"])
    fc = free_run(model, excerpt, origins[:3], 4)
    assert fc.delta_us is None
    check_forecast_matches_predict(model, excerpt, origins[:3])


class _Recorder(Predictor):
    """Predicts the tasks of `script` in turn (no delta head) and logs the rows it is fed into
    `log_`, a fitted attribute: the free run's forks share it, so the fed-back rows are seen."""

    def __init__(self, *, script: tuple[int, ...] = (1,)) -> None:
        self.script = script

    def fit(self, train, *, valid=None, seed=0, report=None, targets=None):
        self.log_: list = []
        self.fitted_ = True
        return self

    def predict(self, runs, positions):
        raise NotImplementedError

    def online(self, history):
        model = self

        class Stream:
            step = 0

            def predict_next(self):
                proba = np.zeros(history.n_tasks, np.float32)
                proba[model.script[self.step % len(model.script)]] = 1.0
                self.step += 1
                return proba, None

            def update(self, row):
                model.log_.append(row)

        return Stream()


def test_free_run_fills_the_fields_a_model_does_not_predict(excerpt):
    origin = int(excerpt.split.test[0])
    local = origin - excerpt.start
    last = local - 1
    # a task whose runs before the origin differ in length (so its most recent run, not its
    # first, is told apart) and that is not the last row's task (so its own pid is used)
    ran = excerpt.task[:local]
    task = next(
        int(t)
        for t in np.unique(ran)
        if t != ran[last] and len(set(excerpt.delta_us[:local][ran == t])) > 1
    )
    recent = int(np.flatnonzero(ran == task)[-1])
    model = _Recorder(script=(task, task, task)).fit(excerpt.train())
    fc = free_run(model, excerpt, np.array([origin]), 3)
    assert fc.delta_us is None and fc.task.tolist() == [[task] * 3]
    assert len(model.log_) == 2  # the third step is not fed back
    first, second = model.log_
    assert first.task == task
    assert first.comm == excerpt.comm[recent] == excerpt.task_comm[task]
    assert first.delta_us == excerpt.delta_us[recent]  # no delta head: its last run length
    assert (first.end_state, first.prio, first.pid) == (
        excerpt.end_state[recent],
        excerpt.prio[recent],
        excerpt.pid[recent],
    )
    assert first.pid != excerpt.pid[last]
    # t_ns is when a run starts: the last true row's start plus its length, then the fed row's
    assert first.t_ns == excerpt.t_ns[last] + round(excerpt.delta_us[last] * 1000)
    assert second.t_ns == first.t_ns + round(first.delta_us * 1000)


def test_free_run_refuses_bad_origins(fitted, excerpt):
    model, end = fitted["markov"], excerpt.start + len(excerpt)
    for bad in ([5, 5], [9, 3], [excerpt.start], [end + 1], [[10]], [1.5]):
        with pytest.raises(ValueError, match="origins"):
            free_run(model, excerpt, np.array(bad), 4)
    with pytest.raises(ValueError, match="horizon"):
        free_run(model, excerpt, np.array([10]), 0)
    assert free_run(model, excerpt, np.array([end]), 3).task.shape == (1, 3)  # rows < end only


# -- the checks can fail --------------------------------------------------------------------
class _Peeking(Markov):
    """Forecasts the true next rows: not causal."""

    def forecast(self, runs, origins, horizon):
        task, delta = horizon_truth(runs, origins, horizon)
        return Forecast(np.asarray(origins), horizon, task, delta)


class _Shifted(Markov):
    """Its horizon-1 forecast is the free run's task + 1: not `predict`."""

    def forecast(self, runs, origins, horizon):
        fc = super().forecast(runs, origins, horizon)
        return replace(fc, task=(fc.task + 1) % runs.n_tasks)


def test_the_causality_check_catches_a_model_that_reads_ahead(excerpt, origins):
    model = _Peeking().fit(excerpt.train(), valid=excerpt.valid())
    with pytest.raises(AssertionError, match="not causal"):
        check_forecast_causal(model, excerpt, origins[:2], horizon=8)
    scrambled = scrambled_after(excerpt, int(origins[0]))
    cut = int(origins[0]) - excerpt.start
    np.testing.assert_array_equal(scrambled.task[:cut], excerpt.task[:cut])
    assert not np.array_equal(scrambled.task[cut:], excerpt.task[cut:])


def test_the_horizon_one_check_catches_a_forecast_that_is_not_predict(excerpt, origins):
    model = _Shifted().fit(excerpt.train(), valid=excerpt.valid())
    with pytest.raises(AssertionError, match="where predict's argmax"):
        check_forecast_matches_predict(model, excerpt, origins)


# -- the metrics, by hand -------------------------------------------------------------------
def test_horizon_metrics_by_hand():
    # two origins, three steps; correct = [[1, 1, 0], [0, 1, 1]]
    pred_task = np.array([[1, 2, 3], [1, 1, 1]])
    true_task = np.array([[1, 2, 0], [2, 1, 1]])
    pred_delta = np.array([[10.0, 20.0, 30.0], [5.0, 5.0, 5.0]])
    true_delta = np.full((2, 3), 10.0)
    s = score_horizon(pred_task, true_task, pred_delta, true_delta, sigma_us=10.0)
    # acc@h = column means of correct: 1/2, 2/2, 1/2
    np.testing.assert_allclose(s.acc, [0.5, 1.0, 0.5])
    # prefixes: origin 0 is right twice then wrong (2), origin 1 wrong at once (0); mean 1
    np.testing.assert_array_equal(s.prefix, [2, 0])
    assert s.prefix_mean == pytest.approx(1.0)
    # z errors: origin 0 (0, 10, 20)/10 = (0, 1, 2) -> squares (0, 1, 4); origin 1 all -5/10 ->
    # 0.25 each; mse_z@h = ((0 + .25) / 2, (1 + .25) / 2, (4 + .25) / 2)
    np.testing.assert_allclose(s.mse_z, [0.125, 0.625, 2.125])
    # sums of the first h runs: origin 0 predicts 10, 30, 60 against 10, 20, 30 -> relative
    # errors 0, 1/2, 1; origin 1 predicts 5, 10, 15 against 10, 20, 30 -> 1/2 each;
    # total_err@h = (0.25, 0.5, 0.75)
    np.testing.assert_allclose(s.total_err, [0.25, 0.5, 0.75])
    assert s.table((1, 3)) == pytest.approx(
        {
            "acc@1": 0.5,
            "mse_z@1": 0.125,
            "total_err@1": 0.25,
            "acc@3": 0.5,
            "mse_z@3": 2.125,
            "total_err@3": 0.75,
            "prefix": 1.0,
        }
    )
    # resampling two origins: acc@2 is 1 in every resample -> [1, 1]; acc@1 is 0, 1/2 or 1
    # (probability 1/4, 1/2, 1/4) -> its 2.5% and 97.5% quantiles are 0 and 1
    np.testing.assert_allclose(s.acc_ci[1], [1.0, 1.0])
    np.testing.assert_allclose(s.acc_ci[0], [0.0, 1.0])


def test_horizon_intervals_are_a_plain_seeded_bootstrap_over_origins():
    rng = np.random.default_rng(7)
    n = 400
    true = np.zeros((n, 1), dtype=np.int64)
    pred = (rng.random((n, 1)) < 0.5).astype(np.int64)  # right with probability 1/2
    a = score_horizon(pred, true)
    assert (a.acc_ci == score_horizon(pred, true).acc_ci).all()  # seeded
    assert not (a.acc_ci == score_horizon(pred, true, seed=1).acc_ci).all()
    # i.i.d. origins: half-width ~ 1.96 * sqrt(p (1 - p) / n) = 1.96 * 0.025 = 0.049
    low, high = a.acc_ci[0]
    assert low < a.acc[0] < high
    assert 0.04 < (high - low) / 2 < 0.06
    # runs of 20 identical origins: the plain bootstrap ignores the dependence (same width
    # as 400 independent ones), a block of 20 sees 20 independent units (about sqrt(20) wider)
    blocky = np.repeat(pred[::20], 20, axis=0)
    plain = np.diff(score_horizon(blocky, true).acc_ci[0])[0]
    block = np.diff(score_horizon(blocky, true, block=20).acc_ci[0])[0]
    assert block > 3 * plain


def test_a_forecast_of_the_truth_scores_perfectly(excerpt, origins):
    task, delta = horizon_truth(excerpt, origins, 8)
    # the truth of origin o at step h is row o + h - 1 (1-based h)
    assert task[0, 0] == excerpt.task[origins[0] - excerpt.start]
    assert delta[1, 7] == excerpt.delta_us[origins[1] + 7 - excerpt.start]
    s = horizon_scores(Forecast(origins, 8, task, delta), excerpt)
    np.testing.assert_allclose(s.acc, 1.0)
    np.testing.assert_allclose(s.mse_z, 0.0)
    np.testing.assert_allclose(s.total_err, 0.0)
    assert s.prefix_mean == 8
    with pytest.raises(ValueError, match="must lie in"):
        horizon_truth(excerpt, np.array([excerpt.start + len(excerpt) - 3]), 8)


def test_forecast_validate_names_the_bad_field():
    good = Forecast(np.array([3, 5]), 2, np.zeros((2, 2), np.int64), np.ones((2, 2)))
    assert good.validate(4) is good
    bad = {
        "origins": replace(good, origins=np.array([5, 3])),
        "horizon": replace(good, horizon=0),
        "task": replace(good, task=np.zeros((2, 3), np.int64)),
        "vocabulary": replace(good, task=np.full((2, 2), 4)),
        "delta_us": replace(good, delta_us=np.array([[1.0, np.nan], [1.0, 1.0]])),
    }
    for field, forecast in bad.items():
        with pytest.raises(ValueError, match=field):
            forecast.validate(4)


# -- the reference forecaster ---------------------------------------------------------------
def test_repeat_period_replays_what_followed_the_last_occurrence():
    tasks = np.array([1, 2, 3, 1, 2, 4, 1, 2])
    # the longest earlier suffix of ...4, 1, 2 is "1, 2" (4, 1, 2 never occurred before); its
    # most recent occurrence is rows 3-4, followed by rows 5, 6, 7 (4, 1, 2) and then again
    task, delta = replay(tasks, np.arange(8.0) * 10, np.array([8]), 6)
    np.testing.assert_array_equal(task[0], [4, 1, 2, 4, 1, 2])
    np.testing.assert_array_equal(delta[0], [50, 60, 70, 50, 60, 70])
    # after 1, 2, 3 no task has run before: repeat the last row
    np.testing.assert_array_equal(replay(tasks, tasks * 1.0, np.array([3]), 2)[0], [[3, 3]])


def test_repeat_period_forecasts_a_periodic_trace_perfectly(excerpt):
    # task 1 recurs inside the period, so the last task alone points to the wrong place
    pattern = np.array([1, 2, 1, 3, 2, 4])
    reps = len(excerpt) // len(pattern) + 1
    runs = replace(
        excerpt,
        task=np.tile(pattern, reps)[: len(excerpt)].astype(excerpt.task.dtype),
        delta_us=np.tile(np.arange(1.0, 7.0) * 10, reps)[: len(excerpt)],
    )
    at = horizon_origins(runs, count=50)
    model = RepeatPeriod().fit(runs.train())
    fc = model.forecast(runs, at, 64).validate(runs.n_tasks)
    s = horizon_scores(fc, runs)
    np.testing.assert_array_equal(s.acc, 1.0)
    np.testing.assert_array_equal(s.total_err, 0.0)
    assert s.prefix_mean == 64


def test_repeat_period_passes_both_checks(excerpt, origins):
    model = RepeatPeriod().fit(excerpt.train())
    check_forecast_matches_predict(model, excerpt, origins)
    check_forecast_causal(model, excerpt, origins, horizon=16)


# -- the fixed origins ----------------------------------------------------------------------
def test_horizon_origins_are_evenly_spaced_in_the_test_split(excerpt):
    a, b = excerpt.split.test
    got = horizon_origins(excerpt, count=40)
    assert HORIZONS == (1, 2, 4, 8, 16, 32, 64)
    assert len(got) == 40 and got.dtype == np.int64
    assert got[0] == a and a <= got.min() and got.max() + 64 <= b
    gaps = np.diff(got)
    assert gaps.min() >= 1 and gaps.max() - gaps.min() <= 1
    # N = b - 64 - a + 1 admissible origins; origin i = a + i * N // 40
    n = b - 64 - a + 1
    np.testing.assert_array_equal(got, [a + i * n // 40 for i in range(40)])
    np.testing.assert_array_equal(got, horizon_origins(excerpt, count=40))  # deterministic
    everything = horizon_origins(excerpt, count=10**6, horizons=(1, 2))
    np.testing.assert_array_equal(everything, np.arange(a, b - 2 + 1))
    with pytest.raises(ValueError, match="shorter than the horizon"):
        horizon_origins(excerpt, horizons=(b - a + 1,))
    with pytest.raises(ValueError, match="do not hold the test rows"):
        horizon_origins(excerpt.train())
