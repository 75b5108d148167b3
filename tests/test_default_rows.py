"""Default and tuned rows (issue 10 item 5): a tuned learned model also runs on its defaults,
as `<model>.default` (seed 0, not ranked), and the board gives tuned − default with its paired
interval on the same test positions.

Real runs on an excerpt of a shipped trace (`decision_tree`, fast): the values are checked
against the stored predictions scored in the test (numpy), not against the board's own code.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmark.data.dataset import load_trace
from benchmark.reporting.board import board_of
from benchmark.reporting.markdown import markdown
from benchmark.reporting.page import html_page
from benchmark.running import runner
from benchmark.running.profiles import make_profile, make_quick_data
from benchmark.running.registry import UnknownModelError
from benchmark.scoring.bootstrap import N_RESAMPLES, paired_interval
from benchmark.scoring.metrics import top1_contributions

TRACE = "keepalive"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("default-rows")
    data = make_quick_data(None, root / "data", [TRACE], 6000)
    lb = root / "lb"
    (lb / "params").mkdir(parents=True)
    (lb / "params" / "decision_tree-task.json").write_text(
        json.dumps({"params": {"max_depth": 3, "min_samples_leaf": 50}})
    )
    profile = replace(make_profile(out=lb, timeout_s=300), source_root=data, online_steps=200)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERNEL_ORACLE_LEADERBOARD", str(lb))
        (lb / "params" / "lightgbm-task.json").write_text(json.dumps({"params": {}}))
        planned = runner.plan(["decision_tree", "markov", "lightgbm"], None, profile)
        labels = sorted({(s.label, s.seed) for s in planned.specs})
        assert labels == [
            ("decision_tree", 0),
            ("decision_tree.default", 0),
            ("lightgbm", 0),
            ("markov", 0),
        ], "only a tuned learned model gets a default row (markov is a reference, lightgbm's "
        "params file sets nothing)"  # fmt: skip
        default_spec = next(s for s in planned.specs if s.label == "decision_tree.default")
        assert default_spec.params == {"task": {}, "delta": {}}
        specs = [s for s in planned.specs if s.label != "lightgbm"]
        runner.run(specs, lb, 1, lambda _event: None)
    return lb, data


def _acc_from_predictions(lb: Path, data: Path, label: str) -> tuple[np.ndarray, float]:
    """Per-position correctness of a stored npz, scored here against the parquet's truth."""
    arrays = np.load(lb / "results" / label / TRACE / "seed0.npz")
    runs = load_trace(TRACE, data)
    truth = runs.task[arrays["positions"] - runs.start]
    correct = (arrays["task"] == truth).astype(float)
    return correct, float(correct.mean())


def test_the_default_row_is_beside_the_tuned_one_and_not_ranked(built):
    lb, data = built
    board = board_of(lb, data)
    assert [r.model for r in board.models] == ["decision_tree", "markov"]
    assert [r.model for r in board.default_models] == ["decision_tree.default"]
    default = board.default_models[0]
    assert (default.variant, default.rank) == ("default", {})
    assert board.models[0].variant == "tuned" and board.models[1].variant == ""
    assert board.models[0].rank and board.models[1].rank


def test_tuned_minus_default_is_scored_on_the_same_positions(built):
    lb, data = built
    board = board_of(lb, data)
    (gain,) = board.tuning  # delta was not tuned: no entry
    tuned_correct, tuned_acc = _acc_from_predictions(lb, data, "decision_tree")
    default_correct, default_acc = _acc_from_predictions(lb, data, "decision_tree.default")
    cell = gain.per_trace[TRACE]
    assert cell.tuned == pytest.approx(tuned_acc, abs=1e-9)
    assert cell.default == pytest.approx(default_acc, abs=1e-9)
    assert cell.diff == pytest.approx(tuned_acc - default_acc, abs=1e-9)
    assert tuned_acc != default_acc, "depth 3 and the default depth must predict differently"
    # The interval is the paired one, recomputed here from contributions the test builds.
    n_tasks = load_trace(TRACE, data).n_tasks
    a = top1_contributions(np.zeros(len(tuned_correct), int), (1 - tuned_correct).astype(int),
                           n_tasks)  # fmt: skip
    b = top1_contributions(np.zeros(len(default_correct), int),
                           (1 - default_correct).astype(int), n_tasks)  # fmt: skip
    pair = paired_interval("acc", a, b, n_resamples=N_RESAMPLES, seed=0)
    assert (cell.low, cell.high) == pytest.approx((pair["low"], pair["high"]), abs=1e-9)
    assert cell.low < cell.diff < cell.high
    assert cell.significant == (cell.low > 0 or cell.high < 0)
    assert cell.better == (cell.diff > 0)
    assert gain.mean.diff == pytest.approx(cell.diff), "one trace: the mean is that trace"
    assert gain.params_source.endswith("params/decision_tree-task.json")


def test_the_board_files_show_both_rows(built):
    lb, data = built
    board = board_of(lb, data)
    text = markdown(board)
    assert "## Default and tuned" in text
    assert "decision_tree.default" not in text.split("## Default and tuned")[0].split("## ")[1]
    page = html_page(board)
    assert 'data-model="decision_tree.default" data-kind="baseline" data-variant="default"' in page
    assert 'data-variant="tuned"' in page and 'id="view-tuning"' in page


def test_a_submitted_model_cannot_take_a_default_rows_name(tmp_path):
    model = tmp_path / "mine.py"
    model.write_text(
        "from models.reference import Majority\nclass Mine(Majority):\n    name = 'lstm.default'\n"
    )
    with pytest.raises(UnknownModelError, match="kept for the default rows"):
        runner.resolve(f"{model}:Mine")


def test_figure_authors_see_the_default_row_as_its_models_default_variant(built):
    from benchmark.reporting.api import load_results

    lb, data = built
    frame = load_results(lb, data_root=data)
    acc = frame[(frame.metric == "acc") & (frame.model == "decision_tree")]
    assert sorted(acc.variant) == ["default", "tuned"]
    _, default_acc = _acc_from_predictions(lb, data, "decision_tree.default")
    assert acc[acc.variant == "default"].value.item() == pytest.approx(default_acc, abs=1e-9)
    assert set(frame[frame.model == "markov"].variant) == {"default"}
