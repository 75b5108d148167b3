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
SIDE_COVERS = "task history, end states and binned run lengths"
CEILINGS = {
    "alpha": {
        "task_history": {"max_predictability": 0.80, "covers": "the task history alone"},
        "side_information": {
            "max_predictability": 0.82, "low": 0.815, "high": 0.825, "covers": SIDE_COVERS
        },
    },
    "beta": {
        "task_history": {"max_predictability": 0.70, "covers": "the task history alone"},
        "side_information": {
            "max_predictability": 0.90, "low": 0.88, "high": 0.92, "covers": SIDE_COVERS
        },
    },
}  # fmt: skip
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
    failure = next(f for f in board.failed if f.model == "lightgbm")
    assert (failure.trace, failure.seed, failure.file) == ("beta", 0, "lightgbm/beta/seed0.json")
    assert "TimeoutError" in failure.error
    readme = (out / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("|  | lightgbm"))
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


def test_a_failure_beside_a_good_result_fails_the_cell_and_the_good_file_is_not_used(built):
    board, out = built
    kol = _models(board)["kernel_oracle_lstm"]
    assert kol.per_trace["alpha"].status == "failed" and kol.per_trace["alpha"].metrics == {}
    assert kol.per_trace["alpha"].seeds == [0]
    assert kol.status == "failed" and kol.mean == {} and kol.rank == {}
    failure = next(f for f in board.failed if f.model == "kernel_oracle_lstm")
    assert failure.file == "kernel_oracle_lstm/alpha/seed0.failed.json"
    assert failure.error == "RuntimeError: diverged at epoch 3"
    assert "| kernel\\_oracle\\_lstm | alpha | 0 |" in (out / "README.md").read_text()


def test_a_cell_whose_seeds_used_different_parameters_is_stale_never_averaged(built, tmp_path):
    board, out = built
    gru = _models(board)["gru"]
    cell = gru.per_trace["alpha"]
    assert cell.status == "stale" and cell.metrics == {} and cell.seeds == [0, 1]
    assert "different parameters" in cell.reason
    assert gru.status == "incomplete" and gru.mean == {} and "task" not in gru.rank
    readme = (out / "README.md").read_text()
    assert "stale: gru on alpha: seeds 0, 1 used different parameters" in readme
    # the same parameters but another code commit: stale too
    shutil.copytree(FIXTURE / "results", tmp_path / "results")
    for seed, commit in ((0, "a" * 40), (1, "b" * 40)):
        path = tmp_path / "results" / "gru" / "alpha" / f"seed{seed}.json"
        result = json.loads(path.read_text())
        result.update(params={"task": {}, "delta": {}}, git_commit=commit)
        path.write_text(json.dumps(result))
    cell = _models(board_of(tmp_path, DATA, CEILINGS))["gru"].per_trace["alpha"]
    assert cell.status == "stale" and "different code commits" in cell.reason


