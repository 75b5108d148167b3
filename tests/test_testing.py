"""The conformance suite catches what it claims: a toy that breaks exactly one rule fails
exactly that rule (and the rules that build on it), with a message that names it."""

from __future__ import annotations

import pytest

from benchmark.running import conformance
from benchmark.running.conformance import (
    CHECKS,
    ConformanceError,
    check_estimator,
    check_predictor,
    parametrize_checks,
    rule_of,
)
from tests.helpers import toy_models as toys

# toy -> the rules it must fail (and only these)
BREAKS = {
    toys.SetsStateInInit: {"init_sets_only_params"},
    toys.ChangesParamInInit: {"init_sets_only_params"},
    toys.ChangesParamInFit: {"fit_changes_no_parameter"},
    toys.PublicFittedState: {"fit_changes_no_parameter"},
    toys.RememberingFits: {"fit_idempotent"},
    toys.Unseeded: {"same_seed_same_output", "fit_idempotent"},
    toys.NotPicklable: {"pickle_round_trip"},
    toys.NoFitCheck: {"predict_before_fit"},
    toys.BatchDependent: {
        "batch_equals_single",
        "causality",
        "online_matches_batch",
        "forecast_step_one_is_predict",
    },
    # reads row j when predicting j: only the leak searches can see it (and the free run,
    # whose online path cannot peek, then differs from predict at step 1)
    toys.Leaky: {"causality", "online_matches_batch", "forecast_step_one_is_predict"},
    # honest one step ahead; its own forecast reads the rows from the origin on
    toys.PeeksInForecast: {"forecast_is_causal"},
    # honest everywhere but in its stream's fork, which is the stream itself
    toys.SharedFork: {"fork_is_independent"},
}


@pytest.mark.parametrize("toy", list(BREAKS), ids=lambda t: t.__name__)
def test_a_toy_fails_exactly_the_rules_it_breaks(toy, excerpt):
    results = check_predictor(toy(), excerpt)
    failed = {r.rule: r.message for r in results if not r.passed}
    assert set(failed) == BREAKS[toy], failed
    for rule, message in failed.items():
        assert message.startswith(f"rule {rule!r} broken: ")


def test_an_honest_model_passes_every_check(excerpt):
    results = check_predictor(toys.LastTask(), excerpt)
    assert [r.message for r in results if not r.passed] == []
    assert [r.check for r in results] == [c.__name__ for c in CHECKS]


def test_check_estimator_raises_at_the_first_broken_rule(excerpt):
    with pytest.raises(ConformanceError) as error:
        check_estimator(toys.ChangesParamInFit(), excerpt)
    assert error.value.rule == "fit_changes_no_parameter"
    assert "fit() changed parameters ['alpha']" in str(error.value)
    check_estimator(toys.LastTask(), excerpt)  # passes: returns None


def test_default_excerpt_refuses_bad_lengths_and_traces():
    with pytest.raises(ValueError, match=r"--runs 5: the excerpt needs between 2,000 and"):
        conformance.default_excerpt(runs=5)
    with pytest.raises(KeyError, match="unknown trace 'nosuch'; shipped traces: "):
        conformance.default_excerpt("nosuch")


@parametrize_checks(toys.LastTask())
def test_parametrize_checks_gives_one_passing_test_per_rule(check):
    check()


def test_parametrize_checks_names_each_rule_and_raises_for_a_broken_one(excerpt):
    mark = parametrize_checks(toys.RememberingFits(), excerpt)
    argname, params = mark.args
    assert argname == "check" and [p.id for p in params] == [rule_of(c) for c in CHECKS]
    by_rule = {p.id: p.values[0] for p in params}
    by_rule["pickle_round_trip"]()  # a rule it keeps passes
    with pytest.raises(ConformanceError, match=r"rule 'fit_idempotent' broken: fitted twice"):
        by_rule["fit_idempotent"]()
