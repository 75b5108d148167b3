"""The leaderboard is a pure function of the result files: golden output, failed and stale runs.

The fixed inputs are hand-made (tests/fixtures/results/make_fixture.py). The golden files in
tests/fixtures/results/golden/ are compared byte for byte; after a deliberate change regenerate
them with `KERNEL_ORACLE_REGEN_GOLDEN=1 pytest tests/test_leaderboard.py` and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from benchmark.data.manifest import load_manifest
from benchmark.reporting.board import board_of, build
from benchmark.results.store import read_results

FIXTURE = Path(__file__).parent / "fixtures" / "results"
GOLDEN = FIXTURE / "golden"
DATA = FIXTURE / "data"
OUTPUTS = ("README.md", "leaderboard.csv", "leaderboard.json", "index.html")
# Fixed ceilings: the golden test checks the rendering, not the ceiling estimator.
CEILINGS = {
    "alpha": {"max_predictability": 0.95, "entropy_rate_bits": 0.31},
    "beta": {"max_predictability": 0.9, "entropy_rate_bits": 0.52},
}
XSS = "<script>alert(1)</script>"


def _build(out: Path) -> dict:
    return build(FIXTURE, out, DATA, ceilings=CEILINGS)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("board")
    return _build(out), out


def _models(board) -> dict:
    return {m.model: m for m in board.models}


def test_outputs_match_the_golden_files_byte_for_byte(built):
    _, out = built
    if os.environ.get("KERNEL_ORACLE_REGEN_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for name in OUTPUTS:
            shutil.copyfile(out / name, GOLDEN / name)
    for name in OUTPUTS:
        expected = (GOLDEN / name).read_bytes()
        actual = (out / name).read_bytes()
        assert actual == expected, (
            f"{name} differs from tests/fixtures/results/golden/{name}; if the change is "
            "deliberate, regenerate with KERNEL_ORACLE_REGEN_GOLDEN=1 and review the diff"
        )


def test_building_twice_gives_the_same_bytes_and_leaves_the_results_untouched(tmp_path):
    before = {p: p.read_bytes() for p in sorted((FIXTURE / "results").rglob("*.json"))}
    _build(tmp_path / "a")
    _build(tmp_path / "b")
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert {p: p.read_bytes() for p in before} == before


def test_a_failed_run_shows_as_failed_and_is_not_replaced(built):
    board, out = built
    lgbm = _models(board)["lightgbm"]
    assert lgbm.status == "failed"
    assert lgbm.per_trace["beta"].status == "failed"
    assert lgbm.per_trace["beta"].metrics == {}
    assert lgbm.mean == {} and lgbm.rank == {}  # no mean of the surviving trace
    failure = board.failed[0]
    assert (failure.model, failure.trace, failure.seed) == ("lightgbm", "beta", 0)
    assert "TimeoutError" in failure.error
    readme = (out / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("|  | lightgbm |"))
    assert "| failed |" in row
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    lgbm_csv = next(r for r in rows if r["model"] == "lightgbm")
    assert lgbm_csv["status"] == "failed" and lgbm_csv["status:beta"] == "failed"
    assert lgbm_csv["acc"] == "" and lgbm_csv["rank_task"] == ""


def test_one_failed_seed_fails_the_cell(tmp_path):
    shutil.copytree(FIXTURE / "results", tmp_path / "results")
    path = tmp_path / "results" / "lstm" / "alpha" / "seed1.json"
    result = json.loads(path.read_text())
    result.update(status="failed", error={"type": "RuntimeError", "message": "boom"})
    path.write_text(json.dumps(result))
    board = board_of(tmp_path, DATA, CEILINGS)
    lstm = _models(board)["lstm"]
    assert lstm.per_trace["alpha"].status == "failed"
    assert lstm.status == "failed" and "task" not in lstm.rank


def test_a_stale_result_is_refused_not_scored(built):
    board, _ = built
    refused = {r.file: r.reason for r in board.refused}
    assert refused["decision_tree/alpha/seed0.json"].startswith("stale: data sha256")
    assert refused["old/alpha/seed0.json"].startswith("unreadable")
    tree = _models(board)["decision_tree"]
    assert tree.per_trace["alpha"].status == "missing"
    assert tree.per_trace["beta"].status == "ok"
    assert tree.status == "incomplete" and tree.mean == {}
    assert "old_model" not in _models(board)


def test_a_result_of_another_split_version_or_unknown_trace_is_refused(tmp_path):
    base = tmp_path / "results" / "m"
    for trace, split in (("alpha", 99), ("gamma", 1)):
        src = json.loads((FIXTURE / "results" / "markov" / "alpha" / "seed0.json").read_text())
        src.update(model="m", trace=trace, split_version=split)
        (base / trace).mkdir(parents=True)
        (base / trace / "seed0.json").write_text(json.dumps(src))
    accepted, refused = read_results(tmp_path, load_manifest(DATA))
    assert accepted == []
    reasons = sorted(r["reason"] for r in refused)
    assert "split version 99" in reasons[0] and "not in the data manifest" in reasons[1]


def test_ranking_means_and_intervals(built):
    board, _ = built
    models = _models(board)
    ranked = sorted((m.rank["task"], name) for name, m in models.items() if "task" in m.rank)
    assert [name for _, name in ranked] == ["lstm", "markov", "ewma", "majority", XSS]
    ranked = sorted((m.rank["delta"], n) for n, m in models.items() if "delta" in m.rank)
    assert [name for _, name in ranked] == ["lstm", "ewma", "arima", "markov", "majority", XSS]
    lstm = models["lstm"]
    assert lstm.seeds == 3
    # alpha seeds 0.82, 0.84, 0.83 -> 0.83; beta 0.72, 0.74, 0.73 -> 0.73; mean 0.78.
    assert lstm.per_trace["alpha"].metrics["acc"].value == pytest.approx(0.83)
    assert lstm.mean["acc"].value == pytest.approx(0.78)
    # half-widths 0.02 on both traces -> sqrt(2 * 0.02^2) / 2
    assert lstm.mean["acc"].high - 0.78 == pytest.approx(0.02 * 2**0.5 / 2)
    assert models["majority"].kind == "reference" and models["lstm"].kind == "baseline"
    assert models[XSS].kind == "submission"


def test_a_model_without_a_target_has_empty_cells(built):
    board, out = built
    arima = _models(board)["arima"]
    assert arima.targets == ["delta"] and "task" not in arima.rank
    assert "acc" not in arima.mean and "mse_z" in arima.mean
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    row = next(r for r in rows if r["model"] == "arima")
    assert row["acc"] == "" and row["acc:alpha"] == "" and row["mse_z"] != ""
    readme = (out / "README.md").read_text()
    assert "Not predicting task: arima." in readme


def test_names_are_escaped_in_every_output(built):
    _, out = built
    readme = (out / "README.md").read_text()
    page = (out / "index.html").read_text()
    assert XSS not in readme and "&lt;script&gt;alert(1)&lt;/script&gt;" in readme
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert json.loads((out / "leaderboard.json").read_text())["models"][0]["model"] == XSS


def test_the_page_is_self_contained(built):
    _, out = built
    page = (out / "index.html").read_text()
    for needle in ("http://", "https://", " src=", "<link", "@import", "url("):
        assert needle not in page, f"index.html refers to an external resource: {needle!r}"
    assert page.count("<script>") == 1 and page.count("<style>") == 1


def test_ceiling_rows_show_per_trace_and_mean(built):
    board, out = built
    assert board.ceiling["alpha"]["max_predictability"] == 0.95
    readme = (out / "README.md").read_text()
    row = next(line for line in readme.splitlines() if "**ceiling**" in line)
    assert "0.9250" in row and "0.9500" in row and "0.9000" in row


def test_no_ceiling_module_means_no_ceiling_row(tmp_path):
    board = build(FIXTURE, tmp_path, DATA, ceilings={})
    assert board.ceiling == {}
    assert "**ceiling**" not in (tmp_path / "README.md").read_text()


# -- the evaluation path, end to end on a small synthetic trace ---------------------------------
def test_quick_profile_end_to_end_with_an_unloadable_registered_model(tmp_path, monkeypatch):
    import models
    from benchmark.reporting import board as lb
    from benchmark.running import runner
    from benchmark.running.profiles import make_profile
    from tests.fixtures.synthetic import write_data_root

    data = write_data_root(tmp_path / "data", {"syn": 3000, "syn2": 2000})
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(data))
    monkeypatch.setenv("KERNEL_ORACLE_LEADERBOARD", str(tmp_path / "lb"))
    monkeypatch.setitem(models.REGISTRY, "ghost", "models.ghost_that_does_not_exist:Ghost")
    profile = replace(make_profile(quick=True, out=tmp_path / "quick"), excerpt_runs=2500)
    planned = runner.plan(["majority", "markov", "ghost"], None, profile)
    runner.run(planned.specs, profile.out)
    out, data_root = profile.out, planned.data_root
    board = lb.build(out, out, data_root)
    assert out == tmp_path / "quick" and not (tmp_path / "lb").exists()
    assert board.traces == ["syn"]  # the first trace only, cut to the excerpt's runs
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert manifest["traces"]["syn"]["runs"] == 2500
    by_name = _models(board)
    assert by_name["majority"].status == "ok" and by_name["markov"].rank["task"] == 1
    ghost = by_name["ghost"]
    assert ghost.status == "failed" and ghost.per_trace["syn"].status == "failed"
    # (the worker process does not see this test's registry patch, so its error is either)
    error = next(f.error for f in board.failed if f.model == "ghost")
    assert "ModuleNotFoundError" in error or "Unknown model 'ghost'" in error
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0
    assert "| ghost | failed |" in (out / "README.md").read_text()
    # Re-building from the stored results alone gives the same files.
    again = tmp_path / "again"
    lb.build(out, again, out / "data")
    for name in OUTPUTS:
        assert (again / name).read_bytes() == (out / name).read_bytes()