def test_a_stale_result_is_refused_not_scored(built):
    board, _ = built
    refused = {r.file: r.reason for r in board.refused}
    assert refused["decision_tree/alpha/seed0.json"].startswith("stale: data sha256")
    assert refused["old/alpha/seed0.json"].startswith("unreadable")
    assert refused["bad/alpha/seed0.json"] == (
        "invalid: does not match the result schema v1: $.metrics.acc: expected object, got integer"
    )
    assert refused["bad/beta/seed0.json"] == "its seed 3 is not the seed 0 its file name says"
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
    board, out = built
    models = _models(board)
    ranks = {name: m.rank["task"] for name, m in models.items() if "task" in m.rank}
    # no stored predictions: markov 0.75 [0.736, 0.764] and ewma 0.73 [0.716, 0.744] overlap,
    # so they share rank 2; majority is 4th (competition ranking)
    assert ranks == {"lstm": 1, "markov": 2, "ewma": 2, "majority": 4, XSS: 5}
    assert models["ewma"].standing["task"].tied and not models["lstm"].standing["task"].tied
    assert [m.model for m in board.ordered("task")][:3] == ["lstm", "markov", "ewma"]
    readme = (out / "README.md").read_text()
    assert "| 2= | markov *(ref)* |" in readme and "| 2= | ewma *(ref)* |" in readme
    ranked = sorted((m.rank["delta"], n) for n, m in models.items() if "delta" in m.rank)
    assert [name for _, name in ranked] == ["lstm", "ewma", "arima", "markov", "majority", XSS]
    lstm = models["lstm"]
    assert lstm.seeds == 3
    # alpha seeds 0.82, 0.84, 0.83 -> 0.83; beta 0.72, 0.74, 0.73 -> 0.73; mean 0.78.
    assert lstm.per_trace["alpha"].metrics["acc"].value == pytest.approx(0.83)
    assert lstm.mean["acc"].value == pytest.approx(0.78)
    # half-widths 0.02 on both traces -> sqrt(2 * 0.02^2) / 2
    assert lstm.mean["acc"].high - 0.78 == pytest.approx(0.02 * 2**0.5 / 2)
    # seed spread: per-seed means over traces (0.82+0.72)/2, (0.84+0.74)/2, (0.83+0.73)/2
    assert (lstm.mean["acc"].seed_min, lstm.mean["acc"].seed_max) == pytest.approx((0.77, 0.79))
    assert lstm.per_trace["alpha"].metrics["acc"].spread == pytest.approx(0.02)
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


def test_both_ceilings_show_per_trace_and_mean_with_what_they_cover(built):
    _, out = built
    readme = (out / "README.md").read_text()
    row = next(line for line in readme.splitlines() if "**task-history ceiling**" in line)
    assert "| 0.7500 |" in row and "| 0.8000 | 0.7000 |" in row
    row = next(line for line in readme.splitlines() if "**side-information ceiling**" in line)
    assert "| 0.8600 |" in row and "| 0.8200 | 0.9000 |" in row
    page = (out / "index.html").read_text()
    assert SIDE_COVERS in page and "the task history alone" in page


def test_a_model_above_a_covering_ceiling_is_a_suspected_leak_and_above_another_is_marked(built):
    board, out = built
    models = _models(board)
    # lightgbm alpha acc [0.83, 0.87] lies above the side-information ceiling's high end 0.825
    assert models["lightgbm"].suspected_leak
    assert board.warnings == [
        "suspected leak: lightgbm on alpha: acc 0.8500 [0.8300, 0.8700] lies above the "
        "side-information ceiling 0.8200, which covers its inputs"
    ]
    # lstm alpha [0.81, 0.85]: above the task-history ceiling 0.80 (not its bound), not a leak
    lstm = models["lstm"]
    assert not lstm.suspected_leak
    assert lstm.per_trace["alpha"].flags == [
        "above the task-history ceiling 0.8000, which does not cover this model's inputs "
        "(not a leak)"
    ]
    readme = (out / "README.md").read_text()
    assert "lightgbm **⚠ suspected leak**" in readme and "| lstm † |" in readme


def test_normalized_score_and_mse_ratio_worked_out_by_hand(built):
    board, _ = built
    golden = {
        m["model"]: m for m in json.loads((GOLDEN / "leaderboard.json").read_text())["models"]
    }
    # (acc - acc_markov) / (side ceiling - acc_markov): alpha (0.83-0.80)/(0.82-0.80) = 1.5,
    # beta (0.73-0.70)/(0.90-0.70) = 0.15; mean 0.825
    lstm = golden["lstm"]
    assert lstm["per_trace"]["alpha"]["normalized"]["value"] == pytest.approx(1.5)
    assert lstm["normalized"]["value"] == pytest.approx(0.825)
    assert golden["markov"]["normalized"]["value"] == pytest.approx(0.0)
    # mse_z over the best reference (ewma: 0.60 alpha, 0.50 beta): 0.56/0.60, 0.46/0.50;
    # geometric mean sqrt(0.9333 * 0.92)
    assert lstm["per_trace"]["beta"]["mse_ratio"]["value"] == pytest.approx(0.92)
    assert lstm["mse_ratio"]["value"] == pytest.approx((0.56 / 0.60 * 0.46 / 0.50) ** 0.5)
    assert _models(board)["lstm"].mse_ratio.value == pytest.approx(lstm["mse_ratio"]["value"])


