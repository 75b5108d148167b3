"""The harness: failures become results, majority's score is what the data says, files appear."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.core.paths import data_dir
from benchmark.data.manifest import trace_names
from benchmark.results.store import read_result
from benchmark.running.harness import evaluate, plan

TOY = Path(__file__).parent / "helpers" / "toy_models.py"


def _first_trace() -> str:
    return trace_names()[0]


def _run(model: str, tmp_path: Path, **kwargs) -> dict:
    specs = plan([model], [_first_trace()], 1, **kwargs)
    (result,) = evaluate(specs, tmp_path, quiet=True)
    return result


def test_model_that_raises_in_fit_becomes_a_failed_result(tmp_path):
    result = _run(f"{TOY}:RaisesInFit", tmp_path, max_test_positions=500, online_steps=10)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "RuntimeError"
    assert "deliberate failure in fit" in result["error"]["message"]
    on_disk = read_result(tmp_path / "results" / "raises_in_fit" / _first_trace() / "seed0.json")
    assert on_disk["status"] == "failed" and "metrics" not in on_disk


def test_model_that_sleeps_past_its_limit_becomes_a_failed_result(tmp_path):
    result = _run(f"{TOY}:SleepsInFit", tmp_path, timeout_s=8.0)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "TimeoutError"
    assert result["wall_s"] < 60


def test_majority_accuracy_is_the_share_of_test_rows_equal_to_the_train_valid_mode(tmp_path):
    trace = _first_trace()
    frame = pd.read_parquet(data_dir() / "traces" / f"{trace}.parquet")
    split = json.loads((data_dir() / "splits.json").read_text())["traces"][trace]
    seen = frame["task"].iloc[: split["valid"][1]]
    counts = seen.value_counts()
    mode = sorted(counts[counts == counts.max()].index)[0]
    test = frame["task"].iloc[split["test"][0] : split["test"][1]]
    expected = float((test == mode).mean())

    result = _run("majority", tmp_path, online_steps=10)
    assert result["status"] == "ok"
    assert result["metrics"]["acc"]["value"] == pytest.approx(expected, abs=1e-12)
    assert result["n_positions"] == len(test)


def test_result_file_records_schema_data_and_costs(tmp_path):
    result = _run(f"{TOY}:LastTask", tmp_path, max_test_positions=3000, online_steps=100)
    path = tmp_path / "results" / "last_task" / _first_trace() / "seed0.json"
    on_disk = read_result(path)
    assert on_disk == json.loads(path.read_text())
    assert on_disk["schema_version"] == 1
    assert on_disk["status"] == "ok", result["error"]
    assert len(on_disk["data_sha256"]) == 64
    for key in ("fit_s", "predict_s", "online_p50_us", "online_p99_us", "peak_rss_mb"):
        assert on_disk["costs"][key] >= 0
    assert on_disk["metrics"]["acc"]["low"] <= on_disk["metrics"]["acc"]["value"]
    assert on_disk["metrics"]["acc"]["value"] <= on_disk["metrics"]["acc"]["high"]
    assert on_disk["metrics"]["mse_z"]["higher_is_better"] is False
    with np.load(path.with_suffix(".npz")) as stored:
        assert len(stored["positions"]) == 3000
        assert stored["positions"][0] == json.loads((data_dir() / "splits.json").read_text())[
            "traces"
        ][_first_trace()]["test"][0]
