"""Figures: each figure's numbers (its frame) checked against values worked out by hand, the
drawn artists checked against their frame, and every figure drawn from real result files of a
small synthetic trace, with the free run refitted from the parameters its result records."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.reporting import drawing, frames
from benchmark.reporting.boardtypes import Board, Cell, Interval, Row, SeedMean
from benchmark.reporting.figures import FIGURES, make_figures
from tests.fixtures.synthetic import write_data_root

CURVE = Path(__file__).parent / "fixtures" / "tuning_models.py"


# -- a hand-made board ---------------------------------------------------------------------------
def _row(name: str, kind: str, acc: dict[str, float], p50: float, mse: float | None = None):
    cells = {t: Cell("ok", [0], {"acc": SeedMean(v, v - 0.01, v + 0.01)}) for t, v in acc.items()}
    mean_acc = sum(acc.values()) / len(acc)
    mean = {"acc": Interval(mean_acc, mean_acc - 0.01, mean_acc + 0.01)}
    targets = ["task"]
    if mse is not None:
        mean["mse_z"] = Interval(mse, mse - 0.1, mse + 0.1)
        targets = ["delta", "task"]
    costs = {"online_p50_us": p50, "online_p99_us": 3 * p50}
    return Row(name, kind, targets, "ok", 1, cells, mean, costs)


@pytest.fixture
def board() -> Board:
    rows = [
        _row("markov", "reference", {"a": 0.80, "b": 0.60}, 1.0, mse=0.9),
        _row("majority", "reference", {"a": 0.40, "b": 0.30}, 0.5, mse=1.0),
        _row("tree", "baseline", {"a": 0.90, "b": 0.62}, 5.0, mse=0.7),
        _row("slowpoke", "baseline", {"a": 0.85, "b": 0.61}, 50.0, mse=0.6),
        _row("big", "baseline", {"a": 0.92, "b": 0.70}, 20.0),
    ]
    rows[2].per_trace["b"] = Cell("failed", [0])  # tree failed on b: never its best there
    for target, order in (("task", ["big", "tree", "slowpoke", "markov", "majority"]),
                          ("delta", ["slowpoke", "tree", "markov", "majority"])):  # fmt: skip
        for position, name in enumerate(order, 1):
            next(r for r in rows if r.model == name).rank[target] = position
    ceiling = {
        "a": {"task_history": {"max_predictability": 0.95}},
        "b": {"task_history": {"max_predictability": 0.75}},
    }
    return Board(["a", "b"], {"a": None, "b": None}, 2, rows, ceiling, [], [], 10)


def test_best_model_reads_the_board_and_skips_cells_it_does_not_score(board):
    assert frames.best_model(board, "task") == "big"  # mean acc 0.81
    assert frames.best_model(board, "delta") == "slowpoke"  # lowest mse_z, 0.6
    assert frames.best_model(board, "task", "b", learned=True) == "big"
    board.row("big").per_trace["b"] = Cell("failed", [0])
    # on b: tree failed, big failed -> slowpoke (0.61) beats markov only when learned=False too
    assert frames.best_model(board, "task", "b", learned=True) == "slowpoke"
    assert frames.best_model(board, "task", "b") == "slowpoke"


def test_bars_follow_the_rank_order_with_each_mean_and_interval(board):
    bars = frames.main_metric_bars(board, "task")
    assert list(bars["model"]) == ["big", "tree", "slowpoke", "markov", "majority"]
    assert bars["value"].tolist() == pytest.approx([0.81, 0.76, 0.73, 0.70, 0.35])
    assert (bars["high"] - bars["value"]).tolist() == pytest.approx([0.01] * 5)
    fig = drawing.leaderboard_bars([("next task", "acc", True, bars)], [("x ceiling", 0.85)], [])
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert widths == pytest.approx([0.81, 0.76, 0.73, 0.70, 0.35])
    dashed = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in dashed] == [0.85]  # the ceiling line


def test_the_latency_frontier_keeps_only_points_no_faster_point_beats(board):
    points = frames.latency_points(board, "task")
    # p50: majority 0.5 (0.35), markov 1 (0.70), tree 5 (0.76), big 20 (0.81), slowpoke 50 (0.73)
    front = frames.frontier(points, higher_is_better=True)
    assert list(front["model"]) == ["majority", "markov", "tree", "big"]
    delta = frames.frontier(frames.latency_points(board, "delta"), higher_is_better=False)
    # mse_z: majority 1.0 @0.5, markov 0.9 @1, tree 0.7 @5, slowpoke 0.6 @50 (big has no delta)
    assert list(delta["model"]) == ["majority", "markov", "tree", "slowpoke"]
    fig = drawing.accuracy_vs_latency([("next task", "acc", True, points, front)])
    (line,) = [a for a in fig.axes[0].lines if a.get_gid() == "frontier"]
    assert list(line.get_xdata()) == [0.5, 1.0, 5.0, 20.0]
    assert list(line.get_ydata()) == pytest.approx([0.35, 0.70, 0.76, 0.81])


def test_a_tie_on_latency_keeps_the_better_point_only():
    points = pd.DataFrame(
        {"model": ["x", "y"], "kind": ["baseline"] * 2, "p50_us": [2.0, 2.0],
         "p99_us": [3.0, 3.0], "value": [0.5, 0.6], "low": [0.4, 0.5], "high": [0.6, 0.7]}
    )  # fmt: skip
    assert list(frames.frontier(points, higher_is_better=True)["model"]) == ["y"]


def test_ceiling_comparison_per_trace(board):
    frame = frames.ceiling_comparison(board)
    a = frame[frame["trace"] == "a"].set_index("series")
    assert a.loc["task-history ceiling", "value"] == 0.95
    assert (a.loc["best learned model", "model"], a.loc["best learned model", "value"]) == (
        "big",
        0.92,
    )
    assert a.loc["markov", "value"] == 0.80 and a.loc["majority", "value"] == 0.40


def test_task_shares_top_k_then_the_rest():
    tasks = pd.Series(["a"] * 5 + ["b"] * 3 + ["c", "d"])
    frame = frames.task_shares(tasks, top=2)
    assert frame["label"].tolist() == ["a", "b", "2 others"]
    assert frame["share"].tolist() == pytest.approx([0.5, 0.3, 0.2])
    assert frame["others"].tolist() == [False, False, True]
    assert frames.task_shares(tasks, top=4)["label"].tolist() == ["a", "b", "c", "d"]


def test_confusion_rows_sum_to_one_over_the_top_tasks_and_the_rest():
    true = np.array([3, 3, 3, 1, 1, 7, 9])
    pred = np.array([3, 1, 3, 1, 9, 7, 3])
    share, top = frames.confusion(true, pred, k=2)
    assert top.tolist() == [3, 1]
    # rows: true 3 -> [2/3 (3), 1/3 (1), 0]; true 1 -> [0, 1/2, 1/2 (9 is rest)];
    # rest (7, 9) -> 7->7 rest, 9->3: [1/2, 0, 1/2]
    expected = [[2 / 3, 1 / 3, 0], [0, 0.5, 0.5], [0.5, 0, 0.5]]
    assert np.allclose(share, expected)


def test_one_step_picks_the_stored_predictions_of_the_window():
    keep, values = frames.one_step(np.array([10, 12, 13]), np.array([1.0, 2.0, 3.0]),
                                   np.arange(11, 15))  # fmt: skip
    assert keep.tolist() == [1, 2] and values.tolist() == [2.0, 3.0]


# -- end to end on stored results ----------------------------------------------------------------
@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, Path]:
    """Results of the reference models and a model with a training curve on two traces."""
    from benchmark.running import runner
    from benchmark.running.profiles import make_profile

    data = write_data_root(tmp_path_factory.mktemp("data"), {"syn": 2500, "syn2": 2000})
    root = tmp_path_factory.mktemp("lb")
    mp = pytest.MonkeyPatch()
    mp.setenv("KERNEL_ORACLE_DATA", str(data))
    mp.setenv("KERNEL_ORACLE_LEADERBOARD", str(root))
    profile = replace(make_profile(out=root), online_steps=50)
    planned = runner.plan(["majority", "markov", "ewma", f"{CURVE}:WithCurve"], None, profile)
    results = runner.run(planned.specs, root)
    assert all(r["status"] == "ok" for r in results), [r.get("error") for r in results]
    yield root, data
    mp.undo()


def test_every_figure_is_drawn_as_an_image_and_a_pdf_page(stored, tmp_path):
    import matplotlib.image

    root, data = stored
    out = tmp_path / "figures"
    done = make_figures(root, data, out)
    assert set(done) == set(FIGURES)
    for name, files in done.items():
        assert isinstance(files, list), f"{name}: {files}"
        png, pdf = sorted(files, key=lambda p: p.suffix != ".png")
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400, (name, pixels.shape)
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20, name
        assert pdf.read_bytes().startswith(b"%PDF") and b"/Type /Page" in pdf.read_bytes()
    readme = (out / "README.md").read_text()
    assert all(f"**{name}**" in readme for name in FIGURES)
    assert "1-10 µs" in readme and "stored free-run forecasts" in readme


def test_the_free_run_drawn_is_the_stored_forecast(stored, monkeypatch):
    """delta_sequence draws, from the first horizon origin after the one-step part, the
    forecast rows stored in each model's predictions file (nothing is refitted)."""
    from benchmark.reporting import figures
    from benchmark.reporting.board import collect
    from benchmark.results.store import stored_predictions

    root, data = stored
    board, accepted = collect(root, data, ceilings={})
    ctx = figures.Context(root, data, root / "unused", board, accepted, lambda _m: None)
    monkeypatch.setattr(figures.drawing, "delta_sequence", lambda panels: panels)
    panels = {p.trace: p for p in figures.delta_sequence(ctx)}
    panel = panels["syn"]
    runs = ctx.runs("syn")
    p0 = int(runs.split.test[0])
    assert {"markov", "ewma"} <= set(panel.free_runs)
    for model, values in panel.free_runs.items():
        result = next(s for s in accepted if (s.model, s.trace) == (model, "syn"))
        arrays = stored_predictions(root, result)
        at = int(np.searchsorted(arrays["horizon_origins"], p0 + figures.ONE_STEP))
        assert panel.free_start == int(arrays["horizon_origins"][at]) - p0
        assert np.array_equal(values, arrays["horizon_delta_us"][at].astype(np.float64))
    assert len(panel.truth) == panel.free_start + len(next(iter(panel.free_runs.values())))


