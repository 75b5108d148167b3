"""lightgbm: learns for real on a real excerpt, beats majority, is deterministic, reports per
round, and its compiled online path equals Booster.predict."""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmark.running.protocol import row_at
from models.fast.trees import Forest, apply
from models.lgbm import BUDGET_MAX_TREES, LightGBM, _capped
from models.reference import Majority

PARAMS = {"n_estimators": 40, "delta_n_estimators": 60}
PATIENCE = 10  # LightGBM's default early_stopping_rounds, which PARAMS leave as is


def scores(model, runs):
    pos = runs.test_positions()
    pred = model.predict(runs, pos)
    return {
        "acc": float((pred.task_proba.argmax(axis=1) == runs.task[pos]).mean()),
        "mse_z": float(np.mean(((pred.delta_us - runs.delta_us[pos]) / runs.sigma_us) ** 2)),
    }


@pytest.fixture(scope="module")
def reports():
    return []


@pytest.fixture(scope="module")
def fitted(excerpt, reports):
    return LightGBM(**PARAMS).fit(
        excerpt.train(),
        valid=excerpt.valid(),
        seed=0,
        report=lambda step, value, *, target=None: reports.append((step, value, target)),
    )


def test_beats_majority(fitted, excerpt):
    majority = Majority().fit(excerpt.train(), valid=excerpt.valid())
    mine, base = scores(fitted, excerpt), scores(majority, excerpt)
    assert mine["acc"] > base["acc"] + 0.05, (mine, base)
    assert mine["mse_z"] < base["mse_z"], (mine, base)


def test_same_seed_same_predictions(fitted, excerpt):
    again = LightGBM(**PARAMS).fit(excerpt.train(), valid=excerpt.valid(), seed=0)
    pos = excerpt.test_positions()
    a, b = fitted.predict(excerpt, pos), again.predict(excerpt, pos)
    assert np.array_equal(a.task_proba, b.task_proba)
    assert np.array_equal(a.delta_us, b.delta_us)


def test_early_stopping_and_reports(fitted, reports, excerpt):
    """Reports come per round; the kept round is the best reported one, stopping follows it by
    PATIENCE rounds, and the reported scores are the valid log loss and mse_z of the model."""
    assert {t for _, _, t in reports} == {"task", "delta"}  # every report names its target
    task_steps = [s for s, _, t in reports if t == "task"]
    delta_steps = [s for s, _, t in reports if t == "delta"]
    # each booster counts its own rounds from 0; no offset is folded into the steps
    assert task_steps == list(range(len(task_steps))) and len(task_steps) >= 1
    assert delta_steps == list(range(len(delta_steps))) and len(delta_steps) >= 1
    assert all(np.isfinite(v) and v >= 0 for _, v, _ in reports)
    task_scores = [v for _, v, t in reports if t == "task"]
    delta_scores = [v for _, v, t in reports if t == "delta"]
    # early stopping keeps the round with the lowest valid score, and stops PATIENCE rounds
    # after it unless the rounds ran out first
    per_round = len(fitted.classes_) if len(fitted.classes_) > 2 else 1
    cap = BUDGET_MAX_TREES
    for booster, scores_, rounds in (
        (fitted.classifier_, task_scores, _capped(PARAMS["n_estimators"], per_round, cap)),
        (fitted.regressor_, delta_scores, _capped(PARAMS["delta_n_estimators"], 1, cap)),
    ):
        assert booster.n_estimators == rounds  # the budget's cap on trees walked per step
        kept = fitted._best(booster)
        assert kept == 1 + int(np.argmin(scores_))
        assert len(scores_) == min(rounds, kept + PATIENCE)
    # the reported task score is the valid log loss of the kept model's probabilities
    valid_pos = np.arange(excerpt.valid().start, excerpt.valid().start + len(excerpt.valid()))
    proba = fitted.predict(excerpt, valid_pos).task_proba.astype(np.float64)
    p_true = proba[np.arange(len(valid_pos)), excerpt.task[valid_pos]]
    log_loss = -np.mean(np.log(np.clip(p_true, 1e-15, 1.0)))
    assert task_scores[fitted._best(fitted.classifier_) - 1] == pytest.approx(log_loss, rel=1e-6)
    # the reported delta score is the valid mse_z of the model after that round
    best = fitted._best(fitted.regressor_)
    valid = excerpt.valid()
    pred = fitted.predict(excerpt, np.arange(valid.start, valid.start + len(valid))).delta_us
    mse_z = np.mean(((pred - valid.delta_us) / excerpt.sigma_us) ** 2)
    assert delta_scores[best - 1] == pytest.approx(mse_z, rel=1e-6)
    # and the training curve holds the same per-round scores
    curve = fitted.training_curve_
    assert curve["round"][0] == 1
    assert curve["valid_delta_mse_z"][best - 1] == pytest.approx(mse_z, rel=1e-6)
    assert len(curve["valid_task_logloss"]) == len(curve["round"])


