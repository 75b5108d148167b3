"""The target-aware contract (issue 10): `fit(..., targets=...)`, `report(..., target=...)`,
`search_space(trial, target)`, and how the tuner and the harness use them, legacy classes
(no `targets`, a one-argument `search_space`, reports without a target) included."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np
import pytest
from optuna.trial import FixedTrial

from benchmark.running import harness, tuning
from benchmark.running.contract import Context, check_single_target_fit
from benchmark.running.protocol import (
    DELTA,
    TASK,
    Prediction,
    Predictor,
    accepts_targets,
    resolve_targets,
    search_space_for,
)
from benchmark.running.pruning import STEP_STRIDE, make_reporter
from models.arima import Arima
from models.distilled import DistilledTree
from models.kernel_oracle import KernelOracleLSTM
from models.lgbm import DELTA_ONLY, TASK_ONLY, LightGBM
from models.reference import Ewma, Majority, Markov
from models.rnn import RNNPredictor
from models.tree import NegiDecisionTree
from tests.fixtures import tuning_models as tm


def _learned() -> list[tuple[str, Predictor]]:
    return [
        ("lightgbm", LightGBM(**LightGBM.fast_params)),
        ("decision_tree", NegiDecisionTree(**NegiDecisionTree.fast_params)),
        ("distilled_tree", DistilledTree(**DistilledTree.fast_params)),
        ("lstm", RNNPredictor(cell="lstm", **RNNPredictor.fast_params)),
        ("gru", RNNPredictor(cell="gru", **RNNPredictor.fast_params)),
        ("kernel_oracle_lstm", KernelOracleLSTM(**KernelOracleLSTM.fast_params)),
    ]


LEARNED = _learned()
HEADS = "tests.test_target_aware:Heads"  # the harness imports this very module


def _positions(runs):
    return runs.test_positions()[:300]


def _valid_output(pred: Prediction, target: str, runs, n: int) -> None:
    if target == TASK:
        proba = pred.task_proba
        assert proba is not None and proba.shape == (n, runs.n_tasks)
        assert proba.dtype == np.float32 and np.isfinite(proba).all() and (proba >= 0).all()
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    else:
        delta = pred.delta_us
        assert delta is not None and delta.shape == (n,)
        assert np.isfinite(delta).all() and (delta >= 0).all()


# -- single-target fits ---------------------------------------------------------------------
@pytest.mark.parametrize("target", [TASK, DELTA])
@pytest.mark.parametrize("label,model", LEARNED, ids=[label for label, _ in LEARNED])
def test_single_target_fit_returns_only_that_target(label, model, target, excerpt):
    model = model.clone()
    out = model.fit(excerpt.train(), valid=excerpt.valid(), seed=0, targets=[target])
    assert out is model
    positions = _positions(excerpt)
    pred = model.predict(excerpt, positions)
    _valid_output(pred, target, excerpt, len(positions))
    other = DELTA if target == TASK else TASK
    assert getattr(pred, "task_proba" if other == TASK else "delta_us") is None
    # the online path agrees: the asked target streams, the other is None
    stream = model.online(excerpt.rows(excerpt.start, int(positions[0])))
    proba, delta = stream.predict_next()
    assert (proba is None) == (target == DELTA) and (delta is None) == (target == TASK)
    if target == TASK:
        np.testing.assert_allclose(proba, pred.task_proba[0], atol=1e-4)
    else:
        assert delta == pytest.approx(pred.delta_us[0], rel=1e-3, abs=1e-3)


def test_single_target_fit_trains_only_that_head(excerpt):
    train, valid = excerpt.train(), excerpt.valid()
    task = LightGBM(**LightGBM.fast_params).fit(train, valid=valid, targets=[TASK])
    assert task.regressor_ is None and task.classifier_ is not None
    delta = LightGBM(**LightGBM.fast_params).fit(train, valid=valid, targets=[DELTA])
    assert delta.classifier_ is None and delta.regressor_ is not None
    # the task head of a task-only fit is the task head of a fit of both
    both = LightGBM(**LightGBM.fast_params).fit(train, valid=valid)
    pos = _positions(excerpt)
    np.testing.assert_array_equal(
        task.predict(excerpt, pos).task_proba, both.predict(excerpt, pos).task_proba
    )
    np.testing.assert_array_equal(
        delta.predict(excerpt, pos).delta_us, both.predict(excerpt, pos).delta_us
    )
    tree = NegiDecisionTree(**NegiDecisionTree.fast_params).fit(train, targets=[DELTA])
    assert tree.classifier_ is None and tree.regressor_ is not None


def test_rnn_single_target_loss_and_reports(excerpt):
    """task-only trains on the cross-entropy alone, delta-only on the delta loss alone: the
    early-stopping loss is that term, and each fitted head reports its own valid loss."""
    fast = {**RNNPredictor.fast_params, "delta_weight": 7.0}
    for targets, reported in (([TASK], {TASK}), ([DELTA], {DELTA}), (None, {TASK, DELTA})):
        reports: list[tuple[int, float, str]] = []
        model = RNNPredictor(cell="gru", **fast).fit(
            excerpt.train(),
            valid=excerpt.valid(),
            report=lambda s, v, *, target=None, out=reports: out.append((s, v, target)),
            targets=targets,
        )
        curve = model.training_curve_
        assert {t for _, _, t in reports} == reported
        ce, mse = np.array(curve["valid_ce"]), np.array(curve["valid_mse_z"])
        expected = {
            (TASK,): ce,
            (DELTA,): mse,
            (DELTA, TASK): ce + 7.0 * mse,
        }[tuple(sorted(reported))]
        np.testing.assert_allclose(curve["valid_loss"], expected, rtol=1e-9)
        for step, value, target in reports:
            assert value == pytest.approx((ce if target == TASK else mse)[step - 1])


def test_resolve_targets_refuses_what_the_model_does_not_predict():
    assert resolve_targets(Arima(), None) == frozenset({DELTA})
    assert resolve_targets(LightGBM(), "task") == frozenset({TASK})
    for bad in ([], [TASK], ["latency"]):
        with pytest.raises(ValueError, match="non-empty subset"):
            resolve_targets(Arima(), bad)


@pytest.mark.parametrize("cls", [Majority, Markov, Ewma, Arima])
def test_reference_and_arima_accept_targets(cls, excerpt):
    target = sorted(cls.targets)[0]
    model = cls().fit(excerpt.train(), valid=excerpt.valid(), targets=[target])
    pred = model.predict(excerpt, _positions(excerpt))
    _valid_output(pred, target, excerpt, len(_positions(excerpt)))


# -- reports --------------------------------------------------------------------------------
def test_lightgbm_reports_carry_their_target_at_their_own_rounds(excerpt):
    reports: list[tuple[int, float, str | None]] = []
    LightGBM(n_estimators=15, delta_n_estimators=25, early_stopping_rounds=0).fit(
        excerpt.train(),
        valid=excerpt.valid(),
        report=lambda s, v, *, target=None: reports.append((s, v, target)),
    )
    assert {t for _, _, t in reports} == {TASK, DELTA}
    assert max(s for s, _, _ in reports) < 50_000
    assert [s for s, _, t in reports if t == TASK] == list(range(15))
    assert [s for s, _, t in reports if t == DELTA] == list(range(25))
    assert not hasattr(__import__("models.lgbm").lgbm, "DELTA_REPORT_OFFSET")


class FakeTrial:
    """Records what the reporter hands Optuna."""

    def __init__(self, prune_at: int | None = None) -> None:
        self.reports: list[tuple[float, int]] = []
        self.prune_at = prune_at

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return self.prune_at is not None and len(self.reports) >= self.prune_at


def test_tuner_reporter_drops_other_target_and_maps_steps():
    trial = FakeTrial()
    report = make_reporter(trial, 2, -1.0, target=DELTA)
    report(0, 1.5, target=TASK)  # another target: never reaches the pruner
    report(3, 2.0, target=DELTA)
    report(4, 2.5)  # no target (an older model): the study's
    report(STEP_STRIDE, 9.0, target=DELTA)  # outside the trace's stride: dropped
    report(5, float("nan"), target=DELTA)
    assert trial.reports == [(-2.0, 2 * STEP_STRIDE + 3), (-2.5, 2 * STEP_STRIDE + 4)]


def test_tuner_reporter_prunes_on_its_own_target_only():
    import optuna

    trial = FakeTrial(prune_at=1)
    report = make_reporter(trial, 0, 1.0, target=TASK)
    report(1, 0.5, target=DELTA)  # dropped, so no pruning decision is asked for
    with pytest.raises(optuna.TrialPruned):
        report(1, 0.5, target=TASK)


def test_report_sign_per_target():
    assert tuning.report_sign(LightGBM, "maximize", TASK) == -1.0  # a loss, acc maximised
    assert tuning.report_sign(LightGBM, "minimize", DELTA) == 1.0
    assert tuning.report_sign(tm.Epochs, "maximize", TASK) == 1.0  # a legacy tuple
    assert tuning.report_sign(tm.Epochs, "minimize", DELTA) == -1.0


# -- search spaces --------------------------------------------------------------------------
class Recording:
    """A trial that suggests each range's low end and records the names asked for."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def _take(self, name: str, value: Any) -> Any:
        self.names.append(name)
        return value

    def suggest_int(self, name, low, high, **_):
        return self._take(name, low)

    def suggest_float(self, name, low, high, **_):
        return self._take(name, low)

    def suggest_categorical(self, name, choices):
        return self._take(name, choices[0])


