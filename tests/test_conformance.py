"""Every registered model passes every conformance check on a real trace excerpt.

One test per model runs the whole suite on one shared context (the model is fitted a few
times, not once per rule), on the excerpt `kernel-oracle check` uses by default.
"""

from __future__ import annotations

import copy

import pytest

from benchmark.running.conformance import check_predictor, default_excerpt
from benchmark.running.registry import build_model, get_model_class, model_tags, registered


@pytest.fixture(scope="module")
def check_excerpt():
    return default_excerpt()


@pytest.mark.parametrize("name", sorted(registered()))
def test_every_registered_model_conforms(name, check_excerpt):
    fast = {} if "reference" in model_tags(name) else get_model_class(name).fast_params
    model = build_model(name, copy.deepcopy(fast))
    failures = [r.message for r in check_predictor(model, check_excerpt) if not r.passed]
    assert failures == []
