"""The figure authors' loading API: tidy results, predictions against the real data, the
board's tables, the leaderboard's stale and failed rules, and no model library imported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.core.paths import data_dir
from benchmark.data.manifest import load_manifest
from benchmark.data.splits import SPLIT_VERSION
from benchmark.reporting import api
from benchmark.results import store

N = 200  # test positions per made-up result
HEAVY = ("torch", "lightgbm", "statsmodels")


def _split(trace: str) -> dict:
    return json.loads((data_dir() / "splits.json").read_text())["traces"][trace]


def _truth(trace: str) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    """The first N test positions, their parquet rows and the trace's vocabulary."""
    split = _split(trace)
    positions = np.arange(split["test"][0], split["test"][0] + N)
    frame = pd.read_parquet(data_dir() / "traces" / f"{trace}.parquet")
    return positions, frame.iloc[positions], list(split["vocabulary"])


def _result(model: str, trace: str, seed: int, acc: float | None, **extra) -> dict:
    """A schema-complete result as the harness writes it (made-up costs and intervals)."""
    ok = acc is not None
    result = {
        "model": model,
        "model_spec": model,
        "targets": ["delta", "task"],
        "params": {"delta": {}, "task": {}},
        "params_source": {"delta": "default", "task": "default"},
        "seed": seed,
        "trace": trace,
        "data_sha256": load_manifest()["files"].get(f"traces/{trace}.parquet", "f" * 64),
        "split_version": SPLIT_VERSION,
        "status": "ok" if ok else "failed",
        "error": None if ok else {"type": "RuntimeError", "message": "boom", "traceback": ""},
        "wall_s": 1.0,
        "versions": store.package_versions(),
        "git_commit": None,
        "created": store.now_iso(),
        "cpu_count": 2,
    }
    if ok:
        result["metrics"] = {
            "acc": {"value": acc, "low": acc - 0.01, "high": acc + 0.01,
                    "higher_is_better": True, "target": "task"},
            "mse_z": {"value": 2.0, "low": 1.5, "high": 2.5,
                      "higher_is_better": False, "target": "delta"},
        }  # fmt: skip
        result["costs"] = {"fit_s": 1.0, "predict_s": 0.5}
        result["n_positions"] = N
    return {**result, **extra}


def make_store(root: Path) -> dict[tuple[str, str], float]:
    """Results under `root`: `constant` (always vocabulary id 1) and `last` (the task two rows
    back, the one switched away from last time) on every trace; `last` also failed seed 1 on
    the first trace; `stale` has other data. Returns the true accuracy of each (model, trace)
    that the board scores."""
    expected = {}
    traces = sorted(load_manifest()["traces"])
    for trace in traces:
        positions, rows, vocabulary = _truth(trace)
        index = {task: i for i, task in enumerate(vocabulary)}
        true = np.array([index.get(t, 0) for t in rows.task])
        frame = pd.read_parquet(data_dir() / "traces" / f"{trace}.parquet")
        previous = np.array([index.get(t, 0) for t in frame.task.iloc[positions - 2]])
        for model, pred in (("constant", np.ones(N, dtype=np.int64)), ("last", previous)):
            acc = float((pred == true).mean())
            delta = np.full(N, 5.0)
            store.record(_result(model, trace, 0, acc), {
                "positions": positions, "task": pred, "delta_us": delta}, root)  # fmt: skip
            expected[(model, trace)] = acc
        stale = _result("stale", trace, 0, 0.5, data_sha256="0" * 64)
        store.record(stale, {"positions": positions, "task": true, "delta_us": delta}, root)
    store.record(_result("last", traces[0], 1, None), None, root)
    del expected[("last", traces[0])]
    return expected


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("leaderboard")
    return root, make_store(root)


def test_load_results_is_tidy_with_the_boards_rules(stored):
    root, expected = stored
    frame = api.load_results(root)
    assert list(frame.columns) == list(api.RESULT_COLUMNS)
    assert "stale" not in set(frame.model)  # other data: refused, as on the board
    ok = frame[(frame.status == "ok") & (frame.metric == "acc")]
    got = {(r.model, r.trace): r.value for r in ok.itertuples()}
    assert got == pytest.approx(expected)
    assert set(ok.direction) == {"higher"}
    assert set(frame[frame.metric == "mse_z"].direction) == {"lower"}
    first = sorted(load_manifest()["traces"])[0]
    cell = frame[(frame.model == "last") & (frame.trace == first)]
    # one failed seed makes the whole cell failed: the good seed 0 is not silently used
    assert set(cell.status) == {"failed"}
    assert sorted(cell.run_status.unique()) == ["failed", "ok"]
    assert cell[cell.run_status == "failed"].metric.isna().all()
    assert set(frame.variant) == {"default"}
    assert frame.params_hash.str.fullmatch(r"[0-9a-f]{12}").all()
    assert (frame.data_sha256.str.len() == 64).all()


def test_variant_and_params_hash_follow_the_recorded_parameters():
    tuned = _result("m", "t", 0, 0.5, params_source={"task": "leaderboard/params/m-task.json"})
    assert api.variant(tuned) == "tuned"
    assert api.variant(_result("m", "t", 0, 0.5)) == "default"
    quick = _result("m", "t", 0, 0.5, params_source={"task": "fast_params (quick profile)"})
    assert api.variant(quick) == "default"
    assert api.params_hash({"a": 1, "b": 2}) == api.params_hash({"b": 2, "a": 1})
    assert api.params_hash({"a": 1}) != api.params_hash({"a": 2})


