"""`evaluate` and `leaderboard` on the command line: both option spellings, per-run timeouts,
and one-line errors with exit code 2 for every bad input (never a traceback)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchmark.cli import _load_parts, app
from benchmark.core.paths import leaderboard_dir
from benchmark.data.manifest import trace_names
from benchmark.reporting.board import build
from benchmark.running.profiles import make_quick_data

FIXTURE = Path(__file__).parent / "fixtures" / "results"
_load_parts()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli-data")
    return make_quick_data(None, root, [trace_names()[0]], 3000)


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("value", ["0", "-5", "nan"])
def test_a_timeout_that_is_not_positive_is_refused(data, tmp_path, value):
    result = _invoke(
        "evaluate", "-m", "majority", "--holdout", data, "--out", tmp_path, "--timeout", value
    )
    _one_line_error(result, "--timeout", "positive number of seconds per run")
    result = _invoke("leaderboard", "--holdout", data, "--out", tmp_path, "--timeout", value)
    _one_line_error(result, "--timeout")


def test_a_model_file_with_a_syntax_error_is_one_line(data, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("class Model(:\n")
    result = _invoke("evaluate", "--model", f"{broken}:Model", "--holdout", data, "--out", tmp_path)
    _one_line_error(result, "broken.py", "syntax error")


def test_a_model_file_that_raises_on_import_is_one_line(data, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import no_such_module_anywhere\n")
    result = _invoke("evaluate", "--model", f"{bad}:Model", "--holdout", data, "--out", tmp_path)
    _one_line_error(result, "bad.py", "ModuleNotFoundError")


def test_an_unknown_trace_and_an_unsafe_model_name_are_one_line(data, tmp_path):
    result = _invoke("evaluate", "-m", "majority", "--trace", "nosuch", "--holdout", data)
    _one_line_error(result, "unknown trace(s) nosuch")
    named = tmp_path / "named.py"
    named.write_text(
        "from tests.helpers.harness_models import Constant\n\n"
        "class Named(Constant):\n    name = '../../escape'\n"
    )
    result = _invoke("evaluate", "-m", f"{named}:Named", "--holdout", data, "--out", tmp_path)
    _one_line_error(result, "'../../escape'", "cannot name a results folder")
    assert not (tmp_path / "results").exists()


def test_altered_data_is_one_line_and_exit_2(data, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    parquet = next((copy / "traces").glob("*.parquet"))
    frame = pd.read_parquet(parquet)
    frame.loc[frame.index[0], "delta_us"] += 1.0
    frame.to_parquet(parquet, index=False)
    result = _invoke("evaluate", "-m", "majority", "--holdout", copy, "--out", tmp_path / "o")
    _one_line_error(result, parquet.name, "sha256")
    assert not (tmp_path / "o" / "results").exists()


def test_both_spellings_and_commas_name_models_and_traces(data, tmp_path):
    trace = trace_names(data)[0]
    result = _invoke(
        "evaluate", "--models", "majority,ewma", "--traces", trace, "--holdout", data,
        "--out", tmp_path, "--timeout", "120",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for model in ("majority", "ewma"):
        stored = json.loads((tmp_path / "results" / model / trace / "seed0.json").read_text())
        assert stored["status"] == "ok" and stored["trace"] == trace


def _hand_majority(trace: str, runs: int) -> tuple[int, float]:
    """(test rows, majority accuracy) of the first `runs` runs of a shipped trace, by hand:
    test = rows from floor(0.8 runs) on, majority = the most frequent task of the rows before."""
    from benchmark.data.manifest import read_run_table

    task = read_run_table(trace)["task"].iloc[:runs]
    cut = runs * 8 // 10
    counts = task.iloc[:cut].value_counts()
    mode = sorted(counts[counts == counts.max()].index)[0]
    return runs - cut, float((task.iloc[cut:] == mode).mean())


def test_holdout_results_go_inside_the_holdout_folder_by_default(data, tmp_path):
    """The result lands in the holdout folder, validates against the published result schema
    (checked by jsonschema) and scores majority on the excerpt's test rows as computed by hand."""
    import jsonschema

    from benchmark.results.schema import schema

    copy = tmp_path / "private"
    shutil.copytree(data, copy)
    result = _invoke("evaluate", "--model", "majority", "--holdout", copy)
    assert result.exit_code == 0, result.output
    trace = trace_names(copy)[0]
    path = copy / "leaderboard" / "results" / "majority" / trace / "seed0.json"
    assert path.is_file()
    stored = json.loads(path.read_text())
    jsonschema.Draft202012Validator(schema("result")).validate(stored)
    assert (stored["status"], stored["model"], stored["trace"]) == ("ok", "majority", trace)
    n_test, acc = _hand_majority(trace, 3000)
    assert stored["n_positions"] == n_test
    assert stored["metrics"]["acc"]["value"] == pytest.approx(acc, abs=1e-12)


def test_quick_and_holdout_together_are_refused(data):
    _one_line_error(_invoke("leaderboard", "--quick", "--holdout", data), "--quick", "--holdout")


def test_build_only_rebuilds_the_board_from_stored_results_without_evaluating(tmp_path):
    shutil.copytree(FIXTURE / "results", tmp_path / "results")
    before = sorted(p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file())
    result = _invoke(
        "leaderboard", "--build-only", "--holdout", FIXTURE / "data", "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    after = sorted(p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file())
    assert after == before  # nothing evaluated, nothing rewritten
    direct = tmp_path / "direct"
    # a holdout board is the plain build plus the transfer view against the committed board
    build(tmp_path, direct, FIXTURE / "data", shipped=leaderboard_dir() / "leaderboard.json")
    assert "## Does the ranking transfer?" in (tmp_path / "README.md").read_text()
    for name in ("README.md", "leaderboard.csv", "leaderboard.json", "index.html"):
        assert (tmp_path / name).read_bytes() == (direct / name).read_bytes(), name


def test_perf_refuses_unknown_models_and_traces_before_timing_anything():
    _one_line_error(_invoke("perf", "--model", "nosuch"), "Unknown model 'nosuch'")
    _one_line_error(_invoke("perf", "--trace", "nosuch"), "unknown trace 'nosuch'")
