"""The results store's write side: names, paths, the failure rule, stale seeds, standard JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmark.core.paths import REPO_ROOT
from benchmark.results import store


@pytest.mark.parametrize("name", ["markov", "kernel_oracle_lstm", "a.b-c_9", "x" * 64])
def test_safe_names_pass(name):
    assert store.check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../../x", "a/b", "a\\b", ".hidden", "x" * 65, "p:ab", "a b", "n\u0661"]
)
def test_unsafe_names_are_refused_naming_the_rule(name):
    with pytest.raises(ValueError, match="cannot name a results folder: use letters, digits"):
        store.check_name(name)
    with pytest.raises(ValueError, match="cannot name a results folder"):
        store.result_path(name, "trace", 0)
    with pytest.raises(ValueError, match="trace name"):
        store.result_path("markov", name, 0)


def test_the_layout(tmp_path):
    assert store.result_path("m", "t", 2, tmp_path) == tmp_path / "results/m/t/seed2.json"
    failed = store.result_path("m", "t", 2, tmp_path, failed=True)
    assert failed == tmp_path / "results/m/t/seed2.failed.json"
    assert store.predictions_path(tmp_path / "results/m/t/seed2.json").name == "seed2.npz"
    assert store.holdout_out(tmp_path / "private") == tmp_path / "private" / "leaderboard"
    assert store.params_path("lstm", "task", tmp_path) == tmp_path / "params" / "lstm-task.json"


def _result(status: str, seed: int = 0, **extra) -> dict:
    return {"model": "m", "trace": "t", "seed": seed, "status": status, **extra}


def _predictions() -> dict:
    return {"positions": np.arange(5), "task": np.array([0, 1, 2, 1, 0]), "delta_us": np.ones(5)}


def _names(root) -> list[str]:
    return sorted(p.name for p in (root / "results" / "m" / "t").iterdir())


def test_a_failure_is_written_beside_a_good_result_and_a_success_removes_it(tmp_path):
    store.record(_result("ok", value=1), _predictions(), tmp_path)
    good = (tmp_path / "results/m/t/seed0.json").read_bytes()
    store.record(_result("failed", error={"type": "E", "message": "boom"}), None, tmp_path)
    assert _names(tmp_path) == ["seed0.failed.json", "seed0.json", "seed0.npz"]
    assert (tmp_path / "results/m/t/seed0.json").read_bytes() == good
    failed = json.loads((tmp_path / "results/m/t/seed0.failed.json").read_text())
    assert failed["status"] == "failed" and failed["error"]["message"] == "boom"
    store.record(_result("ok", value=2), _predictions(), tmp_path)
    assert _names(tmp_path) == ["seed0.json", "seed0.npz"]
    stored = json.loads((tmp_path / "results/m/t/seed0.json").read_text())
    assert stored["value"] == 2 and stored["predictions_file"] == "seed0.npz"
    with np.load(tmp_path / "results/m/t/seed0.npz") as npz:
        assert npz["task"].tolist() == [0, 1, 2, 1, 0]


def test_clearing_other_seeds_keeps_exactly_the_named_ones(tmp_path):
    for seed in range(3):
        store.record(_result("ok", seed), _predictions(), tmp_path)
    store.record(_result("failed", 2), None, tmp_path)
    (tmp_path / "results/m/t/notes.txt").write_text("not a seed file")
    removed = store.clear_other_seeds("m", "t", [0], tmp_path)
    assert sorted(p.name for p in removed) == [
        "seed1.json", "seed1.npz", "seed2.failed.json", "seed2.json", "seed2.npz"
    ]  # fmt: skip
    assert _names(tmp_path) == ["notes.txt", "seed0.json", "seed0.npz"]
    assert store.clear_other_seeds("m", "nothing-here", [0], tmp_path) == []


def test_results_are_standard_json_with_null_for_non_finite_numbers(tmp_path):
    metrics = {"mse_z": {"value": 0.5, "low": -math.inf, "high": math.nan}}
    path = store.record(_result("ok", metrics=metrics, n=np.int64(3)), None, tmp_path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    stored = json.loads(text)
    assert stored["metrics"]["mse_z"] == {"value": 0.5, "low": None, "high": None}
    assert stored["n"] == 3 and stored["schema_version"] == store.SCHEMA_VERSION


def test_recorded_paths_are_relative(tmp_path, monkeypatch):
    monkeypatch.delenv("KERNEL_ORACLE_LEADERBOARD", raising=False)
    inside = REPO_ROOT / "leaderboard" / "params" / "lstm-task.json"
    assert store.relative(inside) == "leaderboard/params/lstm-task.json"
    assert store.relative(tmp_path / "x" / "mine.json") == "mine.json"
    text = f'File "{REPO_ROOT}/models/rnn.py", line 3'
    assert store.relative_text(text) == 'File "models/rnn.py", line 3'


def test_stored_params_bad_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ValueError, match=r"bad\.json: not valid JSON"):
        store.stored_params("lstm", ["task"], override=bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        store.stored_params("lstm", ["task"], override=bad)
    with pytest.raises(FileNotFoundError, match="no such file"):
        store.stored_params("lstm", ["task"], override=tmp_path / "missing.json")
    params, sources = store.stored_params("lstm", ["delta", "task"], root=tmp_path)
    assert params == {"delta": {}, "task": {}} and sources == {
        "delta": "default",
        "task": "default",
    }
