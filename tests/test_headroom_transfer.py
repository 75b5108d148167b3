"""Headroom (task-history ceiling minus markov), the datasheet's task mix, and a holdout board's
transfer view (issue 12), each against values worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark.data.datainfo import role_of, task_mix
from benchmark.reporting.boardtypes import Board, Row
from benchmark.reporting.ceilings import headroom, stored_headroom
from benchmark.reporting.transfer import average_ranks, spearman, transfer_view


def test_average_ranks_share_ties() -> None:
    """Tied values share the mean of the ranks they span (1-based, smallest first)."""
    assert average_ranks([30, 10, 10, 20]) == [4.0, 1.5, 1.5, 3.0]
    assert average_ranks([5, 5, 5]) == [2.0, 2.0, 2.0]


def test_spearman_by_hand() -> None:
    """rho of 1 2 3 4 against 1 3 2 4: ranks differ by d = 0, 1, 1, 0, so
    1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 12 / 60 = 0.8; reversed order gives -1."""
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None  # one order is constant


def _board(ranks: dict[str, int]) -> Board:
    rows = [
        Row(model=m, kind="baseline", targets=["task"], status="ok", seeds=1, per_trace={},
            rank={"task": r})
        for m, r in ranks.items()
    ]  # fmt: skip
    return Board(traces=["h"], data_sha256={"h": None}, split_version=2, models=rows,
                 ceiling={}, failed=[], refused=[], result_files=len(rows))  # fmt: skip


def test_transfer_view_pairs_the_ranks_of_common_models() -> None:
    """Only models ranked on both boards count; a, b, c, d on the holdout 1 2 3 4 and shipped
    1 3 2 4 give rho 0.8 (see above); e (holdout only) and z (shipped only) are left out."""
    board = _board({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    shipped_ranks = {"a": 1, "b": 3, "c": 2, "d": 4, "z": 5}
    shipped = {"models": [{"model": m, "rank": {"task": r}} for m, r in shipped_ranks.items()]}
    task, delta = transfer_view(board, shipped, "leaderboard/leaderboard.json")
    assert [(r.model, r.holdout, r.shipped) for r in task.ranks] == [
        ("a", 1, 1), ("b", 2, 3), ("c", 3, 2), ("d", 4, 4)
    ]  # fmt: skip
    assert task.rho == pytest.approx(0.8) and task.reason is None
    assert delta.ranks == [] and delta.rho is None and "0 model(s)" in delta.reason


def test_headroom_is_ceiling_minus_markov() -> None:
    """0.9 - 0.75 = 0.15; a trace without a ceiling or a markov score has none."""
    ceilings = {"x": {"task_history": {"max_predictability": 0.9}}, "y": {}}
    got = headroom(ceilings, {"x": 0.75, "y": 0.5, "z": None}, ["x", "y", "z"])
    assert got == {"x": pytest.approx(0.15), "y": None, "z": None}


def test_stored_headroom_only_for_the_data_the_board_scored(tmp_path: Path) -> None:
    """A board's headroom counts for a trace only when it scored the manifest's parquet."""
    board = tmp_path / "leaderboard.json"
    board.write_text(json.dumps({
        "data_sha256": {"x": "a" * 64, "y": "b" * 64},
        "headroom": {"x": 0.2, "y": 0.3},
    }))  # fmt: skip
    manifest = {
        "files": {"traces/x.parquet": "a" * 64, "traces/y.parquet": "c" * 64},
        "traces": {"x": {}, "y": {}, "w": {}},
    }
    assert stored_headroom(board, manifest) == {"x": 0.2, "y": None, "w": None}
    assert stored_headroom(tmp_path / "absent.json", manifest) == {"x": None, "y": None, "w": None}


def test_task_mix_by_hand() -> None:
    """Ten runs: nginx:1 x4, ab:2 x3, ko-timer:3 x1, kworker/1:0 x1, <idle> x1. Top task 40%;
    tasks with >= 1% of runs: all 5; roles nginx 40%, ab 30%, background 10%, kernel 10%,
    idle 10%."""
    comm = ["nginx"] * 4 + ["ab"] * 3 + ["ko-timer", "kworker/1:0", "<idle>"]
    task = ["nginx:1"] * 4 + ["ab:2"] * 3 + ["ko-timer:3", "kworker/1:0:9", "<idle>"]
    mix = task_mix(pd.DataFrame({"comm": comm, "task": task}))
    assert mix == {
        "run_share_by_role": {"nginx": 0.4, "ab": 0.3, "background": 0.1, "kernel": 0.1,
                              "idle": 0.1},
        "top_task_run_share": 0.4,
        "tasks_over_1pct": 5,
    }  # fmt: skip
    assert [role_of(c) for c in ("ko-fsync", "ksoftirqd/1", "nginx")] == [
        "background", "kernel", "nginx"
    ]  # fmt: skip
