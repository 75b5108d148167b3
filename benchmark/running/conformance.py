"""The conformance suite (README §4), in the manner of scikit-learn's `check_estimator`.

`kernel-oracle check FILE.py:Class` runs it from the command line; from Python:

* `check_predictor(model, runs)` runs every check and returns one `CheckResult` each;
* `check_estimator(model)` raises `ConformanceError` (naming the rule) at the first failure;
* `parametrize_checks(model)` gives pytest one test per rule, for a submitter's own suite:

      from benchmark.running.conformance import parametrize_checks

      @parametrize_checks(MyPredictor())
      def test_my_predictor(check):
          check()

Every check gets an unfitted model and a real trace excerpt (`default_excerpt`: the first
`DEFAULT_RUNS` runs of a shipped trace, with their own split by the fixed rule). The contract
checks live in `benchmark.running.contract`, the leak searches in `benchmark.running.leaks`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.data.dataset import Runs, runs_from_frame
from benchmark.running.contract import (
    Context,
    _describe,
    check_fit_changes_no_parameter,
    check_fit_idempotent,
    check_init_sets_only_params,
    check_inputs_not_mutated,
    check_output_shapes,
    check_pickle_round_trip,
    check_predict_before_fit,
    check_same_seed_same_output,
    check_single_target_fit,
    check_targets_declared,
    check_too_short_trace,
)
from benchmark.running.forecast_checks import (
    check_forecast_is_causal,
    check_forecast_step_one_is_predict,
    check_fork_is_independent,
)
from benchmark.running.leaks import (
    check_batch_equals_single,
    check_causality,
    check_online_matches_batch,
)
from benchmark.running.protocol import Predictor

Check = Callable[[Context], None]

CHECKS: tuple[Check, ...] = (
    check_targets_declared,
    check_init_sets_only_params,
    check_predict_before_fit,
    check_output_shapes,
    check_fit_changes_no_parameter,
    check_same_seed_same_output,
    check_fit_idempotent,
    check_inputs_not_mutated,
    check_pickle_round_trip,
    check_single_target_fit,
    check_too_short_trace,
    check_batch_equals_single,
    check_causality,
    check_online_matches_batch,
    check_forecast_is_causal,
    check_forecast_step_one_is_predict,
    check_fork_is_independent,
)

DEFAULT_RUNS = 10_000  # long enough that a leak a few thousand rows ahead is inside it
MIN_RUNS = 2_000  # the leak searches need a few thousand positions with their history


class ConformanceError(AssertionError):
    """A model broke a rule; `rule` is the check's name without `check_`. The message reads
    "rule 'causality' broken: <what differs, where, and how to fix it>"."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def rule_of(check: Check) -> str:
    """A check's rule name: `check_causality` -> `causality`."""
    return check.__name__.removeprefix("check_")


def rule_text(check: Check) -> str:
    """What the rule says: the first line of the check's docstring."""
    return " ".join((check.__doc__ or "").split("\n\n")[0].split())


@dataclass(frozen=True)
class CheckResult:
    check: str  # the check function's name, e.g. check_causality
    passed: bool
    message: str = ""  # on failure: "rule 'causality' broken: ..."
    seconds: float = 0.0

    @property
    def rule(self) -> str:
        return self.check.removeprefix("check_")


def run_check(check: Check, ctx: Context) -> CheckResult:
    """One check on a shared context; a failure (any exception) becomes a failed result."""
    t0 = time.perf_counter()
    try:
        check(ctx)
    except Exception as error:
        detail = str(error) if isinstance(error, AssertionError) else _describe(error)
        message = f"rule {rule_of(check)!r} broken: {detail.strip() or type(error).__name__}"
        return CheckResult(check.__name__, False, message, time.perf_counter() - t0)
    return CheckResult(check.__name__, True, "", time.perf_counter() - t0)


def check_predictor(
    model: Predictor, runs: Runs, checks: Sequence[Check] = CHECKS
) -> list[CheckResult]:
    """Run `checks` on copies of `model` (unfitted) over `runs`; never raises for a failure."""
    ctx = Context(model, runs)
    return [run_check(check, ctx) for check in checks]


def check_estimator(model: Predictor, runs: Runs | None = None) -> None:
    """Raise `ConformanceError` naming the rule of the first check `model` fails."""
    ctx = Context(model, runs if runs is not None else default_excerpt())
    for check in CHECKS:
        result = run_check(check, ctx)
        if not result.passed:
            raise ConformanceError(result.rule, result.message)


class BoundCheck:
    """One check bound to a context shared by all checks of one model (fits happen once)."""

    def __init__(self, check: Check, shared: _LazyContext) -> None:
        self.check, self.shared = check, shared

    def __call__(self) -> None:
        result = run_check(self.check, self.shared.get())
        if not result.passed:
            raise ConformanceError(result.rule, result.message)

    def __repr__(self) -> str:
        return rule_of(self.check)


class _LazyContext:
    """The excerpt is loaded (and the model fitted) only when the first check runs."""

    def __init__(self, model: Predictor, runs: Runs | None) -> None:
        self.model, self.runs, self.ctx = model, runs, None

    def get(self) -> Context:
        if self.ctx is None:
            runs = self.runs if self.runs is not None else default_excerpt()
            self.ctx = Context(self.model, runs)
        return self.ctx


def parametrize_checks(model: Predictor, runs: Runs | None = None) -> Any:
    """`pytest.mark.parametrize("check", ...)`: one test per rule, ids the rule names."""
    import pytest

    shared = _LazyContext(model, runs)
    params = [pytest.param(BoundCheck(c, shared), id=rule_of(c)) for c in CHECKS]
    return pytest.mark.parametrize("check", params)


def default_excerpt(
    trace: str | None = None, runs: int = DEFAULT_RUNS, root: Path | None = None
) -> Runs:
    """The first `runs` runs of a shipped trace (verified; default: the first), with their own
    split by the fixed rule. A bad trace name or length is a one-line ValueError/KeyError."""
    from benchmark.data.manifest import read_run_table, trace_names

    names = trace_names(root)
    name = trace or names[0]
    if name not in names:
        raise KeyError(f"unknown trace {name!r}; shipped traces: {', '.join(names)}")
    frame = read_run_table(name, root)
    if not MIN_RUNS <= runs <= len(frame):
        raise ValueError(
            f"--runs {runs}: the excerpt needs between {MIN_RUNS:,} and {len(frame):,} runs "
            f"(the length of {name})"
        )
    return runs_from_frame(frame.iloc[:runs], f"{name}-excerpt")
