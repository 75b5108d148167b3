"""The board as leaderboard.csv (one row per model) and leaderboard.json (`Board.to_json`)."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from benchmark.reporting.boardtypes import COSTS, Board
from benchmark.scoring.metrics import TARGETS, target_metrics


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value))


def csv_text(board: Board) -> str:
    """One row per model: means (with interval ends), per-trace status and main metrics, costs."""
    metrics = [m for t in TARGETS for m in target_metrics(t)]
    header = ["model", "kind", "status", "targets", "rank_task", "rank_delta", "seeds"]
    for metric in metrics:
        header += [metric, f"{metric}_low", f"{metric}_high"]
    for trace in board.traces:
        header += [f"status:{trace}"] + [f"{m}:{trace}" for m in metrics]
    header += list(COSTS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for model in board.models:
        row = [
            model.model,
            model.kind,
            model.status,
            "+".join(model.targets),
            model.rank.get("task", ""),
            model.rank.get("delta", ""),
            model.seeds,
        ]
        for metric in metrics:
            entry = model.mean.get(metric)
            row += [_num(getattr(entry, k, None)) for k in ("value", "low", "high")]
        for trace in board.traces:
            cell = model.per_trace[trace]
            row.append(cell.status)
            row += [_num(getattr(cell.metrics.get(m), "value", None)) for m in metrics]
        row += [_num(model.costs.get(c)) for c in COSTS]
        writer.writerow(row)
    return buffer.getvalue()


def json_text(board: Board) -> str:
    """leaderboard.json: standard JSON (no NaN), keys sorted."""
    return (
        json.dumps(board.to_json(), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
        + "\n"
    )
