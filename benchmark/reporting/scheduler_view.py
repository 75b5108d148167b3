"""The board's scheduler dimension (issue 15): per model, the means over each scheduler's traces
(the EEVDF traces of kernel 6.18 and the CFS track's, README "CFS track") beside the overall
mean, and whether the models' order on one scheduler is their order on the other.

`Row.mean_by_scheduler` is filled by `assemble` (the same unweighted means over traces as the
overall ones, restricted to one scheduler's traces); this module compares them: Spearman's rho
of the per-scheduler means of each target's main metric over the ranked models that have both
(`transfer.spearman`: average ranks for ties; no rho below `MIN_MODELS` models).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from benchmark.reporting.boardtypes import Board, Row, SchedulerAgreement
from benchmark.reporting.format import interval_text
from benchmark.reporting.transfer import MIN_MODELS, spearman
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric


def schedulers_of(rows: Sequence[Row]) -> list[str]:
    """The schedulers any row has means for, in name order."""
    return sorted({s for r in rows for s in r.mean_by_scheduler})


def scheduler_agreement(rows: Sequence[Row]) -> list[SchedulerAgreement]:
    """Per target and pair of schedulers: rho over the models with a mean on both."""
    out = []
    for target in TARGETS:
        metric = main_metric(target)
        for first, second in combinations(schedulers_of(rows), 2):
            both = [
                r
                for r in rows
                if target in r.targets
                and metric in r.mean_by_scheduler.get(first, {})
                and metric in r.mean_by_scheduler.get(second, {})
            ]  # fmt: skip
            models = sorted(r.model for r in both)
            pick = {r.model: r for r in both}
            rho = None
            if len(models) >= MIN_MODELS:
                rho = spearman(
                    [pick[m].mean_by_scheduler[first][metric].value for m in models],
                    [pick[m].mean_by_scheduler[second][metric].value for m in models],
                )
            out.append(SchedulerAgreement(target, metric, first, second, models, rho))
    return out


def scheduler_ranks(board: Board, target: str, scheduler: str) -> dict[str, int]:
    """model -> its place (1 = best, ties broken by name) by the mean of `target`'s main
    metric over `scheduler`'s traces, among the models that have one."""
    metric = METRICS[main_metric(target)]
    have = [
        r for r in board.models
        if target in r.targets and metric.name in r.mean_by_scheduler.get(scheduler, {})
    ]  # fmt: skip
    have.sort(key=lambda r: (metric.sort_key(r.mean_by_scheduler[scheduler][metric.name].value),
                             r.model))  # fmt: skip
    return {r.model: i + 1 for i, r in enumerate(have)}


def scheduler_table(board: Board, target: str) -> tuple[list[str], list[tuple[Row, list[str]]]]:
    """The "By scheduler" table of `target` for the README and the page: the header after the
    model column, and per row with per-scheduler means its cells (all-traces mean, then each
    scheduler's mean and place); each caller writes the model column its own way."""
    main = main_metric(target)
    schedulers = schedulers_of(board.models)
    places = {s: scheduler_ranks(board, target, s) for s in schedulers}
    header = [f"{main}: all traces"]
    for name in schedulers:
        count = sum(1 for t in board.traces if board.schedulers.get(t, "unknown") == name)
        header += [f"{main}: {name} ({count} trace{'' if count == 1 else 's'})", f"place on {name}"]
    rows = []
    for row in board.ordered(target):
        if not row.mean_by_scheduler:
            continue
        cells = [interval_text(row.mean.get(main), main)]
        for name in schedulers:
            entry = row.mean_by_scheduler.get(name, {}).get(main)
            cells += [interval_text(entry, main), str(places[name].get(row.model, ""))]
        rows.append((row, cells))
    return header, rows