def _names(cls, target):
    trial = Recording()
    params = search_space_for(cls, trial, target)
    assert sorted(params) == sorted(trial.names)
    return set(trial.names)


def test_search_spaces_sample_only_what_the_target_uses():
    task, delta = _names(LightGBM, TASK), _names(LightGBM, DELTA)
    assert not task & set(DELTA_ONLY) and set(TASK_ONLY) <= task
    assert not delta & set(TASK_ONLY) and set(DELTA_ONLY) <= delta
    assert "max_classes" in task and "max_classes" not in delta
    assert "learning_rate" in task & delta
    for target in (TASK, DELTA):
        assert "delta_weight" not in _names(RNNPredictor, target)
    assert "delta_weight" in set(RNNPredictor.search_space(Recording()))  # both heads
    tree_task, tree_delta = _names(NegiDecisionTree, TASK), _names(NegiDecisionTree, DELTA)
    assert "delta_min_samples_leaf" not in tree_task and "ccp_alpha" not in tree_delta
    # distilled_tree is built for a latency budget with fixed parameters: nothing to tune.
    assert _names(DistilledTree, DELTA) == set() == _names(DistilledTree, TASK)


def test_search_space_for_keeps_one_argument_search_spaces():
    assert list(inspect.signature(tm.Recorder.search_space).parameters) == ["trial"]
    assert search_space_for(tm.Recorder, FixedTrial({"x": 0.75}), TASK) == {"x": 0.75}
    assert not tuning.search_space_is_empty(tm.Recorder, DELTA)
    assert tuning.search_space_is_empty(KernelOracleLSTM, TASK)


