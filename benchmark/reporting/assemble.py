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

import json
import math
import statistics
from collections.abc import Sequence
from typing import Any

from benchmark.data.capturemeta import scheduler_of
from benchmark.data.splits import SPLIT_VERSION
from benchmark.reporting.boardtypes import (
    COSTS,
    TASK_HISTORY,
    Board,
    Cell,
    Failure,
    Interval,
    Refusal,
    Row,
    SeedMean,
)
from benchmark.reporting.budget import budgets
from benchmark.reporting.ceilings import HEADROOM_BASELINE, headroom
from benchmark.reporting.evidence import Evidence
from benchmark.reporting.horizon_view import horizon_cost, horizon_falls, horizon_steps
from benchmark.reporting.scheduler_view import scheduler_agreement
from benchmark.reporting.significance import rank_board
from benchmark.reporting.trust import flag_leaks, mse_ratios, normalize
from benchmark.results.store import Stored, base_model, is_default_label
from benchmark.scoring.metrics import target_metrics


def model_facts(name: str) -> tuple[str, list[str]]:
    """(kind, tags): reference (tagged so), baseline (another registered model) or submission
    (tags unknown to the board: none); a default row has its model's."""
    from benchmark.running.registry import model_tags, registered

    name = base_model(name)
    if name not in registered():
        return "submission", []
    tags = sorted(model_tags(name))
    return ("reference" if "reference" in tags else "baseline"), tags


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


# Latencies are each a run's one pass of timed steps, and this machine kind runs at one of two
# speeds in phases seconds long (README "Latency budget"): as `kernel-oracle perf` takes the
# best of its passes, a model's latency over its runs (seeds, then traces) is the best run's;
# a slow phase or the other job's burst only raises a run's. Every other cost is a mean.
BEST_OF_RUNS = frozenset({"online_p50_us", "online_p99_us"})


def cost_over_runs(cost: str, values: Sequence[float]) -> float:
    """A cost over several runs' values: the lowest for a latency, else the mean."""
    return min(values) if cost in BEST_OF_RUNS else _mean(values)


def finite(value: Any) -> bool:
    """A real, finite number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def metric_entries(result: dict[str, Any], section: str = "metrics") -> dict[str, Any]:
    """A result's one-step metrics (`metrics`) or its horizon track's (`horizon`), by name."""
    found = result.get("metrics") if section == "metrics" else (result.get(section) or {})
    if section != "metrics" and isinstance(found, dict):
        found = found.get("metrics")
    return found if isinstance(found, dict) else {}


def _seed_values(
    results: Sequence[Stored], metric: str, section: str = "metrics"
) -> dict[int, float] | None:
    """Each seed's value of `metric`; None if any seed lacks it."""
    entries = [(s.seed, metric_entries(s.result, section).get(metric)) for s in results]
    if not entries or any(
        not isinstance(e, dict) or not finite(e.get("value")) for _, e in entries
    ):
        return None
    return {seed: float(e["value"]) for seed, e in entries}


def seed_mean(results: Sequence[Stored], metric: str, section: str = "metrics") -> SeedMean | None:
    """Mean over seeds of a metric's value and interval ends, with the seed spread; None if
    any seed lacks it. `section`: "metrics" (one step) or "horizon" (the horizon track)."""
    values = _seed_values(results, metric, section)
    if values is None:
        return None
    entries = [metric_entries(s.result, section)[metric] for s in results]
    lows = [float(e["low"]) if finite(e.get("low")) else float(e["value"]) for e in entries]
    highs = [float(e["high"]) if finite(e.get("high")) else float(e["value"]) for e in entries]
    seeds = list(values.values())
    several = len(seeds) > 1
    return SeedMean(
        _mean(seeds),
        _mean(lows),
        _mean(highs),
        seed_std=statistics.stdev(seeds) if several else None,
        seed_min=min(seeds) if several else None,
        seed_max=max(seeds) if several else None,
    )


def trace_mean(cells: Sequence[Interval], per_seed: Sequence[dict[int, float]]) -> SeedMean:
    """Unweighted mean over traces; interval half-widths combined as independent; the seed
    spread is that of the per-seed means over traces (when every trace has the same seeds)."""
    k = len(cells)
    value = _mean([c.value for c in cells])
    down = math.sqrt(math.fsum((c.value - c.low) ** 2 for c in cells)) / k
    up = math.sqrt(math.fsum((c.high - c.value) ** 2 for c in cells)) / k
    seeds = set(per_seed[0]) if per_seed else set()
    spread = None
    if len(seeds) > 1 and all(set(v) == seeds for v in per_seed):
        means = [_mean([v[seed] for v in per_seed]) for seed in sorted(seeds)]
        spread = (min(means), max(means))
    return SeedMean(
        value,
        value - down,
        value + up,
        seed_min=spread[0] if spread else None,
        seed_max=spread[1] if spread else None,
    )