def test_compiled_online_equals_booster_predict(fitted, excerpt):
    """The compiled step repeats LightGBM's own operations in its order: equal to the last
    bit on the excerpt (tolerance 1e-12 for a libm whose exp rounds differently)."""
    start = excerpt.split.test[0]
    t0 = time.perf_counter()
    stream = fitted.online(excerpt.rows(excerpt.start, start))
    built_s = time.perf_counter() - t0
    assert isinstance(stream.compile_s, float) and stream.compile_s >= 0.0
    assert 0.0 < stream.compile_s <= built_s  # timed inside online(), not made up
    assert stream.state_bytes >= 16 * len(fitted.online_forest()[0].feature)
    pos = np.arange(start, start + 300)
    batch = fitted.predict(excerpt, pos)
    for k, p in enumerate(pos):
        proba, delta = stream.predict_next()
        assert proba.dtype == np.float32
        assert np.allclose(proba, batch.task_proba[k], atol=1e-12, rtol=0)
        assert delta == pytest.approx(batch.delta_us[k], rel=1e-12, abs=1e-12)
        stream.update(row_at(excerpt, int(p)))


def _sequential_raw(forest, leaves):
    """Leaf values summed tree by tree from 0.0, as LightGBM's predictor adds them."""
    raw = np.zeros(len(leaves))
    for t in range(forest.n_trees):
        raw = raw + forest.value[leaves[:, t]]
    return raw


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_compiled_walk_follows_lightgbm_rules(zero_as_missing):
    """Categorical splits (ids past one 64-bit word too), NaN and zero routing: the packed
    forest reaches LightGBM's leaves, so its raw scores equal Booster.predict's exactly."""
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    n = 4000
    x = rng.normal(size=(n, 4)).astype(np.float32)
    x[:, 0] = rng.integers(0, 100, n)  # categorical, ids up to 99
    x[:, 1] = rng.integers(0, 10, n)  # categorical, ids < 63
    x[rng.random(n) < 0.2, 2] = np.nan  # missing values
    x[rng.random(n) < 0.3, 3] = 0.0
    y = ((x[:, 0] % 3 == 0) ^ (x[:, 1] > 4) ^ (np.nan_to_num(x[:, 2]) > 0.3)).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "min_data_in_leaf": 5,
        "zero_as_missing": zero_as_missing,
        "verbosity": -1,
        "num_threads": 1,
    }
    data = lgb.Dataset(x, y, categorical_feature=[0, 1])
    booster = lgb.train(params, data, num_boost_round=25)
    forest = Forest.from_lightgbm(booster, 25)
    flags = set(forest.flags.tolist())
    assert {1, 8 if not zero_as_missing else 4} <= {f & 13 for f in flags}  # splits exercised
    raw = _sequential_raw(forest, apply(x, *forest.pack(4)))
    assert np.array_equal(raw, booster.predict(x, raw_score=True))


def test_no_valid_runs_all_rounds(excerpt):
    model = LightGBM(n_estimators=5, delta_n_estimators=7).fit(excerpt.train(), seed=1)
    assert model._best(model.classifier_) == 5 and model._best(model.regressor_) == 7
    pred = model.predict(excerpt, excerpt.test_positions()[:10])
    assert np.allclose(pred.task_proba.sum(axis=1), 1.0, atol=1e-5)


def test_a_negative_regression_output_is_clipped_to_zero(fitted, excerpt, monkeypatch):
    """The L2 regressor can go below 0 on rare rows (seen on mixed); a run length cannot."""
    import copy

    model = copy.deepcopy(fitted)
    booster = model.regressor_.booster_
    raw = booster.predict

    def shifted(x, **kwargs):  # the fitted regressor, moved down so that some rows go negative
        out = raw(x, **kwargs)
        return out - np.median(out)

    monkeypatch.setattr(booster, "predict", shifted)
    pos = excerpt.test_positions()
    pred = model.predict(excerpt, pos).delta_us
    unshifted = fitted.predict(excerpt, pos).delta_us
    assert (pred >= 0).all()
    assert (pred == 0).sum() >= len(pos) // 3  # the rows below the median are clipped
    kept = pred > 0  # the others are the regressor's values, moved by the same median
    assert np.allclose(unshifted[kept] - pred[kept], np.median(unshifted))


def test_budget_caps_trees_and_depth(excerpt):
    """The latency budget: a step walks at most `max_trees` trees per booster, none deeper
    than `max_depth`, whatever n_estimators and num_leaves ask for."""
    model = LightGBM(
        k=2,
        top_m=4,
        window=16,
        max_classes=8,
        n_estimators=300,
        num_leaves=63,
        delta_n_estimators=300,
        delta_num_leaves=63,
        early_stopping_rounds=0,
        max_trees=40,
        max_depth=3,
    ).fit(excerpt.train(), seed=0)
    n_raw = len(model.classes_) if len(model.classes_) > 2 else 1
    for booster, per_round in ((model.classifier_, n_raw), (model.regressor_, 1)):
        forest = Forest.from_lightgbm(booster.booster_, model._best(booster))
        assert forest.n_trees <= 40 and forest.n_trees == (40 // per_round) * per_round
        assert forest.depths().max() <= 3
    assert _capped(10, 3, 0) == 10 and _capped(10, 50, 40) == 1  # no cap; at least one round
