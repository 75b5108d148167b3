"""The horizon track's cost on the board (issue 14: under 10% of the leaderboard's run time),
summed from what each stored result records."""

from __future__ import annotations

import pytest

from benchmark.reporting.horizon_view import horizon_cost
from benchmark.results.store import Stored


def _stored(wall_s, forecast_s, spot_s, status="ok") -> Stored:
    result = {"model": "m", "trace": "t", "seed": 0, "status": status, "wall_s": wall_s,
              "horizon": {"costs": {"forecast_s": forecast_s, "spot_check_s": spot_s}}}  # fmt: skip
    return Stored("m/t/seed0.json", result)


def test_the_cost_is_the_horizon_seconds_over_the_wall_seconds_of_the_same_runs() -> None:
    cost = horizon_cost([_stored(100.0, 6.0, 2.0), _stored(50.0, 1.0, 1.0)])
    assert cost["runs"] == 2 and cost["horizon_s"] == pytest.approx(10.0)
    assert cost["run_wall_s"] == pytest.approx(150.0)
    assert cost["share"] == pytest.approx(10.0 / 150.0)


def test_failed_runs_and_results_without_a_horizon_entry_do_not_count() -> None:
    older = Stored("m/t/seed1.json", {"status": "ok", "wall_s": 30.0})
    cost = horizon_cost([_stored(100.0, 6.0, 2.0), _stored(80.0, 9.0, 9.0, "failed"), older])
    assert cost["runs"] == 1 and cost["share"] == pytest.approx(0.08)
    assert horizon_cost([older]) == {}