def _commit(result: dict[str, Any]) -> str | None:
    """The code commit a result was made with (a `-dirty` mark dropped: which uncommitted
    changes a tree had is not recorded, so two dirty trees cannot be told apart either)."""
    commit = result.get("git_commit")
    return None if commit is None else str(commit).removesuffix("-dirty")


def _mixed(results: Sequence[Stored]) -> str | None:
    """Why the seeds of one cell cannot be averaged: other parameters or another code commit."""
    facts = (("parameters", lambda r: r.get("params")), ("code commits", _commit))
    for what, fact in facts:
        seen = {json.dumps(fact(s.result), sort_keys=True, default=str) for s in results}
        if len(seen) > 1:
            seeds = ", ".join(str(s.seed) for s in results)
            return f"seeds {seeds} used different {what}; re-run all seeds of this cell"
    return None


def error_text(error: Any) -> str:
    """A failed run's error in one line: its type and the first line of its message."""
    if not isinstance(error, dict):
        return str(error or "unknown error")
    message = str(error.get("message", "")).strip().splitlines()
    first = message[0] if message else ""
    text = f"{error.get('type', 'Error')}: {first}" if first else str(error.get("type", "Error"))
    return text[:300]


def _cell(results: list[Stored], targets: Sequence[str]) -> Cell:
    seeds = sorted({s.seed for s in results})
    if any(not s.ok for s in results):
        return Cell("failed", seeds)
    reason = _mixed(results)
    if reason is not None:
        return Cell("stale", seeds, reason=reason)
    cell = Cell("ok", seeds)
    for target in targets:
        for metric in target_metrics(target):
            entry = seed_mean(results, metric)
            if entry is not None:
                cell.metrics[metric] = entry
    for cost in COSTS:
        values = [s.result.get("costs", {}).get(cost) for s in results]
        if values and all(finite(v) for v in values):
            cell.costs[cost] = cost_over_runs(cost, [float(v) for v in values])
    for metric in sorted(metric_entries(results[0].result, "horizon")):
        entry = seed_mean(results, metric, "horizon")
        if entry is not None:
            cell.horizon[metric] = entry
    return cell


def _metric_means(
    per_trace: dict[str, Cell],
    per_trace_results: dict[str, list[Stored]],
    traces: Sequence[str],
    targets: Sequence[str],
) -> dict[str, SeedMean]:
    """Each metric's unweighted mean over `traces`, where every one of them has it."""
    means: dict[str, SeedMean] = {}
    for target in targets:
        for metric in target_metrics(target):
            cells = [per_trace[t].metrics.get(metric) for t in traces]
            if all(c is not None for c in cells):
                per_seed = [_seed_values(per_trace_results[t], metric) for t in traces]
                means[metric] = trace_mean(cells, per_seed)  # type: ignore[arg-type]
    return means


def by_scheduler(schedulers: dict[str, str], traces: Sequence[str]) -> dict[str, list[str]]:
    """The traces of each scheduler (in trace order), schedulers in name order."""
    groups: dict[str, list[str]] = {}
    for trace in traces:
        groups.setdefault(schedulers.get(trace, "unknown"), []).append(trace)
    return dict(sorted(groups.items()))


