"""Leaky models, as a hostile submitter writes them (tests/hostile/leaky_models.py), fail
`kernel-oracle check`, and the failure names the rule that caught each one (README §4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import benchmark.cli.harness  # noqa: F401  (registers the commands)
from benchmark.cli.app import app
from benchmark.running.conformance import check_predictor, default_excerpt
from benchmark.running.registry import build_model
from tests.hostile import leaky_models

LEAKY = Path(leaky_models.__file__)

# Each leak and the rules that must catch it (at least the first; all listed ones here fail).
CAUGHT_BY = {
    # slices are copies now: the base holds the train rows only, so reading the truth at a test
    # position from it fails (an IndexError, reported under the first rule that predicts)
    "ReadsTraceThroughBase": ["output_shapes"],
    # the arrays are read-only: the write raises inside predict
    "OverwritesTruth": ["output_shapes"],
    "ReplacesTruth": ["inputs_not_mutated"],
    "LeaksOnBigBatches": ["batch_equals_single", "causality"],
    "LeaksAtOddPositions": ["causality"],
    "LeaksFarAhead": ["causality"],
    "PeeksOnline": ["online_matches_batch"],
}


@pytest.fixture(scope="module")
def check_excerpt():
    return default_excerpt()


def _failed(name: str, runs) -> dict[str, str]:
    model = build_model(f"{LEAKY}:{name}")
    return {r.rule: r.message for r in check_predictor(model, runs) if not r.passed}


@pytest.mark.parametrize("name", sorted(CAUGHT_BY))
def test_each_leak_is_caught_by_its_rule(name, check_excerpt):
    failed = _failed(name, check_excerpt)
    for rule in CAUGHT_BY[name]:
        assert rule in failed, f"{name} passed {rule}; failures: {failed}"
        assert failed[rule].startswith(f"rule {rule!r} broken: ")


def test_the_leak_searches_say_where_the_prediction_differs(check_excerpt):
    far = _failed("LeaksFarAhead", check_excerpt)["causality"]
    assert "look-ahead leak" in far and "leak detected at position " in far
    odd = _failed("LeaksAtOddPositions", check_excerpt)["causality"]
    position = int(odd.split("leak detected at position ")[1].split(":")[0])
    assert position % 2 == 1  # the position named is one where it leaks
    online = _failed("PeeksOnline", check_excerpt)["online_matches_batch"]
    assert "online task differs from predict() at" in online


def test_the_honest_core_of_the_leaky_models_passes(check_excerpt):
    """The leaks, not the shared code, are what fails: the honest core alone passes."""
    assert _failed("HonestLastTask", check_excerpt) == {}


def test_a_slice_reaches_no_future_row_through_its_base(check_excerpt):
    train = check_excerpt.train()
    assert isinstance(train.task.base, bytes) and len(train.task.base) == train.task.nbytes
    with pytest.raises(ValueError, match="read-only"):
        check_excerpt.task[np.array([1])] = 0


@pytest.mark.parametrize("name", sorted(CAUGHT_BY))
def test_check_on_the_command_line_exits_1_naming_the_rule(name):
    result = CliRunner().invoke(app, ["check", f"{LEAKY}:{name}"], env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and CAUGHT_BY[name][0] in result.output.split("rules broken:")[1]
