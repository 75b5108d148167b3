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


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (prefixed with `'`, OWASP's rule)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _interval(entry: Any) -> list[str]:
    return [_num(getattr(entry, k, None)) for k in ("value", "low", "high")]


def csv_text(board: Board) -> str:
    """One row per model: ranks (with ties), means with interval ends, normalized score and
    mse_z ratio, the paired difference from the next model, per-trace status and metrics,
    costs."""
    metrics = [m for t in TARGETS for m in target_metrics(t)]
    header = ["model", "kind", "status", "targets", "rank_task", "rank_delta", "seeds"]
    header += ["tied_task", "tied_delta", "suspected_leak"]
    for metric in metrics:
        header += [metric, f"{metric}_low", f"{metric}_high"]
    header += ["normalized", "normalized_low", "normalized_high"]
    header += ["mse_ratio", "mse_ratio_low", "mse_ratio_high"]
    for target in TARGETS:
        header += [f"vs_next_{target}", f"vs_next_{target}_low", f"vs_next_{target}_high"]
    for trace in board.traces:
        header += [f"status:{trace}"] + [f"{m}:{trace}" for m in metrics]
        header += [f"rank_{t}:{trace}" for t in TARGETS]
    header += list(COSTS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for model in [*board.models, *board.default_models]:
        row = [
            csv_cell(model.model),
            model.kind,
            model.status,
            "+".join(model.targets),
            model.rank.get("task", ""),
            model.rank.get("delta", ""),
            model.seeds,
        ]
        row += [_flag(model.standing.get(t)) for t in TARGETS] + [str(model.suspected_leak)]
        for metric in metrics:
            row += _interval(model.mean.get(metric))
        row += _interval(model.normalized) + _interval(model.mse_ratio)
        for target in TARGETS:
            standing = model.standing.get(target)
            row += _interval(standing.vs_next.diff if standing and standing.vs_next else None)
        for trace in board.traces:
            cell = model.per_trace[trace]
            row.append(cell.status)
            row += [_num(getattr(cell.metrics.get(m), "value", None)) for m in metrics]
            row += [getattr(cell.standing.get(t), "text", "") for t in TARGETS]
        row += [_num(model.costs.get(c)) for c in COSTS]
        writer.writerow(row)
    return buffer.getvalue()


def _flag(standing: Any) -> str:
    return "" if standing is None else str(standing.tied)


def json_text(board: Board) -> str:
    """leaderboard.json: standard JSON (no NaN), keys sorted."""
    return (
        json.dumps(board.to_json(), indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False)
        + "\n"
    )