def _row(
    name: str,
    per_trace_results: dict[str, list[Stored]],
    traces: list[str],
    schedulers: dict[str, str] | None = None,
) -> Row:
    targets = sorted(
        {t for rs in per_trace_results.values() for s in rs for t in s.result.get("targets") or []}
    )
    per_trace: dict[str, Cell] = {}
    for trace in traces:
        results = sorted(per_trace_results.get(trace, []), key=lambda s: (s.seed, s.file))
        per_trace[trace] = _cell(results, targets) if results else Cell("missing")
    statuses = {c.status for c in per_trace.values()}
    status = "failed" if "failed" in statuses else "ok" if statuses == {"ok"} else "incomplete"
    kind, tags = model_facts(name)
    seeds = max((len(c.seeds) for c in per_trace.values()), default=0)
    row = Row(name, kind, targets, status, seeds, per_trace, tags=tags)
    if status == "ok" and traces:
        row.mean = _metric_means(per_trace, per_trace_results, traces, targets)
        for cost in COSTS:
            values = [per_trace[t].costs.get(cost) for t in traces]
            if all(v is not None for v in values):
                row.costs[cost] = cost_over_runs(cost, values)  # type: ignore[arg-type]
        for metric in per_trace[traces[0]].horizon:
            cells = [per_trace[t].horizon.get(metric) for t in traces]
            if all(c is not None for c in cells):
                per_seed = [_seed_values(per_trace_results[t], metric, "horizon") for t in traces]
                row.horizon[metric] = trace_mean(cells, per_seed)  # type: ignore[arg-type]
        groups = by_scheduler(schedulers or {}, traces)
        if len(groups) > 1:  # one scheduler's means would only repeat the overall ones
            row.mean_by_scheduler = {
                name: _metric_means(per_trace, per_trace_results, group, targets)
                for name, group in groups.items()
            }
    return row


def make_board(
    accepted: Sequence[Stored],
    refused: Sequence[dict[str, Any]],
    manifest: dict[str, Any],
    ceilings: dict[str, dict[str, dict[str, Any]]] | None = None,
    evidence: dict[tuple[str, str], Evidence] | None = None,
) -> Board:
    """The board of the accepted results on the manifest's traces; `evidence` (per (model,
    trace) cell, from the stored predictions) makes the comparisons paired.

    Default rows (`<model>.default`, README §6) get every number but no rank: they sit in
    `Board.default_models`, beside their tuned rows, and are left out of the budget table."""
    traces = sorted(manifest.get("traces", {}))
    schedulers = {t: scheduler_of(manifest["traces"][t].get("kernel")) for t in traces}
    by_model = group(accepted)
    every = [_row(name, by_model[name], traces, schedulers) for name in sorted(by_model)]
    rows = [r for r in every if not is_default_label(r.model)]
    defaults = [r for r in every if is_default_label(r.model)]
    ceiling = {t: by_kind(ceilings[t]) for t in traces if ceilings and t in ceilings}
    evidence = evidence or {}
    rank_board(rows, traces, evidence)
    warnings = flag_leaks(every, ceiling)
    normalize(every, traces, ceiling, evidence)
    mse_ratios(every, traces, evidence)
    with_tuned = {base_model(r.model) for r in defaults}
    for row in every:
        row.variant = "default" if row in defaults else "tuned" if row.model in with_tuned else ""
    failed = [
        Failure(s.model, s.trace, s.result.get("seed"), error_text(s.result.get("error")), s.file)
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
        default_models=defaults,
        ceiling=ceiling,
        failed=failed,
        refused=[Refusal(**r) for r in refused],
        result_files=len(accepted) + len(refused),
        budgets=budgets(rows),
        horizon_steps=horizon_steps(accepted),
        horizon_falls=horizon_falls(rows, traces),
        horizon_cost=horizon_cost(accepted),
        warnings=warnings,
        headroom=headroom(ceiling, _baseline_acc(rows, traces), traces),
        schedulers=schedulers,
        scheduler_agreement=scheduler_agreement(rows),
    )


def _baseline_acc(rows: Sequence[Row], traces: Sequence[str]) -> dict[str, float | None]:
    """The headroom baseline's (markov's) test accuracy per trace, where its cell is ok."""
    row = next((r for r in rows if r.model == HEADROOM_BASELINE), None)
    out: dict[str, float | None] = {}
    for trace in traces:
        cell = row.per_trace.get(trace) if row else None
        entry = cell.metrics.get("acc") if cell and cell.status == "ok" else None
        out[trace] = entry.value if entry else None
    return out


def by_kind(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A trace's ceilings by kind; one flat entry (`{"max_predictability": ...}`, the form
    before there were two) is its task-history ceiling."""
    if "max_predictability" in entry:
        return {TASK_HISTORY: dict(entry)}
    return {k: dict(v) for k, v in entry.items() if isinstance(v, dict)}


def group(accepted: Sequence[Stored]) -> dict[str, dict[str, list[Stored]]]:
    """Accepted results by model, then trace."""
    by_model: dict[str, dict[str, list[Stored]]] = {}
    for stored in accepted:
        by_model.setdefault(stored.model, {}).setdefault(stored.trace, []).append(stored)
    return by_model
