"""`kernel-oracle check` run as a hostile submitter or a careless maintainer would.

Every case ends one of two ways: a refusal (exit 2, one line `error: ...` naming the file, the
option or the class, never a traceback), or the check's correct verdict (exit 1 with the broken
rule named, or exit 0). The model classes are in tests/hostile/hostile_models.py; files that
cannot even be parsed are written here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import benchmark.cli.harness  # noqa: F401  (registers `check`)
from benchmark.core.paths import data_dir
from benchmark.running.conformance import CHECKS
from tests.hostile import hostile_models
from tests.hostile.datacli import refused, run

FILE = Path(hostile_models.__file__)
SMALL = ("--runs", "2000", "--trace", "keepalive")  # the shortest excerpt check accepts


def verdict(result, *rules: str) -> str:
    """Assert the check ran and found exactly `rules` broken (exit 1), or none (exit 0)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    if not rules:
        held = f"all {len(CHECKS)} rules hold"
        assert result.exit_code == 0 and held in result.output, result.output
        return result.output
    assert result.exit_code == 1, result.output
    summary = result.output.rsplit("rules broken: ", 1)[1].split(" (")[0]
    assert set(summary.split(", ")) == set(rules), result.output
    return result.output


# -- refusals: the model cannot be used at all ----------------------------------------------
def test_a_file_with_a_syntax_error(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("class Broken(:\n    pass\n")
    refused(run("check", f"{bad}:Broken"), f"{bad}:1: syntax error")


def test_a_file_that_fails_to_import(tmp_path):
    bad = tmp_path / "needs.py"
    bad.write_text("import numpy\nimport no_such_module_here\n")
    refused(run("check", f"{bad}:X"), str(bad), "ModuleNotFoundError", "no_such_module_here")


def test_a_file_that_raises_while_imported(tmp_path):
    bad = tmp_path / "raises.py"
    bad.write_text("raise RuntimeError('no\\nthanks')\n")
    refused(run("check", f"{bad}:X"), str(bad), "RuntimeError: no")


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        ("nosuch_model", ["Unknown model 'nosuch_model'", "Available: "]),
        ("markv", ["Did you mean: markov"]),
        ("missing_dir/missing.py:X", ["missing_dir/missing.py not found"]),
        (str(FILE), ["Name the class too"]),
        (f"{FILE}:Nope", ["defines no class 'Nope'"]),
        (f"{FILE}:NotAPredictor", ["not a Predictor subclass"]),
        (f"{FILE}:Abstract", ["does not implement predict"]),
        (f"{FILE}:UnknownTag", ["unknown tags ['quantum']"]),
        (f"{FILE}:VarArgs", ["VarArgs.__init__ takes *args", "keyword parameters only"]),
        (f"{FILE}:InitRaises", ["constructing it raised RuntimeError: deliberate failure"]),
        ("no_such_module:Cls", ["no module named 'no_such_module'"]),
        ("pathlib:Path", ["not a Predictor subclass"]),
    ],
)
def test_an_unusable_model_is_refused_in_one_line(spec, needles):
    refused(run("check", spec), *needles)


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (["--runs", "5"], ["--runs 5: the excerpt needs between 2,000 and"]),
        (["--runs", "-1"], ["--runs -1"]),
        (["--runs", "99999999"], ["--runs 99999999"]),
        (["--trace", "nosuch"], ["unknown trace 'nosuch'; shipped traces: "]),
        (["--trace", "../../etc"], ["unknown trace '../../etc'"]),
    ],
)
def test_bad_options_are_refused_in_one_line(options, needles):
    refused(run("check", "markov", *options), *needles)


def _data_copy(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(data_dir(), root, ignore=shutil.ignore_patterns("raw"))
    return root


def test_altered_trace_data_is_refused_naming_the_file(tmp_path, monkeypatch):
    root = _data_copy(tmp_path)
    parquet = sorted((root / "traces").glob("*.parquet"))[0]
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(root))
    refused(run("check", "markov", "--trace", parquet.stem), str(parquet), "was altered")


def test_an_edited_splits_json_is_refused_naming_the_file(tmp_path, monkeypatch):
    root = _data_copy(tmp_path)
    path = root / "splits.json"
    splits = json.loads(path.read_text())
    for split in splits["traces"].values():
        split["sigma_us"] *= 100
    path.write_text(json.dumps(splits))
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(root))
    refused(run("check", "markov"), str(path), "kernel-oracle prepare")


# -- verdicts: the model loads, and check names what it breaks ------------------------------
def test_an_honest_trivial_model_passes():
    verdict(run("check", f"{FILE}:Uniform", *SMALL))


@pytest.mark.parametrize("cls", ["DotDotName", "MarkupName"])
def test_an_unsafe_name_breaks_the_naming_rule_and_prints_verbatim(cls):
    output = verdict(run("check", f"{FILE}:{cls}", *SMALL), "targets_declared")
    name = getattr(hostile_models, cls).name
    assert f"model name {name!r} cannot name a results folder" in output


# The rules that validate what predict returns; a model with bad outputs breaks exactly these
# (the others compare two predictions, which agree with each other).
VALIDATING = {
    "output_shapes",
    "too_short_trace",
    "batch_equals_single",
    "causality",
    "online_matches_batch",
}
# ... and a model whose fit or predict cannot run at all breaks every rule that needs them.
FITTING = {"fit_changes_no_parameter", "inputs_not_mutated"}
PREDICTING = {"same_seed_same_output", "fit_idempotent", "pickle_round_trip"}
# the forecast checks fit and free-run the model (a run length of 1e308 cannot be fed back)
FORECASTING = {"forecast_is_causal", "forecast_step_one_is_predict"}
# the fork check fits the model and reads its stream's answers (1e308 is an answer it compares)
STREAMING = {"fork_is_independent"}


@pytest.mark.parametrize(
    ("cls", "message", "rules"),
    [
        ("WrongShape", "task_proba has shape (1000, 5), expected (1000, 4)", VALIDATING),
        ("NaNProba", "task_proba row 500 has NaN, inf or negatives", VALIDATING),
        ("ProbaNotSummingToOne", "task_proba row 0 sums to 0.5", VALIDATING),
        ("NegativeDelta", "delta_us[0] = -10: a run length must be a finite number", VALIDATING),
        (
            "HugeDelta",
            "delta_us[0] = 1e+308: a run length must be a finite number",
            VALIDATING | FORECASTING,
        ),
        (
            "ReturnsADict",
            "predict returned dict, not a Prediction",
            VALIDATING | PREDICTING | FORECASTING | STREAMING | {"inputs_not_mutated"},
        ),
    ],
)
def test_broken_outputs_are_named(cls, message, rules):
    output = verdict(run("check", f"{FILE}:{cls}", *SMALL), *rules)
    assert f"rule 'output_shapes' broken: {message}" in output
    if cls == "HugeDelta":  # the free run names the run length it cannot feed back
        assert "predicted delta_us=1e+308" in output and "OverflowError" not in output


def test_a_fit_that_raises_fails_every_rule_that_fits_with_its_first_line():
    rules = (*VALIDATING, *FITTING, *PREDICTING, *FORECASTING, *STREAMING)
    output = verdict(run("check", f"{FILE}:FitRaises", *SMALL), *rules)
    assert "fit() raised RuntimeError: deliberate failure in fit" in output
    assert "second line of the message" not in output
