"""The conformance suite catches what it claims to catch."""

from __future__ import annotations

import pytest

from benchmark.running.conformance import check_causality, check_predictor
from tests.helpers.toy_models import LastTask, Leaky


def test_a_leaky_model_fails_the_causality_check(excerpt):
    with pytest.raises(AssertionError, match="look-ahead leak"):
        check_causality(Leaky(), excerpt)


def test_an_honest_model_passes_every_check(excerpt):
    failures = [r for r in check_predictor(LastTask(), excerpt) if not r.passed]
    assert failures == []


def test_check_predictor_reports_the_leak_without_raising(excerpt):
    results = {r.check: r for r in check_predictor(Leaky(), excerpt)}
    assert not results["check_causality"].passed
    assert "look-ahead leak" in results["check_causality"].message
