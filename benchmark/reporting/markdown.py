"""The board as leaderboard/README.md (README §6): one table per target (ranks with ties, the
ceilings, normalized scores), the significance of each rank, the latency budgets, then
warnings, failed runs, refused files and how the numbers are made.

Deterministic (no dates, no absolute paths), so that a golden test compares it byte for byte;
every name from a result file is escaped for Markdown tables.
"""

from __future__ import annotations

import math

from benchmark.reporting import texts
from benchmark.reporting.boardtypes import TASK_HISTORY, Board, Row
from benchmark.reporting.ceilings import TITLES, ceiling_value, kinds, mean_ceiling
from benchmark.reporting.format import (
    ARROW,
    CEILING,
    COST_TITLES,
    SHOWN_COSTS,
    TARGET_TITLES,
    cell_text,
    diff_text,
    fmt,
    interval_text,
    md_escape,
    spread_text,
    status_text,
)
from benchmark.reporting.horizon_view import COLUMNS, fall_texts
from benchmark.reporting.scheduler_view import scheduler_table, schedulers_of
from benchmark.reporting.tuning_gain import TABLE_HEADER as TUNING_HEADER
from benchmark.reporting.tuning_gain import table_rows as tuning_rows
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric, target_metrics

EXTRA = {"task": ("normalized", "normalized [95% CI]"), "delta": ("mse_ratio", "÷ best ref")}


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _model_label(model: Row) -> str:
    name = md_escape(model.model)
    if model.kind == "reference":
        name += " *(ref)*"
    if model.suspected_leak:
        name += " **⚠ suspected leak**"
    elif any(f.startswith("above") for c in model.per_trace.values() for f in c.flags):
        name += " †"
    return name


def _ceiling_rows(board: Board, n_metrics: int) -> list[list[str]]:
    rows = []
    for kind in kinds(board.ceiling):
        mean = mean_ceiling(board.ceiling, board.traces, kind)
        row = ["", f"**{TITLES[kind]}**", fmt(mean, CEILING), ""]
        row += [""] * (n_metrics + 1)  # the other metrics and the normalized score
        row += [fmt(ceiling_value(board.ceiling.get(t), kind), CEILING) for t in board.traces]
        rows.append(row + [""] * (len(SHOWN_COSTS) + 1))
        if kind == TASK_HISTORY and any(v is not None for v in board.headroom.values()):
            values = [board.headroom.get(t) for t in board.traces]
            mean = None if None in values else math.fsum(values) / len(values)  # type: ignore[arg-type]
            row = ["", "*headroom (ceiling − markov)*", fmt(mean, CEILING), ""]
            row += [""] * (n_metrics + 1)
            row += [fmt(v, CEILING) for v in values]
            rows.append(row + [""] * (len(SHOWN_COSTS) + 1))
    return rows


def transfer_section(board: Board) -> list[str]:
    """A holdout board's transfer view: holdout rank against shipped rank, Spearman's rho."""
    out = ["## Does the ranking transfer?", "", texts.TRANSFER, ""]
    for view in board.transfer:
        rho = f"{view.rho:.3f}" if view.rho is not None else f"none ({md_escape(view.reason)})"
        out += [
            f"### {TARGET_TITLES[view.target]}: Spearman's rho {rho}",
            "",
            f"Shipped ranks from `{md_escape(view.source)}`.",
            "",
        ]
        rows = [[md_escape(r.model), str(r.holdout), str(r.shipped)] for r in view.ranks]
        out += [md_table(["model", "holdout rank", "shipped rank"], rows), ""]
    return out


def _model_row(model: Row, board: Board, target: str) -> list[str]:
    metrics, main = target_metrics(target), main_metric(target)
    status = status_text(model.status)
    mean = model.mean.get(main)
    row = [model.rank_text(target), _model_label(model)]
    row += [status or interval_text(mean, main), "" if status else spread_text(mean, main)]
    for metric in metrics[1:]:
        entry = model.mean.get(metric)
        row.append("" if status or entry is None else fmt(entry.value, metric))
    extra = getattr(model, EXTRA[target][0])
    row.append("" if status else interval_text(extra, main if target == "task" else "ratio"))
    row += [cell_text(model.per_trace[t], main, target) for t in board.traces]
    row += [fmt(model.costs.get(c), c) for c in SHOWN_COSTS]
    return [*row, str(model.seeds)]


