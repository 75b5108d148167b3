"""The board's scheduler dimension (issue 15): means over each scheduler's traces beside the
overall mean, Spearman's rho of the two orders, and the README section that shows them; built
here from hand-made results whose every number is known."""

from __future__ import annotations

import pytest

from benchmark.reporting.assemble import by_scheduler, make_board
from benchmark.reporting.markdown import markdown
from benchmark.reporting.scheduler_view import scheduler_ranks
from benchmark.results.store import Stored

# trace -> kernel: two EEVDF traces and one CFS trace
KERNELS = {"e1": "6.18.0-1", "e2": "6.18.0-1", "c1": "6.1.0-57-cloud-amd64"}
# model -> acc per trace: on EEVDF a > b > c > d, on CFS the order is reversed
ACC = {
    "a": {"e1": 0.9, "e2": 0.8, "c1": 0.3},
    "b": {"e1": 0.8, "e2": 0.7, "c1": 0.4},
    "c": {"e1": 0.7, "e2": 0.6, "c1": 0.5},
    "d": {"e1": 0.6, "e2": 0.5, "c1": 0.6},
}


def _stored(model: str, trace: str, acc: float) -> Stored:
    metric = {"value": acc, "low": acc - 0.02, "high": acc + 0.02, "target": "task",
              "higher_is_better": True}  # fmt: skip
    result = {"model": model, "trace": trace, "seed": 0, "status": "ok", "targets": ["task"],
              "params": {"task": {}}, "metrics": {"acc": metric}, "costs": {},
              "git_commit": "c" * 40}  # fmt: skip
    return Stored(f"{model}/{trace}/seed0.json", result)


def _manifest(kernels: dict[str, str]) -> dict:
    return {"files": {}, "traces": {t: {"runs": 10, "kernel": k} for t, k in kernels.items()}}


def _board(kernels: dict[str, str] = KERNELS):
    accepted = [_stored(m, t, acc) for m, per in ACC.items() for t, acc in per.items()]
    return make_board(accepted, [], _manifest(kernels))


def test_traces_group_by_their_kernels_scheduler() -> None:
    board = _board()
    assert board.schedulers == {"c1": "cfs", "e1": "eevdf", "e2": "eevdf"}
    assert by_scheduler(board.schedulers, board.traces) == {"cfs": ["c1"], "eevdf": ["e1", "e2"]}


def test_each_row_has_the_mean_over_each_schedulers_traces() -> None:
    row = _board().row("a")
    assert row.mean["acc"].value == pytest.approx((0.9 + 0.8 + 0.3) / 3)
    assert row.mean_by_scheduler["eevdf"]["acc"].value == pytest.approx(0.85)
    assert row.mean_by_scheduler["cfs"]["acc"].value == pytest.approx(0.3)


def test_a_reversed_order_gives_rho_minus_one() -> None:
    board = _board()
    (view,) = [v for v in board.scheduler_agreement if v.target == "task"]
    assert (view.first, view.second, view.metric) == ("cfs", "eevdf", "acc")
    assert view.models == ["a", "b", "c", "d"]
    assert view.rho == pytest.approx(-1.0)
    assert scheduler_ranks(board, "task", "eevdf") == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert scheduler_ranks(board, "task", "cfs") == {"d": 1, "c": 2, "b": 3, "a": 4}


def test_the_readme_shows_the_section_only_with_two_schedulers() -> None:
    text = markdown(_board())
    assert "## By scheduler" in text
    assert "Spearman's rho -1.000 (cfs vs eevdf, 4 models)" in text
    assert "acc: cfs (1 trace)" in text and "acc: eevdf (2 traces)" in text
    one = _board({t: "6.18.0-1" for t in KERNELS})
    assert one.scheduler_agreement == [] and not one.row("a").mean_by_scheduler
    assert "## By scheduler" not in markdown(one)


def test_figures_mark_each_trace_with_its_scheduler_only_on_a_two_scheduler_board(tmp_path):
    import pandas as pd

    from benchmark.reporting.figures import Context

    def context(board):
        return Context(tmp_path, None, tmp_path, board, [], lambda _m: None)

    two = context(_board())
    assert two.label("c1") == "c1 [CFS]" and two.label("e1") == "e1 [EEVDF]"
    frame = two.labelled(pd.DataFrame({"trace": ["c1", "e2"], "v": [1, 2]}))
    assert list(frame["trace"]) == ["c1 [CFS]", "e2 [EEVDF]"]
    assert context(_board({t: "6.18.0-1" for t in KERNELS})).label("c1") == "c1"


def test_the_page_has_a_by_scheduler_view_with_rho_and_places() -> None:
    from benchmark.reporting.page import html_page

    page = html_page(_board())
    assert 'id="view-schedulers"' in page and 'data-nav="schedulers"' in page
    assert "cfs vs eevdf: rho = -1.000 over 4 models" in page
    assert 'id="schedulers-task"' in page
    assert 'id="view-schedulers"' not in html_page(_board({t: "6.18.0-1" for t in KERNELS}))
