"""lightgbm: learns for real on a real excerpt, beats majority, is deterministic, reports per
round, and its single-row C fast path equals Booster.predict."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.running.protocol import row_at
from models.lgbm import DELTA_REPORT_OFFSET, LightGBM
from models.reference import Majority

PARAMS = {"n_estimators": 40, "delta_n_estimators": 60}


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
        report=lambda step, value: reports.append((step, value)),
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
    task_steps = [s for s, _ in reports if s < DELTA_REPORT_OFFSET]
    delta_steps = [s - DELTA_REPORT_OFFSET for s, _ in reports if s >= DELTA_REPORT_OFFSET]
    assert task_steps == list(range(len(task_steps))) and len(task_steps) >= 1
    assert delta_steps == list(range(len(delta_steps))) and len(delta_steps) >= 1
    assert all(np.isfinite(v) and v >= 0 for _, v in reports)
    # the reported delta score is the valid mse_z of the model after that round
    best = fitted._best(fitted.regressor_)
    valid = excerpt.valid()
    pred = fitted.predict(excerpt, np.arange(valid.start, valid.start + len(valid))).delta_us
    mse_z = np.mean(((pred - valid.delta_us) / excerpt.sigma_us) ** 2)
    assert dict(reports)[DELTA_REPORT_OFFSET + best - 1] == pytest.approx(mse_z, rel=1e-6)
    # and the training curve holds the same per-round scores
    curve = fitted.training_curve_
    assert curve["round"][0] == 1
    assert curve["valid_delta_mse_z"][best - 1] == pytest.approx(mse_z, rel=1e-6)
    assert len(curve["valid_task_logloss"]) == len(curve["round"])


def test_fast_path_equals_booster_predict(fitted, excerpt):
    start = excerpt.split.test[0]
    stream = fitted.online(excerpt.rows(excerpt.start, start))
    pos = np.arange(start, start + 300)
    batch = fitted.predict(excerpt, pos)
    for k, p in enumerate(pos):
        proba, delta = stream.predict_next()
        assert np.allclose(proba, batch.task_proba[k], atol=1e-6, rtol=0)
        assert delta == pytest.approx(batch.delta_us[k], rel=1e-9, abs=1e-9)
        stream.update(row_at(excerpt, int(p)))


def test_no_valid_runs_all_rounds(excerpt):
    model = LightGBM(n_estimators=5, delta_n_estimators=7).fit(excerpt.train(), seed=1)
    assert model._best(model.classifier_) == 5 and model._best(model.regressor_) == 7
    pred = model.predict(excerpt, excerpt.test_positions()[:10])
    assert np.allclose(pred.task_proba.sum(axis=1), 1.0, atol=1e-5)