def target_table(board: Board, target: str) -> str:
    """One target: rank (with ties), the main metric's mean with its interval and seed spread,
    the other metrics, the normalized score (task) or the ratio to the best reference (delta),
    the main metric per trace (with its rank there), costs and seeds; ceiling rows first."""
    metrics, main = target_metrics(target), main_metric(target)
    arrow = ARROW[METRICS[main].higher_is_better]
    header = ["#", "model", f"{main} {arrow} [95% CI]", "seed spread"]
    header += [f"{m} {ARROW[METRICS[m].higher_is_better]}" for m in metrics[1:]]
    header.append(EXTRA[target][1])
    header += [f"{main}: {md_escape(t)}" for t in board.traces]
    header += [COST_TITLES[c] for c in SHOWN_COSTS] + ["seeds"]
    rows = _ceiling_rows(board, len(metrics) - 1) if target == "task" else []
    rows += [_model_row(model, board, target) for model in board.ordered(target)]
    return md_table(header, rows)


def significance_table(board: Board, target: str) -> str:
    """Each ranked model minus the next one below it and minus markov: paired 95% intervals on
    the mean over traces and per trace."""
    main = main_metric(target)
    header = ["#", "model", "mean: vs next", "mean: vs markov"]
    header += [f"{md_escape(t)}: vs next" for t in board.traces]
    rows = []
    for model in board.ordered(target):
        standing = model.standing.get(target)
        if standing is None:
            continue
        row = [standing.text, md_escape(model.model)]
        row += [diff_text(c, main, md_escape) for c in (standing.vs_next, standing.vs_markov)]
        for trace in board.traces:
            cell = model.per_trace[trace].standing.get(target)
            row.append(diff_text(cell.vs_next, main, md_escape) if cell else "")
        rows.append(row)
    return md_table(header, rows)


def budget_table(board: Board) -> str:
    """The best model within each online p50 budget, per target."""
    header = ["p50 budget", "best task model", "p50 µs", "acc", "mse_z", "best delta model",
              "p50 µs", "mse_z"]  # fmt: skip
    rows = []
    for budget in board.budgets:
        row = [f"≤ {budget.budget_us:g} µs"]
        for pick, scores in ((budget.task, ("acc", "mse_z")), (budget.delta, ("mse_z",))):
            if pick is None:
                row += ["none"] + [""] * (1 + len(scores))
            else:
                row += [md_escape(pick.model), fmt(pick.online_p50_us, "online_p50_us")]
                row += [fmt(getattr(pick, s), s) for s in scores]
        rows.append(row)
    return md_table(header, rows)


def horizon_table(board: Board) -> str:
    """Per model with horizon results: the horizon columns (means over traces, intervals)."""
    header = ["model", *COLUMNS]
    rows = []
    for model in sorted(board.models, key=lambda m: (-_value(m, "acc@1"), m.model)):
        if not model.horizon:
            continue
        rows.append([md_escape(model.model)] + [
            interval_text(model.horizon.get(c), c.split("@", 1)[0]) for c in COLUMNS
        ])  # fmt: skip
    return md_table(header, rows)


def _value(model: Row, metric: str) -> float:
    entry = model.horizon.get(metric)
    return entry.value if entry else -math.inf


def falls_table(board: Board) -> str:
    """Per model and trace: the first step below markov's / majority's one-step accuracy."""
    by_model = fall_texts(board)
    header = ["model (markov / majority)", *board.traces]
    rows = [[md_escape(m)] + [cells.get(t, "") for t in board.traces]
            for m, cells in sorted(by_model.items())]  # fmt: skip
    return md_table(header, rows)


