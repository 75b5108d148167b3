"""The horizon track on the board (README "Horizon track"): the table's columns, the steps the
results record, and how far ahead each model's free run beats the references' one-step
accuracy.

Per (model, trace) the horizon metrics are means over seeds (`Cell.horizon`), per model the
unweighted means over traces (`Row.horizon`), aggregated as the one-step metrics are
(`benchmark.reporting.assemble`).
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.reporting.boardtypes import Board, HorizonFall, Row
from benchmark.results.store import Stored

# the board's horizon table: accuracy at four steps, the correct prefix, mse_z at step 8
COLUMNS = ("acc@1", "acc@8", "acc@32", "acc@64", "prefix", "mse_z@8")
LOWER_IS_BETTER = ("mse_z", "total_err")
REFERENCES = ("markov", "majority")  # whose one-step accuracy a free run is measured against


def lower_is_better(metric: str) -> bool:
    """mse_z@h and total_err@h: lower is better; acc@h and prefix: higher."""
    return metric.split("@", 1)[0] in LOWER_IS_BETTER


def step_of(metric: str) -> int | None:
    """h of "acc@h" (None for "prefix")."""
    _, _, h = metric.partition("@")
    return int(h) if h.isdigit() else None


def horizon_steps(accepted: Sequence[Stored]) -> list[int]:
    """The steps the results record (their `horizon.steps`), in increasing order."""
    steps: set[int] = set()
    for stored in accepted:
        entry = stored.result.get("horizon")
        if stored.ok and isinstance(entry, dict) and isinstance(entry.get("steps"), list):
            steps.update(int(h) for h in entry["steps"] if isinstance(h, int))
    return sorted(steps)


def horizon_cost(accepted: Sequence[Stored]) -> dict[str, float | int]:
    """What the horizon track cost in the stored results (issue 14's target: under 10% of
    the leaderboard's run time): the seconds of its forecasts and spot checks summed over the
    ok results that record them, their runs' wall seconds, and the share; empty without any."""
    spent = wall = 0.0
    runs = 0
    for stored in accepted:
        entry, total = stored.result.get("horizon"), stored.result.get("wall_s")
        costs = entry.get("costs") if stored.ok and isinstance(entry, dict) else None
        if not isinstance(costs, dict) or not isinstance(total, int | float) or total <= 0:
            continue
        spent += float(costs.get("forecast_s", 0.0)) + float(costs.get("spot_check_s", 0.0))
        wall += float(total)
        runs += 1
    if not runs:
        return {}
    return {"runs": runs, "horizon_s": spent, "run_wall_s": wall, "share": spent / wall}


def _one_step_acc(rows: Sequence[Row], model: str, trace: str) -> float | None:
    """A reference's one-step accuracy at the origins (its acc@1, the same positions as every
    model's forecasts), else over all test positions."""
    row = next((r for r in rows if r.model == model), None)
    cell = row.per_trace.get(trace) if row else None
    if cell is None or cell.status != "ok":
        return None
    entry = cell.horizon.get("acc@1") or cell.metrics.get("acc")
    return entry.value if entry else None


def _first_below(row: Row, trace: str, level: float | None) -> int | None:
    if level is None:
        return None
    cell = row.per_trace[trace]
    accs = sorted(
        (h, entry.value)
        for metric, entry in cell.horizon.items()
        if metric.startswith("acc@") and (h := step_of(metric)) is not None
    )
    return next((h for h, value in accs if value < level), None)


def horizon_falls(rows: Sequence[Row], traces: Sequence[str]) -> list[HorizonFall]:
    """Per model with task forecasts and trace: the first recorded step whose accuracy is below
    markov's and majority's one-step accuracy at the same origins (None: not up to the last)."""
    out = []
    for row in rows:
        for trace in traces:
            cell = row.per_trace.get(trace)
            if cell is None or cell.status != "ok" or "acc@1" not in cell.horizon:
                continue
            markov, majority = (_one_step_acc(rows, m, trace) for m in REFERENCES)
            if markov is None and majority is None:
                continue
            out.append(
                HorizonFall(
                    row.model,
                    trace,
                    _first_below(row, trace, markov),
                    _first_below(row, trace, majority),
                )
            )
    return out


def fall_texts(board: Board) -> dict[str, dict[str, str]]:
    """Per model and trace, "h_markov / h_majority" (`> H` where a free run never falls below
    within the horizon): the how-far-ahead table of the README and the page."""
    beyond = f"> {max(board.horizon_steps, default=0)}"
    out: dict[str, dict[str, str]] = {}
    for fall in board.horizon_falls:
        steps = (fall.below_markov, fall.below_majority)
        text = " / ".join(beyond if h is None else str(h) for h in steps)
        out.setdefault(fall.model, {})[fall.trace] = text
    return out