# -- the tuner and the harness --------------------------------------------------------------
class Heads(Predictor):
    """Two 'heads' fitted on demand; records every fit's targets."""

    name = "heads"
    log: ClassVar[list[Any]] = []

    def __init__(self, *, x: float = 0.5) -> None:
        self.x = x

    @classmethod
    def search_space(cls, trial: Any, target: str | None = None) -> dict[str, Any]:
        Heads.log.append(("space", target))
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    def fit(self, train, *, valid=None, seed=0, report=None, targets=None) -> Heads:
        self.fitted_targets_ = resolve_targets(self, targets)
        Heads.log.append(("fit", sorted(self.fitted_targets_)))
        if report is not None:
            for t in sorted(self.fitted_targets_):
                report(1, self.x, target=t)
        self.fitted_ = True
        return self

    def predict(self, runs, positions) -> Prediction:
        positions = self.check_positions(runs, positions)
        n = len(positions)
        proba = np.full((n, runs.n_tasks), 1.0 / runs.n_tasks, dtype=np.float32)
        return Prediction(
            proba if TASK in self.fitted_targets_ else None,
            np.full(n, 10.0) if DELTA in self.fitted_targets_ else None,
        )


def _objective_value(cls, target, excerpt, number):
    import optuna

    study = optuna.create_study(direction=tuning.OBJECTIVES[target][1])
    objective = tuning.make_objective(cls, target, [excerpt], 0, "w")
    for _ in range(number + 1):
        study.optimize(objective, n_trials=1)
    return study


