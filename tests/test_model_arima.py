"""arima: beats majority on mse_z, forecasts are one-step and causal, and the Kalman
step of online() (compiled) equals statsmodels' filter."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from benchmark.running.protocol import row_at
from models.arima import Arima
from models.reference import Majority


def mse_z(model, runs):
    pos = runs.test_positions()
    pred = model.predict(runs, pos).delta_us
    return float(np.mean(((pred - runs.delta_us[pos]) / runs.sigma_us) ** 2))


@pytest.fixture(scope="module")
def fitted(excerpt):
    return Arima().fit(excerpt.train(), valid=excerpt.valid(), seed=0)


def test_beats_majority(fitted, excerpt):
    majority = Majority().fit(excerpt.train(), valid=excerpt.valid())
    assert mse_z(fitted, excerpt) < mse_z(majority, excerpt)


def test_delta_only(fitted, excerpt):
    pred = fitted.predict(excerpt, excerpt.test_positions()[:5])
    assert pred.task_proba is None and pred.delta_us.shape == (5,)
    assert Arima.targets == frozenset({"delta"})


def test_same_seed_same_predictions(fitted, excerpt):
    again = Arima().fit(excerpt.train(), valid=excerpt.valid(), seed=0)
    pos = excerpt.test_positions()
    assert np.array_equal(
        fitted.predict(excerpt, pos).delta_us, again.predict(excerpt, pos).delta_us
    )


def test_forecast_at_j_ignores_rows_from_j(fitted, excerpt):
    """Changing rows >= j (including row j's own delta) changes no forecast at positions <= j."""
    test = excerpt.test_positions()
    for j in (int(test[0]), int(test[len(test) // 2]), int(test[-1])):
        local = j - excerpt.start
        delta = excerpt.delta_us.copy()
        delta[local:] = np.random.default_rng(j).exponential(5000.0, len(delta) - local)
        changed = replace(excerpt, delta_us=delta)
        pos = np.arange(j - 50, j + 1)
        assert np.array_equal(
            fitted.predict(excerpt, pos).delta_us, fitted.predict(changed, pos).delta_us
        )
        # the next forecast does see row j
        nxt = np.array([j + 1]) if j + 1 <= excerpt.start + len(excerpt) else None
        if nxt is not None:
            assert fitted.predict(excerpt, nxt).delta_us != fitted.predict(changed, nxt).delta_us


def test_forecasts_are_the_filter_one_step_predictions(fitted, excerpt):
    """predict() at j equals the statsmodels filter run on rows < j only."""
    j = int(excerpt.test_positions()[100])
    alone = fitted._filter(np.asarray(excerpt.delta_us[: j - excerpt.start], dtype=float))
    expected = alone.forecast(1)[0]
    assert fitted.predict(excerpt, np.array([j])).delta_us[0] == pytest.approx(
        max(expected, 0.0), rel=1e-9
    )


@pytest.mark.parametrize("transform", ["none", "log1p"])
def test_compiled_kalman_step_equals_statsmodels(excerpt, transform):
    model = Arima(p=2, q=2, transform=transform, fit_tail=1500).fit(excerpt.train())
    start = excerpt.split.valid[0]
    t0 = time.perf_counter()
    stream = model.online(excerpt.rows(excerpt.start, start))
    built_s = time.perf_counter() - t0
    assert isinstance(stream.compile_s, float) and stream.compile_s >= 0.0
    assert 0.0 < stream.compile_s <= built_s  # timed inside online(), not made up
    pos = np.arange(start, start + 500)
    batch = model.predict(excerpt, pos).delta_us
    online = []
    for p in pos:
        online.append(stream.predict_next()[1])
        stream.update(row_at(excerpt, int(p)))
    assert np.allclose(online, batch, rtol=1e-7, atol=1e-6)


def test_log1p_back_transform(excerpt):
    """The log model's exp(forecast) - 1 tracks the median run length; Duan's smearing
    multiplies 1 + that by one factor and brings the mean forecast near the mean run length."""
    import copy

    model = Arima(transform="log1p", fit_tail=2000).fit(excerpt.train())
    assert model.smearing_ > 1.0  # Duan's smearing factor of a noisy log model
    positions = excerpt.test_positions()
    pred = model.predict(excerpt, positions).delta_us
    assert np.isfinite(pred).all() and (pred >= 0).all()
    median_model = copy.deepcopy(model)
    median_model.smearing_ = 1.0  # no smearing: the back-transformed conditional median
    median = median_model.predict(excerpt, positions).delta_us
    np.testing.assert_allclose(pred + 1.0, model.smearing_ * (median + 1.0), rtol=1e-12)
    truth = excerpt.delta_us[positions]
    assert np.median(median) == pytest.approx(np.median(truth), rel=0.1)
    assert pred.mean() == pytest.approx(truth.mean(), rel=0.1)
    assert abs(pred.mean() - truth.mean()) < abs(median.mean() - truth.mean())


def test_bad_parameters(excerpt):
    with pytest.raises(ValueError, match="transform"):
        Arima(transform="sqrt").fit(excerpt.train())
    with pytest.raises(ValueError, match="needs at least"):
        Arima().fit(excerpt.rows(0, 10))