def test_horizon_curves_read_the_cells_the_board_scores():
    scores = {
        "acc@1": SeedMean(0.9, 0.8, 1.0),
        "acc@4": SeedMean(0.5, 0.4, 0.6),
        "mse_z@1": SeedMean(0.3, 0.2, 0.4),
        "prefix": SeedMean(2, 1, 3),
    }
    cell = Cell("ok", [0], horizon=scores)
    failed = Cell("failed", [0], horizon={"acc@1": SeedMean(0.1, 0.0, 0.2)})
    board = Board(
        ["a", "b"],
        {},
        2,
        [Row("m", "baseline", ["task"], "failed", 1, {"a": cell, "b": failed})],
        {},
        [],
        [],
        2,
    )
    frame = frames.horizon_curves(board)
    assert frame[["trace", "h", "acc"]].values.tolist() == [["a", 1, 0.9], ["a", 4, 0.5]]
    assert frames.free_run_window(np.array([10, 20, 30]), 5, 10) == 1
    assert frames.free_run_window(np.array([10, 20, 30]), 5, 30) is None


def test_a_figure_without_its_inputs_is_skipped_with_a_reason(stored, tmp_path):
    _, data = stored
    done = make_figures(tmp_path / "empty", data, tmp_path / "figs", only=["training_curves"])
    assert done["training_curves"].startswith("skipped:")


def test_an_unknown_figure_name_is_a_clear_error(stored, tmp_path):
    root, data = stored
    with pytest.raises(KeyError, match="unknown figure"):
        make_figures(root, data, tmp_path, only=["pie_chart"])
