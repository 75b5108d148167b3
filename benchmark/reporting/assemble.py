"""Accepted results -> `Board` (README §6): a pure function of the stored results, the data
manifest and the per-trace ceilings.

Aggregation (also stated in the generated README):

* per trace: the mean over seeds of each metric and of its 95% bootstrap interval's ends (the
  interval covers the test positions' sampling noise; the spread over seeds is `seed_std`);
* across traces: the unweighted mean of the per-trace values (README §5), with an interval of
  half-widths `sqrt(sum(h_i^2)) / k` (independent traces, normal approximation); given only when
  the model has a scored result on every trace, so that means are over the same traces;
* a failed run makes its (model, trace) cell `failed` (a model with one failed seed of three is
  failed there: the other seeds are not silently used instead); such a model gets no mean and no
  rank;
* costs are means over traces of the seed means: fit seconds, batch-1 online latency p50/p99.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from benchmark.data.splits import SPLIT_VERSION
from benchmark.reporting.boardtypes import (
    COSTS,
    Board,
    Cell,
    Failure,
    Interval,
    Refusal,
    Row,
    SeedMean,
)
from benchmark.results.store import Stored
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric, target_metrics


def model_kind(name: str) -> str:
    """reference (majority/markov/ewma), baseline (another registered model) or submission."""
    from benchmark.running.registry import registered
    from models import REFERENCE

    if name in REFERENCE:
        return "reference"
    return "baseline" if name in registered() else "submission"


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def finite(value: Any) -> bool:
    """A real, finite number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def seed_mean(results: Sequence[Stored], metric: str) -> SeedMean | None:
    """Mean over seeds of a metric's value and interval ends; None if any seed lacks it."""
    entries = [s.result.get("metrics", {}).get(metric) for s in results]
    if not entries or any(e is None or not finite(e.get("value")) for e in entries):
        return None
    values = [float(e["value"]) for e in entries]
    lows = [float(e["low"]) if finite(e.get("low")) else float(e["value"]) for e in entries]
    highs = [float(e["high"]) if finite(e.get("high")) else float(e["value"]) for e in entries]
    return SeedMean(
        _mean(values),
        _mean(lows),
        _mean(highs),
        seed_std=statistics.stdev(values) if len(values) > 1 else None,
    )


def trace_mean(cells: Sequence[Interval]) -> Interval:
    """Unweighted mean over traces; interval half-widths combined as independent."""
    k = len(cells)
    value = _mean([c.value for c in cells])
    down = math.sqrt(math.fsum((c.value - c.low) ** 2 for c in cells)) / k
    up = math.sqrt(math.fsum((c.high - c.value) ** 2 for c in cells)) / k
    return Interval(value, value - down, value + up)


def error_text(error: Any) -> str:
    """A failed run's error in one line: its type and the first line of its message."""
    if not isinstance(error, dict):
        return str(error or "unknown error")
    message = str(error.get("message", "")).strip().splitlines()
    first = message[0] if message else ""
    text = f"{error.get('type', 'Error')}: {first}" if first else str(error.get("type", "Error"))
    return text[:300]


def _cell(results: list[Stored], targets: Sequence[str]) -> Cell:
    cell = Cell("failed" if any(not s.ok for s in results) else "ok", [s.seed for s in results])
    if cell.status == "ok":
        for target in targets:
            for metric in target_metrics(target):
                entry = seed_mean(results, metric)
                if entry is not None:
                    cell.metrics[metric] = entry
        for cost in COSTS:
            values = [s.result.get("costs", {}).get(cost) for s in results]
            if values and all(finite(v) for v in values):
                cell.costs[cost] = _mean([float(v) for v in values])
    return cell


def _row(name: str, per_trace_results: dict[str, list[Stored]], traces: list[str]) -> Row:
    targets = sorted(
        {t for rs in per_trace_results.values() for s in rs for t in s.result.get("targets") or []}
    )
    per_trace: dict[str, Cell] = {}
    for trace in traces:
        results = sorted(per_trace_results.get(trace, []), key=lambda s: (s.seed, s.file))
        per_trace[trace] = _cell(results, targets) if results else Cell("missing")
    statuses = {c.status for c in per_trace.values()}
    status = "failed" if "failed" in statuses else "incomplete" if "missing" in statuses else "ok"
    row = Row(
        name,
        model_kind(name),
        targets,
        status,
        max((len(c.seeds) for c in per_trace.values()), default=0),
        per_trace,
    )
    if status == "ok" and traces:
        for target in targets:
            for metric in target_metrics(target):
                cells = [per_trace[t].metrics.get(metric) for t in traces]
                if all(c is not None for c in cells):
                    row.mean[metric] = trace_mean(cells)  # type: ignore[arg-type]
        for cost in COSTS:
            values = [per_trace[t].costs.get(cost) for t in traces]
            if all(v is not None for v in values):
                row.costs[cost] = _mean(values)  # type: ignore[arg-type]
    return row


def rank(rows: Sequence[Row]) -> None:
    """Rank the rows of each target by the mean of its main metric (1 = best; ties by name)."""
    for target in TARGETS:
        metric = main_metric(target)
        ranked = [m for m in rows if target in m.targets and metric in m.mean]
        ranked.sort(key=lambda m: (METRICS[metric].sort_key(m.mean[metric].value), m.model))
        for position, m in enumerate(ranked, 1):
            m.rank[target] = position


def make_board(
    accepted: Sequence[Stored],
    refused: Sequence[dict[str, Any]],
    manifest: dict[str, Any],
    ceilings: dict[str, dict[str, Any]] | None = None,
) -> Board:
    """The board of the accepted results on the manifest's traces."""
    traces = sorted(manifest.get("traces", {}))
    by_model: dict[str, dict[str, list[Stored]]] = {}
    for stored in accepted:
        by_model.setdefault(stored.model, {}).setdefault(stored.trace, []).append(stored)
    rows = [_row(name, by_model[name], traces) for name in sorted(by_model)]
    rank(rows)
    failed = [
        Failure(s.model, s.trace, s.result.get("seed"), error_text(s.result.get("error")))
        for name in sorted(by_model)
        for trace in traces
        for s in sorted(by_model[name].get(trace, []), key=lambda s: (s.seed, s.file))
        if not s.ok
    ]
    return Board(
        traces=traces,
        data_sha256={t: manifest.get("files", {}).get(f"traces/{t}.parquet") for t in traces},
        split_version=SPLIT_VERSION,
        models=rows,
        ceiling={t: ceilings[t] for t in traces if ceilings and t in ceilings},
        failed=failed,
        refused=[Refusal(**r) for r in refused],
        result_files=len(accepted) + len(refused),
    )