def test_the_latency_budget_table_picks_the_best_model_within_each_budget(built):
    board, out = built
    picks = {
        b.budget_us: (b.task and b.task.model, b.delta and b.delta.model) for b in board.budgets
    }
    # p50: majority/markov/ewma 0.5 µs, the xss model and arima 2 µs, lstm 40 µs
    assert picks == {
        1.0: ("markov", "ewma"),
        2.0: ("markov", "ewma"),
        5.0: ("markov", "ewma"),
        10.0: ("markov", "ewma"),
        100.0: ("lstm", "lstm"),
    }
    assert (
        "| ≤ 100 µs | lstm | 40 | 0.7800 | 0.5100 | lstm | 40 | 0.5100 |"
        in (out / "README.md").read_text()
    )


def test_no_ceiling_module_means_no_ceiling_row(tmp_path):
    board = build(FIXTURE, tmp_path, DATA, ceilings={})
    assert board.ceiling == {}
    assert "**ceiling**" not in (tmp_path / "README.md").read_text()


# -- the evaluation path, end to end on a small synthetic trace ---------------------------------
def _majority_acc_of_syn_excerpt() -> float:
    """Share of the excerpt's test rows (the last 20% of its 2,500 runs) equal to the most
    frequent task of the rows before them, from the synthetic frame itself."""
    from tests.fixtures.synthetic import synthetic_frame

    task = synthetic_frame(3000, seed=0)["task"].iloc[:2500]  # "syn" is written first: seed 0
    counts = task.iloc[:2000].value_counts()
    mode = sorted(counts[counts == counts.max()].index)[0]
    return float((task.iloc[2000:] == mode).mean())


def test_quick_profile_end_to_end_with_an_unloadable_registered_model(tmp_path, monkeypatch):
    """A quick run with a model that cannot load: the failure is listed beside the good rows,
    the tables hold the measured scores (majority's by hand), and a rebuild is byte-identical."""
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
    # the tables say what the runs measured: majority's accuracy by hand on the excerpt
    rows = {
        r["model"]: r for r in csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text()))
    }
    assert set(rows) == {"majority", "markov", "ghost"}
    assert [rows[m]["status"] for m in ("majority", "markov", "ghost")] == ["ok", "ok", "failed"]
    assert float(rows["majority"]["acc"]) == pytest.approx(_majority_acc_of_syn_excerpt(), abs=1e-6)
    assert float(rows["markov"]["acc"]) > float(rows["majority"]["acc"])
    published = json.loads((out / "leaderboard.json").read_text())
    assert {m["model"] for m in published["models"]} == set(rows)
    # Re-building from the stored results alone gives the same files.
    again = tmp_path / "again"
    lb.build(out, again, out / "data")
    for name in OUTPUTS:
        assert (again / name).read_bytes() == (out / name).read_bytes()


def test_csv_cells_never_start_a_spreadsheet_formula(tmp_path):
    from benchmark.reporting.tables import csv_cell

    assert [csv_cell(t) for t in ("=cmd|' /C calc'!A0", "+1", "-x", "@sum", "ok")] == [
        "'=cmd|' /C calc'!A0",
        "'+1",
        "'-x",
        "'@sum",
        "ok",
    ]
    shutil.copytree(FIXTURE / "results", tmp_path / "results")
    for trace in ("alpha", "beta"):
        path = tmp_path / "results" / "xss" / trace / "seed0.json"
        result = json.loads(path.read_text())
        result["model"] = '=HYPERLINK("http://x")'
        path.write_text(json.dumps(result))
    build(tmp_path, tmp_path, DATA, ceilings=CEILINGS)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "leaderboard.csv").read_text())))
    assert '\'=HYPERLINK("http://x")' in [r["model"] for r in rows]
