"""Scores a reader can trust (README §5): which ceiling bounds which model, suspected leaks, the
normalized score and the mse_z ratio to the best reference predictor.

* Ceilings: the task-history one (LZ + Fano) bounds models that see the task sequence alone
  (tagged `task-only`); the side-information one bounds every model. A model whose acc interval
  lies entirely above a ceiling that covers its inputs (its low end above the ceiling's high
  end, or its value when it has no interval) is a suspected leak: a warning names model and
  trace, and its row is marked. Above a ceiling that does not cover its inputs, it is marked
  as such, never called a leak.
* Normalized score: `(acc - acc_markov) / (C - acc_markov)`, the share of the gap from markov
  to the ceiling `C` that covers every model (the side-information one; the task-history one
  where that is missing), per trace, with the interval of its paired draws; on the mean, the
  mean over traces (given when every trace has one).
* mse_z ratio: a model's mse_z over the lowest mse_z of the reference predictors on that trace
  (a ratio to a naive baseline, as GIFT-Eval reports); on the mean, the geometric mean over
  traces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmark.reporting.boardtypes import (
    SIDE_INFORMATION,
    TASK_HISTORY,
    Interval,
    Row,
    SeedMean,
)
from benchmark.reporting.evidence import Evidence
from benchmark.scoring.bootstrap import percentile_interval

LABELS = {TASK_HISTORY: "task-history", SIDE_INFORMATION: "side-information"}
TASK_ONLY = "task-only"
MARKOV = "markov"


def covers(kind: str, row: Row) -> bool:
    """Whether the ceiling `kind` bounds what `row`'s model sees."""
    return kind == SIDE_INFORMATION or (kind == TASK_HISTORY and TASK_ONLY in row.tags)


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def ceiling_bound(entry: dict[str, Any] | None) -> tuple[float, float] | None:
    """(value, upper end) of a ceiling entry: its max predictability and interval's high end."""
    value = _number((entry or {}).get("max_predictability"))
    if value is None:
        return None
    high = _number((entry or {}).get("high"))
    return value, max(value, high) if high is not None else value


def covering_ceiling(ceilings: dict[str, dict[str, Any]]) -> float | None:
    """The ceiling that covers every model (side information), else the task-history one."""
    for kind in (SIDE_INFORMATION, TASK_HISTORY):
        bound = ceiling_bound(ceilings.get(kind))
        if bound is not None:
            return bound[0]
    return None


def flag_leaks(rows: Sequence[Row], ceilings: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Mark each ok task cell above a ceiling; returns the suspected-leak warnings."""
    warnings = []
    for row in rows:
        for trace, cell in row.per_trace.items():
            acc = cell.metrics.get("acc") if cell.status == "ok" else None
            for kind, entry in sorted(ceilings.get(trace, {}).items()) if acc else ():
                bound = ceiling_bound(entry)
                low = acc.low if math.isfinite(acc.low) else acc.value  # type: ignore[union-attr]
                if bound is None or not low > bound[1]:
                    continue
                shown = f"acc {acc.value:.4f} [{acc.low:.4f}, {acc.high:.4f}]"  # type: ignore[union-attr]
                ceiling = f"the {LABELS.get(kind, kind)} ceiling {bound[0]:.4f}"
                if covers(kind, row):
                    cell.flags.append(f"suspected leak: {shown} lies above {ceiling}")
                    row.suspected_leak = True
                    warnings.append(
                        f"suspected leak: {row.model} on {trace}: {shown} lies above {ceiling}, "
                        "which covers its inputs"
                    )
                else:
                    cell.flags.append(
                        f"above {ceiling}, which does not cover this model's inputs (not a leak)"
                    )
    return warnings


def _interval(value: float, draws: np.ndarray | None) -> Interval:
    low, high = percentile_interval(draws) if draws is not None else (math.nan, math.nan)
    return Interval(value, low, high)


def _ok(row: Row, trace: str, metric: str) -> SeedMean | None:
    cell = row.per_trace[trace]
    return cell.metrics.get(metric) if cell.status == "ok" else None


def _pair(
    evidence: dict[tuple[str, str], Evidence], a: str, b: str, trace: str, metric: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """The draws of `a` and `b` on `trace` when both are stored on the same positions."""
    ea, eb = evidence.get((a, trace)), evidence.get((b, trace))
    if ea is None or eb is None or not np.array_equal(ea.positions, eb.positions):
        return None
    da, db = ea.draws.get(metric), eb.draws.get(metric)
    return (da, db) if da is not None and db is not None else None


def _mean_interval(values: list[float], draws: list[np.ndarray | None], geometric: bool):
    """The (arithmetic or geometric) mean over traces, with the interval of the mean's draws."""
    if geometric:
        logs = [
            np.log(np.maximum(v, 1e-300)) for v in [np.asarray(values), *draws] if v is not None
        ]
        value = float(np.exp(np.mean(logs[0])))
        together = None if any(d is None for d in draws) else np.exp(np.mean(logs[1:], axis=0))
        return _interval(value, together)
    together = None if any(d is None for d in draws) else np.mean(draws, axis=0)
    return _interval(float(np.mean(values)), together)


def normalize(
    rows: Sequence[Row],
    traces: Sequence[str],
    ceilings: dict[str, dict[str, dict[str, Any]]],
    evidence: dict[tuple[str, str], Evidence],
) -> None:
    """Fill each task row's normalized score per trace and on the mean."""
    markov = next((r for r in rows if r.model == MARKOV), None)
    for row in rows if markov is not None else ():
        values, draws = [], []
        for trace in traces:
            acc, base = _ok(row, trace, "acc"), _ok(markov, trace, "acc")  # type: ignore[arg-type]
            ceiling = covering_ceiling(ceilings.get(trace, {}))
            if acc is None or base is None or ceiling is None or ceiling <= base.value:
                continue
            pair = _pair(evidence, row.model, MARKOV, trace, "acc")
            d = (pair[0] - pair[1]) / (ceiling - pair[1]) if pair else None
            cell = row.per_trace[trace]
            cell.normalized = _interval((acc.value - base.value) / (ceiling - base.value), d)
            values.append(cell.normalized.value)
            draws.append(d)
        if len(values) == len(traces) and "acc" in row.mean:
            row.normalized = _mean_interval(values, draws, geometric=False)


def mse_ratios(
    rows: Sequence[Row], traces: Sequence[str], evidence: dict[tuple[str, str], Evidence]
) -> None:
    """Fill each delta row's mse_z ratio to the best reference predictor, per trace and on the
    mean (geometric)."""
    references = [r for r in rows if r.kind == "reference"]
    for row in rows:
        values, draws = [], []
        for trace in traces:
            scored = [(e.value, r.model) for r in references if (e := _ok(r, trace, "mse_z"))]
            mse = _ok(row, trace, "mse_z")
            if mse is None or not scored or min(scored)[0] <= 0:
                continue
            best_value, best = min(scored)
            pair = _pair(evidence, row.model, best, trace, "mse_z")
            cell = row.per_trace[trace]
            cell.mse_ratio = _interval(mse.value / best_value, pair[0] / pair[1] if pair else None)
            values.append(cell.mse_ratio.value)
            draws.append(pair[0] / pair[1] if pair else None)
        if len(values) == len(traces) and "mse_z" in row.mean:
            row.mse_ratio = _mean_interval(values, draws, geometric=True)