def test_tuner_fits_only_the_study_target(excerpt):
    Heads.log.clear()
    study = _objective_value(Heads, DELTA, excerpt, 1)
    assert ("space", DELTA) in Heads.log
    assert [e for e in Heads.log if e[0] == "fit"] == [("fit", [DELTA])] * 2
    assert study.trials[1].intermediate_values == {1: study.trials[1].params["x"]}


def test_tuner_runs_a_legacy_class(excerpt):
    """No `targets` in fit, a one-argument search_space, reports without a target."""
    assert not accepts_targets(tm.Epochs)
    tm.Epochs.epochs_run.clear()
    study = _objective_value(tm.Epochs, TASK, excerpt, 1)
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert "x" in study.trials[1].params
    assert len(study.trials[1].intermediate_values) == 10


def _spec(model: str, params: dict[str, dict[str, Any]]) -> harness.RunSpec:
    return harness.RunSpec(
        model=model,
        label="t",
        trace=excerpt_trace(),
        seed=0,
        params=params,
        params_source={t: "test" for t in params},
        online_steps=50,
        max_test_positions=200,
        spot_positions=5,
        horizon_origins=20,  # these toys stream by re-predicting the whole history
    )


def excerpt_trace() -> str:
    from tests.conftest import excerpt_trace_name

    return excerpt_trace_name()


def test_harness_fits_each_group_with_its_targets():
    Heads.log.clear()
    spec = _spec(HEADS, {TASK: {"x": 0.1}, DELTA: {"x": 0.9}})
    out = harness.run_one(spec)
    assert [e for e in Heads.log if e[0] == "fit"] == [("fit", [DELTA]), ("fit", [TASK])]
    by_target = out["costs"]["fit_s_by_target"]
    assert set(by_target) == {TASK, DELTA, "shared"} and by_target["shared"] is False
    assert by_target[TASK] + by_target[DELTA] == pytest.approx(out["costs"]["fit_s"])
    assert "acc" in out["metrics"] and "mse_z" in out["metrics"]


def test_harness_shared_fit_and_legacy_class():
    Heads.log.clear()
    out = harness.run_one(_spec(HEADS, {TASK: {}, DELTA: {}}))
    assert [e for e in Heads.log if e[0] == "fit"] == [("fit", [DELTA, TASK])]
    by_target = out["costs"]["fit_s_by_target"]
    assert by_target["shared"] is True
    assert by_target[TASK] == by_target[DELTA] == out["costs"]["fit_s"]
    # a class whose fit takes no targets fits every target in each group, as before
    legacy = harness.run_one(_spec("tests/fixtures/tuning_models.py:Recorder", {TASK: {"x": 0.7}}))
    assert "acc" in legacy["metrics"] and "mse_z" in legacy["metrics"]
    assert set(legacy["costs"]["fit_s_by_target"]) == {TASK, DELTA, "shared"}


def test_result_schema_describes_fit_s_by_target():
    import json
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmark/results/schemas/result.schema.json"
    schema = json.loads(path.read_text())
    entry = schema["properties"]["costs"]["properties"]["fit_s_by_target"]
    assert entry["properties"]["shared"] == {"type": "boolean"}
    assert "fit_s_by_target" not in schema["properties"]["costs"]["required"]


# -- the conformance rule -------------------------------------------------------------------
class IgnoresTargets(Heads):
    """Accepts `targets` but fits nothing of the asked target: the rule must fail."""

    name = "ignores_targets"

    def fit(self, train, *, valid=None, seed=0, report=None, targets=None):
        self.fitted_targets_ = frozenset({TASK} if targets == [DELTA] else {DELTA})
        self.fitted_ = True
        return self


class BadProba(Heads):
    name = "bad_proba"

    def predict(self, runs, positions):
        pred = super().predict(runs, positions)
        if pred.task_proba is None:
            return pred
        return Prediction(pred.task_proba * 2, pred.delta_us)


def test_conformance_rule_single_target_fit(excerpt):
    check_single_target_fit(Context(Heads(), excerpt))  # passes
    check_single_target_fit(Context(tm.Recorder(), excerpt))  # legacy: nothing to check
    with pytest.raises(AssertionError, match=r"after fit\(targets=\['delta'\]\)"):
        check_single_target_fit(Context(IgnoresTargets(), excerpt))
    with pytest.raises(AssertionError, match="sums to"):
        check_single_target_fit(Context(BadProba(), excerpt))
