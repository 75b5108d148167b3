"""The published schemas: valid JSON Schema, met by every committed file and by what the code
writes, versions equal to the code's constants, and broken or old files refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from benchmark.results import schema, store
from benchmark.results.schema import SchemaError

LEADERBOARD = Path(__file__).resolve().parents[1] / "leaderboard"
TOY = Path(__file__).parent / "helpers" / "toy_models.py"


def committed(kind: str) -> list[Path]:
    """Every committed file of `kind` under leaderboard/."""
    pattern = {
        "result": "results/*/*/seed*.json",
        "params": "params/*.json",
        "board": "leaderboard.json",
    }[kind]
    return sorted(LEADERBOARD.glob(pattern))


def jsonschema_errors(obj: object, kind: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema.schema(kind))
    return [error.message for error in validator.iter_errors(obj)]


@pytest.mark.parametrize("kind", schema.KINDS)
def test_each_schema_is_valid_json_schema_2020_12_and_ships_in_the_package(kind):
    jsonschema.Draft202012Validator.check_schema(schema.schema(kind))
    assert schema.schema_path(kind).parent == Path(schema.__file__).parent / "schemas"
    assert (schema.schema_path(kind).parent / "CHANGELOG.md").exists()


def test_schema_versions_are_the_codes_constants_and_listed_in_the_changelog():
    from benchmark.reporting import boardtypes

    assert schema.schema_version("result") == store.SCHEMA_VERSION
    assert schema.schema_version("board") == boardtypes.BOARD_SCHEMA
    assert schema.schema_version("params") == store.PARAMS_SCHEMA_VERSION
    changelog = (schema.schema_path("result").parent / "CHANGELOG.md").read_text()
    for kind in schema.KINDS:
        section = changelog.split(f"\n## {kind}\n", 1)
        assert len(section) == 2, f"CHANGELOG.md has no section for {kind}"
        assert f"- **{schema.schema_version(kind)}**" in section[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("kind", schema.KINDS)
def test_every_committed_file_validates_and_jsonschema_agrees(kind):
    paths = committed(kind)
    assert paths, f"no committed {kind} files under {LEADERBOARD}"
    for path in paths:
        obj = schema.load(path, kind)
        assert jsonschema_errors(obj, kind) == [], path


def test_the_golden_board_validates_every_case_the_board_code_writes():
    """The leaderboard test's golden board (failed, stale, tied, suspected-leak rows) is what
    the board code writes: it must meet the schema too."""
    golden = Path(__file__).parent / "fixtures" / "results" / "golden" / "leaderboard.json"
    obj = schema.load(golden, "board")
    assert jsonschema_errors(obj, "board") == []
    statuses = {c["status"] for m in obj["models"] for c in m["per_trace"].values()}
    assert {"ok", "failed", "stale"} <= statuses


def _result() -> dict:
    """A committed result that scores the task target (its metrics include acc)."""
    results = [json.loads(path.read_text()) for path in committed("result")]
    return next(r for r in results if "acc" in r.get("metrics", {}))


BROKEN = {
    "a metric's value is text": lambda r: r["metrics"]["acc"].update(value="0.9"),
    "no trace": lambda r: r.pop("trace"),
    "a bool seed": lambda r: r.update(seed=True),
    "an unknown status": lambda r: r.update(status="done"),
    "a short sha256": lambda r: r.update(data_sha256="abc"),
    "ok without metrics": lambda r: r.pop("metrics"),
    "failed without an error": lambda r: r.update(status="failed"),
    "a params target that does not exist": lambda r: r["params"].update(speed={}),
    "a negative cost": lambda r: r["costs"].update(fit_s=-1.0),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_result_is_refused_in_one_line_naming_the_file_and_jsonschema_agrees(name):
    obj = _result()
    BROKEN[name](obj)
    assert jsonschema_errors(obj, "result"), "jsonschema accepts it: the case tests nothing"
    with pytest.raises(SchemaError) as caught:
        schema.check(obj, "result", "results/m/t/seed0.json")
    message = str(caught.value)
    assert message.startswith("results/m/t/seed0.json: does not match the result schema v1: $")
    assert "\n" not in message and "kernel-oracle evaluate" in message


def test_the_message_names_the_json_path_of_the_problem():
    obj = _result()
    obj["metrics"]["acc"]["value"] = "0.9"
    with pytest.raises(SchemaError, match=r"\$\.metrics\.acc\.value: expected number, got string"):
        schema.check(obj, "result", "f.json")


@pytest.mark.parametrize("kind", schema.KINDS)
def test_another_version_is_refused_naming_both_versions(kind):
    obj = json.loads(committed(kind)[0].read_text())
    obj["schema_version"] = 0
    with pytest.raises(SchemaError) as caught:
        schema.check(obj, kind, "old.json")
    want = schema.schema_version(kind)
    assert str(caught.value).startswith(f"old.json: {kind} file of schema_version 0; ")
    assert f"this code reads version {want}" in str(caught.value)


def test_params_files_without_a_version_are_version_1_but_the_board_must_say():
    params = json.loads(committed("params")[0].read_text())
    params.pop("schema_version", None)
    schema.check(params, "params", "p.json")
    board = json.loads(committed("board")[0].read_text())
    board.pop("schema_version")
    with pytest.raises(SchemaError, match="schema_version None"):
        schema.check(board, "board", "b.json")


def test_invalid_json_and_unsupported_keywords_are_clear_errors(tmp_path, monkeypatch):
    bad = tmp_path / "seed0.json"
    bad.write_text("{not json")
    with pytest.raises(SchemaError, match=r"seed0\.json: not valid JSON"):
        schema.load(bad, "result")
    with pytest.raises(SchemaError, match="not supported"):
        schema.errors(1, {"multipleOf": 2}, {})


def test_what_the_runner_writes_validates_ok_and_failed(tmp_path):
    from dataclasses import replace

    from benchmark.data.manifest import trace_names
    from benchmark.running import runner
    from benchmark.running.profiles import make_profile, make_quick_data

    data = make_quick_data(None, tmp_path / "data", [trace_names()[0]], 3000)
    profile = replace(make_profile(holdout=data, out=tmp_path / "out", timeout_s=120),
                      online_steps=20)  # fmt: skip
    planned = runner.plan([f"{TOY}:RaisesInFit", "majority"], None, profile)
    results = runner.run(planned.specs, profile.out)
    assert [r["status"] for r in results] == ["failed", "ok"]
    written = sorted((profile.out / "results").glob("*/*/seed*.json"))
    assert [p.name for p in written] == ["seed0.json", "seed0.failed.json"]
    for path in written:
        obj = schema.load(path, "result")
        assert jsonschema_errors(obj, "result") == []


def test_what_tuning_writes_validates(tmp_path, monkeypatch):
    from benchmark.data.manifest import trace_names
    from benchmark.running import tuning
    from benchmark.running.profiles import make_quick_data

    trace = trace_names()[0]
    data = make_quick_data(None, tmp_path / "data", [trace], 3000)
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(data))
    report = tuning.tune(
        "tests.fixtures.tuning_models:Recorder", "task", traces=[trace], trials=2, quiet=True,
        storage=f"sqlite:///{tmp_path / 'studies.db'}", leaderboard_root=tmp_path / "lb",
    )  # fmt: skip
    obj = schema.load(report.params_file, "params")
    assert obj["schema_version"] == store.PARAMS_SCHEMA_VERSION
    assert jsonschema_errors(obj, "params") == []
