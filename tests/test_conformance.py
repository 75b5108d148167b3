"""Every registered model passes every conformance check on a real trace excerpt.

One test per model runs the whole suite on one shared context (the model is fitted a few
times, not once per rule), on the excerpt `kernel-oracle check` uses by default.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest

from benchmark.data.dataset import Runs
from benchmark.running.conformance import check_predictor, default_excerpt
from benchmark.running.contract import check_too_short_trace
from benchmark.running.protocol import Prediction
from benchmark.running.registry import build_model, get_model_class, model_tags, registered
from tests.helpers.toy_models import LastTask


@pytest.fixture(scope="module")
def check_excerpt():
    return default_excerpt()


@pytest.mark.parametrize("name", sorted(registered()))
def test_every_registered_model_conforms(name, check_excerpt):
    fast = {} if "reference" in model_tags(name) else get_model_class(name).fast_params
    model = build_model(name, copy.deepcopy(fast))
    failures = [r.message for r in check_predictor(model, check_excerpt) if not r.passed]
    assert failures == []


# -- the too-short-trace rule: a model that fits two runs must still predict scorable output ---
class _Spoiled(LastTask):
    """LastTask whose output `spoil` breaks in one way (None: honest)."""

    name = "spoiled"
    spoil: Callable[[Prediction], Prediction] | None = None

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        pred = super().predict(runs, positions)
        return pred if self.spoil is None else type(self).spoil(pred)


class _RefusesTinyTraces(LastTask):
    """Refuses a short training trace with a ValueError carrying `message`."""

    name = "refuses_tiny"
    message = "needs at least 10 training runs"

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None):
        if len(train) < 10:
            raise ValueError(self.message)
        return super().fit(train, valid=valid, seed=seed)


def _half_mass(p: Prediction) -> Prediction:
    return Prediction(task_proba=p.task_proba * np.float32(0.5), delta_us=p.delta_us)


def _no_rows(p: Prediction) -> Prediction:
    return Prediction(task_proba=p.task_proba[:0], delta_us=p.delta_us)


def _nan_proba(p: Prediction) -> Prediction:
    proba = p.task_proba.copy()
    proba[0, 0] = np.nan
    return Prediction(task_proba=proba, delta_us=p.delta_us)


def _negative_delta(p: Prediction) -> Prediction:
    return Prediction(task_proba=p.task_proba, delta_us=-np.abs(p.delta_us) - 1.0)


def _too_many_deltas(p: Prediction) -> Prediction:
    return Prediction(task_proba=p.task_proba, delta_us=np.concatenate([p.delta_us, p.delta_us]))


def _too_short_rule(model: LastTask, runs: Runs) -> tuple[bool, str]:
    (result,) = check_predictor(model, runs, [check_too_short_trace])
    return result.passed, result.message


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (_half_mass, "sums to 0.5"),
        (_no_rows, "task_proba has shape (0,"),
        (_nan_proba, "has NaN, inf or negatives"),
        (_negative_delta, "delta_us[0] = -"),
        (_too_many_deltas, "delta_us has shape (2,), expected (1,)"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_too_short_trace_rule_fails_a_two_run_fit_whose_prediction_is_unscorable(
    excerpt, spoil, says
):
    """After a two-run fit, the one position asked must get one probability row summing to 1
    (finite, non-negative) and one finite non-negative delta, or the rule fails and says why."""
    model = type("Spoiled", (_Spoiled,), {"spoil": staticmethod(spoil)})()
    passed, message = _too_short_rule(model, excerpt)
    assert not passed
    assert message.startswith("rule 'too_short_trace' broken: ") and says in message, message


def test_too_short_trace_rule_passes_an_honest_prediction_or_a_named_refusal(excerpt):
    """A scorable prediction after a two-run fit, or a ValueError with a message, passes;
    a ValueError with no message fails."""
    assert _too_short_rule(_Spoiled(), excerpt) == (True, "")
    assert _too_short_rule(_RefusesTinyTraces(), excerpt)[0]
    silent = type("Silent", (_RefusesTinyTraces,), {"message": ""})()
    passed, message = _too_short_rule(silent, excerpt)
    assert not passed and "has no message" in message, message
