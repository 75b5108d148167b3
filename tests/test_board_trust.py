"""Significance on the board, from stored predictions: hand-made results whose predictions are
built here against a small synthetic trace, so each expected rank is known by construction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.data.dataset import load_trace
from benchmark.data.manifest import load_manifest
from benchmark.data.splits import SPLIT_VERSION
from benchmark.reporting.board import board_of
from benchmark.results.store import write_predictions
from benchmark.scoring.bootstrap import paired_intervals
from benchmark.scoring.metrics import Contributions
from tests.fixtures.synthetic import write_data_root

TRACE = "syn"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_data_root(tmp_path_factory.mktemp("data"), {TRACE: 20_000})


def _truth(data: Path):
    runs = load_trace(TRACE, data)
    lo, hi = runs.split.test
    return np.arange(lo, hi), runs.task[lo:hi], runs.delta_us[lo:hi], runs.sigma_us, runs


def _hits_to_pred(hit: np.ndarray, y: np.ndarray, n_tasks: int) -> np.ndarray:
    """Task ids that are right exactly where `hit` is True."""
    return np.where(hit, y, (y + 1) % n_tasks)


def _store(root: Path, data: Path, model: str, seed: int, hit: np.ndarray, delta: np.ndarray,
           params: dict | None = None) -> None:  # fmt: skip
    positions, y, true_us, sigma, runs = _truth(data)
    pred = _hits_to_pred(hit, y, runs.n_tasks)
    acc = float(np.mean(pred == y))
    mse = float(np.mean(((delta - true_us) / sigma) ** 2))
    folder = root / "results" / model / TRACE
    folder.mkdir(parents=True, exist_ok=True)
    sha = load_manifest(data)["files"][f"traces/{TRACE}.parquet"]
    result = {
        "schema_version": 1, "model": model, "trace": TRACE, "seed": seed, "status": "ok",
        "targets": ["delta", "task"], "params": params or {"task": {}, "delta": {}},
        "data_sha256": sha, "split_version": SPLIT_VERSION, "git_commit": "c" * 40,
        "metrics": {"acc": {"value": acc, "low": acc - 0.01, "high": acc + 0.01},
                    "mse_z": {"value": mse, "low": mse * 0.9, "high": mse * 1.1}},
        "costs": COSTS.get((model, seed), COSTS[None]),
        "model_spec": model, "params_source": {"task": "default", "delta": "default"},
        "error": None, "versions": {"python": "3", "numpy": "2"}, "n_positions": len(y),
        "created": "2026-01-01T00:00:00", "predictions_file": f"seed{seed}.npz",
    }  # fmt: skip
    for name, target, higher in (("acc", "task", True), ("mse_z", "delta", False)):
        result["metrics"][name].update(target=target, higher_is_better=higher)
    (folder / f"seed{seed}.json").write_text(json.dumps(result))
    write_predictions(folder / f"seed{seed}.npz", positions, pred, delta.astype(np.float32))


COSTS = {  # (model, seed) -> costs; wobbly's second seed met a slow phase of the machine
    None: {"online_p50_us": 1.0, "online_p99_us": 2.0, "fit_s": 0.1, "predict_s": 0.1},
    ("wobbly", 1): {"online_p50_us": 3.0, "online_p99_us": 4.0, "fit_s": 0.3, "predict_s": 0.1},
}
SHARES = {  # (model, seed) -> acc, hitting the first positions of its generator's order
    ("markov", 0): 0.40,
    ("close_a", 0): 0.75,
    ("close_b", 0): 0.746,
    ("best", 0): 0.90,
    ("wobbly", 0): 0.52,
    ("wobbly", 1): 0.62,
    ("steady", 0): 0.54,
}
# steady draws from wobbly seed 0's order (its hits are those and 2% more), the others each
# from their own
STREAM = {("steady", 0): ("wobbly", 0)}


def _hit(model: str, seed: int, n: int) -> np.ndarray:
    """True on `SHARES[model, seed]` of the positions."""
    key = sorted(SHARES).index(STREAM.get((model, seed), (model, seed)))
    order = np.random.default_rng(100 + key).permutation(n)
    hit = np.zeros(n, dtype=bool)
    hit[order[: round(SHARES[model, seed] * n)]] = True
    return hit


@pytest.fixture(scope="module")
def board(data, tmp_path_factory):
    """best 0.90; close_a 0.75 and close_b 0.746 (inside their paired interval); wobbly
    0.52/0.62 over two seeds vs steady 0.54 (outside the paired interval, inside the seed
    spread); markov 0.40."""
    root = tmp_path_factory.mktemp("lb")
    _, y, true_us, _, _ = _truth(data)
    n = len(y)
    noisy = true_us * np.random.default_rng(0).lognormal(0.0, 1.0, n)
    deltas = {"best": true_us, "close_a": noisy * 0.9, "close_b": noisy * 0.9}
    for model, seed in SHARES:
        _store(root, data, model, seed, _hit(model, seed, n), deltas.get(model, noisy))
    return board_of(root, data, ceilings={}), root


def test_models_closer_than_their_paired_interval_share_a_rank(board, data):
    board, _ = board
    rank = {m.model: m.rank_text("task") for m in board.models}
    assert rank == {"best": "1", "close_a": "2=", "close_b": "2=", "wobbly": "4=",
                    "steady": "4=", "markov": "6"}  # fmt: skip
    a = board.row("close_a").standing["task"].vs_next
    assert a.other == "close_b" and a.evidence == "paired" and a.tie
    assert a.diff.low <= 0.0 <= a.diff.high
    # the interval is the paired block bootstrap of the two models on the same positions
    n = len(_truth(data)[1])
    hits = {
        m: Contributions(n, {"acc": _hit(m, 0, n).astype(float)}) for m in ("close_a", "close_b")
    }
    expected = paired_intervals(hits["close_a"], hits["close_b"], ["acc"], seed=0)["acc"]
    assert (a.diff.low, a.diff.high) == pytest.approx((expected["low"], expected["high"]))
    assert a.diff.value == pytest.approx(0.004, abs=1e-4)


def test_a_clear_difference_is_a_win_and_markov_is_compared_with_every_model(board):
    board, _ = board
    best = board.row("best").standing["task"]
    assert not best.vs_next.tie and best.vs_next.diff.low > 0
    assert best.vs_markov.other == "markov" and best.vs_markov.diff.value == pytest.approx(0.50)
    assert board.row("markov").standing["task"].vs_markov is None


def test_a_difference_smaller_than_the_seed_spread_is_not_a_win(board):
    board, _ = board
    wobbly, steady = board.row("wobbly"), board.row("steady")
    acc = wobbly.mean["acc"]
    assert (acc.seed_min, acc.seed_max) == pytest.approx((0.52, 0.62), abs=1e-4)
    versus = wobbly.standing["task"].vs_next
    assert versus.other == "steady" and versus.diff.low > 0  # the interval alone says a win
    assert versus.diff.value == pytest.approx(0.03, abs=1e-4)  # < the spread 0.10: a tie
    assert versus.tie and wobbly.rank["task"] == steady.rank["task"] == 4
    assert wobbly.per_trace[TRACE].standing["task"].tied


def test_delta_ranks_and_ratio_to_the_best_reference(board):
    board, _ = board
    best = board.row("best")
    assert best.rank["delta"] == 1 and best.mean["mse_z"].value == pytest.approx(0.0)
    # close_a predicts 0.9 x markov's noisy deltas: its ratio to markov (the only reference)
    close = board.row("close_a").per_trace[TRACE]
    assert close.mse_ratio.value == pytest.approx(
        board.row("close_a").mean["mse_z"].value / board.row("markov").mean["mse_z"].value
    )
    assert close.mse_ratio.low < close.mse_ratio.value < close.mse_ratio.high


def test_stored_predictions_that_do_not_reproduce_the_result_are_not_used(board, data, tmp_path):
    _, root = board
    import shutil

    shutil.copytree(root / "results", tmp_path / "results")
    path = tmp_path / "results" / "close_b" / TRACE / "seed0.json"
    result = json.loads(path.read_text())
    result["metrics"]["acc"]["value"] += 0.01  # the npz no longer gives this number
    path.write_text(json.dumps(result))
    notes: list[str] = []
    board2 = board_of(tmp_path, data, ceilings={}, log=notes.append)
    assert any("close_b on syn: stored predictions not used" in n for n in notes)
    versus = board2.row("close_b").standing["task"].vs_next  # 0.756 now, above close_a
    assert versus.other == "close_a" and versus.evidence == "overlap" and versus.diff is None
    assert versus.tie  # their intervals (+-0.01) overlap


def test_the_side_information_ceiling_is_used_where_scoring_provides_it(board, data, monkeypatch):
    """A stub stands in for the estimator, to pin which rows it is handed and how it is used."""
    from benchmark.data.dataset import load_trace
    from benchmark.reporting.ceilings import compute_ceilings
    from benchmark.scoring import ceiling as estimators

    seen = []

    def stub(tasks, end_state, delta_us, *, score_from):
        seen.append((len(tasks), len(end_state), len(delta_us), score_from))
        return {"max_predictability": 0.5, "low": 0.45, "high": 0.55, "covers": "stub inputs"}

    monkeypatch.setattr(estimators, "side_ceiling", stub)
    ceilings = compute_ceilings([TRACE], data)
    n = len(_truth(data)[0])
    total = len(load_trace(TRACE, data))
    # every row up to the end of test, scored from the first test row (it learns on train+valid)
    assert seen == [(total, total, total, total - n)]
    assert ceilings[TRACE]["side_information"]["covers"] == "stub inputs"
    assert ceilings[TRACE]["task_history"]["n"] == n
    _, root = board
    flagged = board_of(root, data, ceilings=ceilings)
    # acc low ends: best 0.89, close_a 0.74, close_b 0.736, wobbly (0.51+0.61)/2 = 0.56 are above
    # the stub's high end 0.55; steady 0.53 and markov 0.39 are not
    leaks = {m.model for m in flagged.models if m.suspected_leak}
    assert leaks == {"best", "close_a", "close_b", "wobbly"}
    assert len(flagged.warnings) == 4 and all("side-information ceiling 0.5000" in w
                                              for w in flagged.warnings)  # fmt: skip
    # the normalized score uses the covering (side) ceiling: best (0.90-0.40)/(0.5-0.40) = 5
    assert flagged.row("best").normalized.value == pytest.approx(5.0, abs=1e-3)


def _cli(*args):
    from typer.testing import CliRunner

    from benchmark.cli import _load_parts, app

    _load_parts()
    return CliRunner().invoke(app, [str(a) for a in args])


def test_compare_prints_the_paired_difference_per_trace_and_on_the_mean(board, data):
    from benchmark.reporting.compare import compare_models

    _, root = board
    lines = compare_models("best", "markov", root=root, data_root=data)
    acc = [line for line in lines if line.metric == "acc"]
    assert [line.trace for line in acc] == [TRACE, "mean"]
    assert acc[0].comparison.diff.value == pytest.approx(0.50, abs=1e-4)
    assert acc[0].verdict == "A better" and acc[0].comparison.evidence == "paired"
    mse = next(line for line in lines if line.metric == "mse_z" and line.trace == TRACE)
    assert mse.verdict == "A better" and mse.comparison.diff.value < 0  # best's mse_z is 0
    close = compare_models("close_a", "close_b", TRACE, root=root, data_root=data)
    assert [line.verdict for line in close] == ["tie", "tie"]  # acc within interval; same deltas
    result = _cli("compare", "close_a", "close_b", "--results", root, "--data", data)
    assert result.exit_code == 0, result.output
    assert "+0.0040 [" in result.output and "tie" in result.output and "paired" in result.output


def test_compare_refuses_unknown_models_and_traces_in_one_line(board, data):
    _, root = board
    for args, needle in (
        (("nosuch", "markov"), "model 'nosuch' has no accepted results here; known: "),
        (("best", "markov", "--trace", "nosuch"), "unknown trace 'nosuch'; traces: syn"),
        (("best", "best"), "compare two different models"),
    ):
        result = _cli("compare", *args, "--results", root, "--data", data)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], result.output


def test_a_latency_is_the_best_runs_and_other_costs_are_means(board):
    """Latencies over runs are the lowest (a slow phase only raises a run's, README "Latency
    budget"); fit seconds are a mean."""
    board, _ = board
    wobbly = board.row("wobbly")
    for costs in (wobbly.costs, wobbly.per_trace[TRACE].costs):
        assert (costs["online_p50_us"], costs["online_p99_us"]) == (1.0, 2.0)
        assert costs["fit_s"] == pytest.approx(0.2)
