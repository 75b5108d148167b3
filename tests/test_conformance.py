"""Every registered model passes every conformance check on a real trace excerpt."""

from __future__ import annotations

import copy

import pytest

from benchmark.running.conformance import CHECKS
from benchmark.running.registry import build_model, get_model_class, registered


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("name", sorted(registered()))
def test_conformance(name, check, excerpt):
    check(build_model(name, copy.deepcopy(get_model_class(name).fast_params)), excerpt)