def test_load_predictions_pairs_the_stored_predictions_with_the_true_rows(stored):
    root, expected = stored
    trace = sorted(load_manifest()["traces"])[-1]
    frame = api.load_predictions("last", trace, 0, root=root)
    positions, rows, vocabulary = _truth(trace)
    assert frame.position.tolist() == positions.tolist()
    names = [t if t in vocabulary else "<other>" for t in rows.task]
    assert frame.true_task.tolist() == names
    assert frame.true_delta_us.tolist() == pytest.approx(rows.delta_us.astype(float).tolist())
    assert (frame.pred_delta_us == 5.0).all()
    assert (frame.pred_task == frame.true_task).mean() == pytest.approx(expected[("last", trace)])


def test_load_predictions_refuses_stale_failed_and_missing_runs_in_one_line(stored):
    root, _ = stored
    first = sorted(load_manifest()["traces"])[0]
    # `last` seed 0 is good, but its cell is failed (seed 1 failed): the board shows no number
    cases = (("stale", 0, "stale: data sha256"), ("last", 1, "failed"), ("last", 0, "failed"),
             ("nobody", 0, "no result file"))  # fmt: skip
    for model, seed, reason in cases:
        with pytest.raises(LookupError) as caught:
            api.load_predictions(model, first, seed, root=root)
        assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_load_board_tables_match_the_board_json(stored, tmp_path):
    from benchmark.reporting.board import build

    root, expected = stored
    traces = sorted(load_manifest()["traces"])
    ceilings = {
        t: {"task_history": {"max_predictability": 0.5 + i / 10, "covers": "the task history"}}
        for i, t in enumerate(traces)
    }
    build(root, tmp_path, ceilings=ceilings)
    board = json.loads((tmp_path / "leaderboard.json").read_text())
    tables = api.load_board(tmp_path / "leaderboard.json")
    assert sorted(tables.models.model) == ["constant", "last"]
    acc = tables.scores[(tables.scores.metric == "acc") & (tables.scores.status == "ok")]
    assert {(r.model, r.trace): r.value for r in acc.itertuples() if r.trace != api.MEAN} == (
        pytest.approx(expected)
    )
    last = tables.scores[tables.scores.model == "last"]
    assert traces[0] not in set(last.trace) and api.MEAN not in set(last.trace)  # failed cell
    assert tables.models.set_index("model").status.to_dict() == {"constant": "ok", "last": "failed"}
    means = tables.standings[tables.standings.trace == api.MEAN]
    assert {(r.model, r.target): r.rank for r in means.itertuples()} == {
        (m["model"], t): rank for m in board["models"] for t, rank in m["rank"].items()
    }
    assert set(tables.standings.rank_text) <= {"1", "2", "1=", "2="}
    assert set(means.markov_model.dropna()) <= {"markov"}
    normalized = tables.scores[tables.scores.metric == "normalized"]
    assert set(normalized.target) <= {"task"}
    assert tables.ceilings.max_predictability.tolist() == pytest.approx(
        [0.5 + i / 10 for i in range(len(traces))]
    )
    assert tables.refused.model.tolist() == ["stale"] * len(traces)
    assert tables.failed[["model", "trace", "seed"]].values.tolist() == [["last", traces[0], 1]]


def test_importing_the_api_and_loading_imports_no_model_library(stored):
    root, _ = stored
    code = (
        "import sys\n"
        "from benchmark.reporting.api import load_results, load_predictions\n"
        f"load_results({str(root)!r})\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_citation_cff_cites_the_shipped_data_and_split_versions():
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "CITATION.cff").read_text()
    facts = api.data_version()
    fix = f"update CITATION.cff to {facts} (`make test` prints this)"

    def value(key: str) -> str:
        found = re.findall(rf'^\s*value: "{key}:([^"]+)"$', text, re.M)
        assert len(found) == 1, f"CITATION.cff: one identifier {key}:... expected; {fix}"
        return found[0]

    assert value("split_version") == str(SPLIT_VERSION), fix
    assert value("manifest_version") == str(facts["manifest_version"]), fix
    assert value("sha256") == facts["data_sha256"], fix
    short = f'version: "split-{SPLIT_VERSION}+data-{facts["data_sha256"][:12]}"'
    assert short in text, fix
    package = re.search(r'^version = "([^"]+)"', (repo / "pyproject.toml").read_text(), re.M)
    assert re.search(rf'^version: "{re.escape(package.group(1))}"$', text, re.M)
    assert text.startswith("#") and "cff-version: 1.2.0" in text


def test_data_version_changes_with_any_shipped_file(tmp_path):
    manifest = load_manifest()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert api.data_version(tmp_path) == api.data_version()
    path = sorted(manifest["files"])[0]
    manifest["files"][path] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert api.data_version(tmp_path)["data_sha256"] != api.data_version()["data_sha256"]


def test_load_board_gives_the_horizon_track_as_tables():
    """The golden board's made-up horizon entries (tests/fixtures/results/make_fixture.py):
    lstm's acc@1 is 0.91 on alpha and 0.81 on beta (seed means), 0.86 over both."""
    tables = api.load_board(Path(__file__).parent / "fixtures/results/golden/leaderboard.json")
    lstm = tables.horizon[(tables.horizon.model == "lstm") & (tables.horizon.metric == "acc")]
    at_one = lstm[lstm.h == 1].set_index("trace").value.to_dict()
    assert at_one == pytest.approx({"alpha": 0.91, "beta": 0.81, api.MEAN: 0.86})
    assert sorted(set(lstm.h)) == [1, 2, 4, 8, 16, 32, 64]
    prefix = tables.horizon[tables.horizon.metric == "prefix"]
    assert prefix.h.isna().all() and "arima" not in set(prefix.model)  # no task forecast
    falls = tables.horizon_falls.set_index(["model", "trace"])
    assert falls.loc[("lstm", "alpha"), "below_markov"] == 8
    assert pd.isna(falls.loc[("lstm", "alpha"), "below_majority"])  # not within 64 steps
