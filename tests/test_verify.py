"""Output checks and spot verification, in process (the harness runs them inside its worker)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from benchmark.running.protocol import Prediction
from benchmark.running.verify import (
    SPOT_MIN,
    LeakDetected,
    ModelOutputError,
    check_prediction,
    spot_order,
    spot_verify,
)
from tests.helpers.harness_models import Constant, LeaksAtOddPositions, LeaksOnBigBatches
from tests.helpers.toy_models import LastTask, Leaky


def _batch(model, runs):
    model.fit(runs.train(), valid=runs.valid())
    positions = runs.test_positions()
    return positions, model.predict(runs, positions)


@pytest.mark.parametrize("cls", [Leaky, LeaksAtOddPositions, LeaksOnBigBatches])
def test_models_that_leak_everywhere_at_some_positions_or_on_big_batches_are_caught(excerpt, cls):
    model = cls()
    positions, pred = _batch(model, excerpt)
    with pytest.raises(LeakDetected, match=r"^leak detected at position \d+: "):
        spot_verify(model, excerpt, positions, pred, ["task", "delta"], budget_s=1e9)


@pytest.mark.parametrize("cls", [Constant, LastTask])
def test_honest_models_pass_and_the_budget_bounds_the_count(excerpt, cls):
    model = cls()
    positions, pred = _batch(model, excerpt)
    assert spot_verify(model, excerpt, positions, pred, ["task", "delta"], 1e9, k=50) == 50
    # A spent budget still checks the minimum.
    assert spot_verify(model, excerpt, positions, pred, ["task", "delta"], -1.0) == SPOT_MIN


def test_the_spot_order_is_fixed_and_a_longer_one_extends_a_shorter_one():
    short, long = spot_order(600, 10), spot_order(600, 200)
    assert short.tolist() == long[:10].tolist() == spot_order(600, 10).tolist()
    assert len(set(long.tolist())) == 200 and long.max() < 600
    assert len(spot_order(7, 200)) == 7


@pytest.mark.parametrize(
    ("delta", "needle"),
    [(np.nan, "nan"), (np.inf, "inf"), (-1.0, "-1"), (1e308, "1e+308"), (2e12, "2e+12")],
)
def test_an_unscorable_delta_names_its_index_and_the_rule(delta, needle):
    values = np.full(4, 10.0)
    values[2] = delta
    with pytest.raises(
        ModelOutputError, match=rf"^delta_us\[2\] = {re.escape(needle)}: .*microseconds"
    ):
        check_prediction(Prediction(None, values), 4, 3, ["delta"])
    check_prediction(Prediction(None, np.full(4, 1e12)), 4, 3, ["delta"])  # the limit itself


def test_wrong_shapes_and_types_are_named():
    with pytest.raises(ModelOutputError, match=r"task_proba has shape \(4, 2\), expected \(4, 3\)"):
        check_prediction(Prediction(np.zeros((4, 2)), None), 4, 3, ["task"])
    with pytest.raises(ModelOutputError, match=r"delta_us has shape None"):
        check_prediction(Prediction(np.zeros((4, 3)), None), 4, 3, ["task", "delta"])
    with pytest.raises(ModelOutputError, match="returned dict, not a Prediction"):
        check_prediction({}, 4, 3, ["task"])