def scheduler_section(board: Board) -> list[str]:
    """Per target: the means per scheduler with each model's place, and Spearman's rho."""
    out = ["## By scheduler", "", texts.SCHEDULERS, ""]
    for target in TARGETS:
        for view in board.scheduler_agreement:
            if view.target == target:
                rho = "none" if view.rho is None else f"{view.rho:.3f}"
                out += [
                    f"### {TARGET_TITLES[target]}: Spearman's rho {rho} ({view.first} vs "
                    f"{view.second}, {len(view.models)} models)",
                    "",
                ]
        header, rows = scheduler_table(board, target)
        table = [[_model_label(row), *cells] for row, cells in rows]
        out += [md_table(["model", *header], table), ""]
    return out


def markdown(board: Board) -> str:
    """leaderboard/README.md."""
    out = texts.intro(board, md_escape)
    for target in TARGETS:
        out += [f"## {TARGET_TITLES[target]}", "", target_table(board, target), ""]
        absent = [m.model for m in board.models if not m.shows(target)]
        if absent:
            out += [f"Not predicting {target}: {', '.join(md_escape(a) for a in absent)}.", ""]
    if board.ceiling:
        out += [texts.CEILINGS, ""]
    out += ["## Are the ranks significant?", "", texts.SIGNIFICANCE, ""]
    for target in TARGETS:
        out += [f"### {TARGET_TITLES[target]}", "", significance_table(board, target), ""]
    if board.transfer:
        out += transfer_section(board)
    if len(schedulers_of(board.models)) > 1:
        out += scheduler_section(board)
    if board.budgets:
        out += ["## Inside the scheduler's budget", "", texts.BUDGETS, "", budget_table(board), ""]
    if any(m.horizon for m in board.models):
        out += ["## Horizon track", "", texts.HORIZON, ""]
        cost = board.horizon_cost
        if cost:
            out += [
                f"Its cost: {cost['horizon_s']:,.0f} s of forecasts and spot checks in the "
                f"{cost['run_wall_s']:,.0f} s of run wall time of the {cost['runs']} stored "
                f"results that record it, {cost['share']:.1%}.",
                "",
            ]
        out += [horizon_table(board), ""]
        out += ["### How far ahead", "", texts.HORIZON_FALLS, "", falls_table(board), ""]
    if board.tuning:
        rows = [[md_escape(c) for c in row] for row in tuning_rows(board.tuning)]
        out += ["## Default and tuned", "", texts.TUNING, "", md_table(TUNING_HEADER, rows), ""]
    out += _warnings_and_marks(board)
    if board.failed:
        rows = [
            [md_escape(x) for x in (f.model, f.trace, f.seed, f.file, f.error)]
            for f in board.failed
        ]
        out += ["## Failed runs", "", md_table(["model", "trace", "seed", "file", "error"], rows)]
        out.append("")
    if board.refused:
        out += ["## Refused results", "", texts.REFUSED, ""]
        rows = [[md_escape(r.file), md_escape(r.reason)] for r in board.refused]
        out += [md_table(["file", "reason"], rows), ""]
    out += ["## How the numbers are made", ""]
    out += [f"- {line}" for line in texts.how(md_escape)]
    out += ["", "## Reproducibility", "", texts.REPRODUCIBILITY]
    return "\n".join([*out, ""])


def _warnings_and_marks(board: Board) -> list[str]:
    """Suspected leaks, cells above a ceiling that does not cover them, stale cells."""
    out = []
    if board.warnings:
        out += ["## Suspected leaks", ""] + [f"- {md_escape(w)}" for w in board.warnings] + [""]
    marks = [
        f"- † {md_escape(m.model)} on {md_escape(t)}: {md_escape(f)}"
        for m in board.models
        for t, c in m.per_trace.items()
        for f in c.flags
        if not f.startswith("suspected")
    ]
    marks += [
        f"- stale: {md_escape(m.model)} on {md_escape(t)}: {md_escape(c.reason)}"
        for m in board.models
        for t, c in m.per_trace.items()
        if c.reason
    ]
    return ["## Marks", "", *marks, ""] if marks else []
