"""The board as one self-contained, sortable HTML page, index.html (README §6).

Inline CSS and JS, no external resource; every name from a result file is HTML-escaped, so a
model named `<script>...` shows as text. Deterministic, for the golden test.
"""

from __future__ import annotations

import math
from typing import Any

from benchmark.reporting.boardtypes import Board, Interval, Row
from benchmark.reporting.ceilings import TITLES, ceiling_value, kinds
from benchmark.reporting.format import (
    ARROW,
    CEILING,
    COST_TITLES,
    SHOWN_COSTS,
    cell_text,
    fmt,
    status_text,
)
from benchmark.reporting.format import html_escape as _e
from benchmark.reporting.page_assets import CSS, JS
from benchmark.reporting.texts import REPRODUCIBILITY
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric, target_metrics


def _td(value: Any, key: str, entry: Interval | None = None, text: str | None = None) -> str:
    """A numeric cell: data-v holds the full value for sorting, the text the rounded one (or
    `text`, when given with a value, e.g. a rank `2=`)."""
    if value is None:
        return f'<td data-v="">{_e(text or "")}</td>'
    shown = _e(text if text is not None else fmt(value, key))
    if entry is not None and fmt(entry.low, key) and fmt(entry.high, key):
        shown += f" <small>[{_e(fmt(entry.low, key))}, {_e(fmt(entry.high, key))}]</small>"
    return f'<td data-v="{_e(repr(float(value)))}">{shown}</td>'


def _text_td(text: str, css: str = "text") -> str:
    return f'<td class="{css}" data-v="{_e(text)}">{_e(text)}</td>'


EXTRA = {"task": ("normalized", "normalized ↑"), "delta": ("mse_ratio", "÷ best ref ↓")}


def _columns(board: Board) -> list[tuple[str, str, str, str]]:
    """(key, title, type, better) of every column of the board table."""
    columns = [
        ("rank_task", "# task", "number", "lower"),
        ("model", "model", "text", "text"),
        ("kind", "kind", "text", "text"),
    ]
    for target in TARGETS:
        if target == "delta":
            columns.append(("rank_delta", "# delta", "number", "lower"))
        for metric in target_metrics(target):
            better = METRICS[metric].direction
            columns.append((metric, f"{metric} {ARROW[better == 'higher']}", "number", better))
        key, title = EXTRA[target]
        columns.append((key, title, "number", "higher" if target == "task" else "lower"))
    for target in TARGETS:
        main = main_metric(target)
        better = METRICS[main].direction
        for trace in board.traces:
            columns.append((f"{main}:{trace}", f"{main} {trace}", "number", better))
    for cost in SHOWN_COSTS:
        columns.append((cost, COST_TITLES[cost], "number", "lower"))
    columns.append(("seeds", "seeds", "number", "higher"))
    columns.append(("flags", "marks", "text", "text"))
    return columns


def _target_cells(model: Row, target: str) -> list[str]:
    """The mean metrics of one target, then its normalized score or mse_z ratio."""
    main, status = main_metric(target), status_text(model.status)
    cells = []
    for metric in target_metrics(target):
        if not model.shows(target):
            cells.append(_td(None, metric))
        elif status:
            cells.append(_td(None, metric, text=status if metric == main else ""))
        else:
            entry = model.mean.get(metric)
            value = entry.value if entry else None
            cells.append(_td(value, metric, entry if metric == main else None))
    extra = getattr(model, EXTRA[target][0])
    key = main if target == "task" else "ratio"
    cells.append(_td(extra.value if extra else None, key, extra))
    return cells


def _row(model: Row, board: Board) -> str:
    def rank(target: str) -> str:
        return _td(model.rank.get(target), "rank", text=model.rank_text(target))

    cells = [rank("task"), _text_td(model.model, "name"), _text_td(model.kind)]
    for target in TARGETS:
        if target == "delta":
            cells.append(rank("delta"))
        cells += _target_cells(model, target)
    for target in TARGETS:
        main = main_metric(target)
        for trace in board.traces:
            cell = model.per_trace[trace]
            entry = cell.metrics.get(main) if cell.status == "ok" else None
            text = cell_text(cell, main, target) if model.shows(target) else ""
            cells.append(_td(entry.value if entry else None, main, text=text))
    for cost in SHOWN_COSTS:
        cells.append(_td(model.costs.get(cost), cost))
    cells.append(_td(model.seeds, "seeds"))
    flags = sorted({f for c in model.per_trace.values() for f in c.flags})
    cells.append(_text_td("; ".join(flags)))
    classes = " ".join(c for c in (model.kind, model.status) if c)
    classes += " suspected-leak" if model.suspected_leak else ""
    return f'<tr class="{_e(classes)}" data-model="{_e(model.model)}">{"".join(cells)}</tr>'


def _table(table_id: str, header: list[str], rows: list[list[str]]) -> str:
    """A plain table of escaped text cells (the first column left-aligned as a name)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="text">{_e(c)}</td>' for c in row) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _extra_tables(board: Board) -> list[str]:
    """Ceilings, latency budgets, suspected leaks, failed runs and refused files."""
    extra = []
    if board.ceiling:
        present = kinds(board.ceiling)
        rows = [
            [t] + [fmt(ceiling_value(board.ceiling.get(t), k), CEILING) for k in present]
            for t in board.traces
        ]
        covers = "; ".join(f"{TITLES[k]}: {_covers(board, k)}" for k in present)
        extra.append(
            '<h2>Predictability ceilings</h2><p class="note">The best top-1 accuracy a model '
            f"could reach on each trace's test rows, each for what it covers ({_e(covers)}).</p>"
            + _table("ceiling", ["trace", *(TITLES[k] for k in present)], rows)
        )
    if board.budgets:
        rows = [
            [f"≤ {b.budget_us:g} µs", *_pick_cells(b.task, "acc"), *_pick_cells(b.delta, "mse_z")]
            for b in board.budgets
        ]
        header = ["p50 budget", "best task model", "acc", "best delta model", "mse_z"]
        extra.append("<h2>Inside the scheduler's budget</h2>" + _table("budgets", header, rows))
    if board.warnings:
        rows = [[w] for w in board.warnings]
        extra.append("<h2>Suspected leaks</h2>" + _table("leaks", ["warning"], rows))
    if board.failed:
        rows = [[f.model, f.trace, str(f.seed), f.error] for f in board.failed]
        header = ["model", "trace", "seed", "error"]
        extra.append("<h2>Failed runs</h2>" + _table("failed", header, rows))
    if board.refused:
        rows = [[r.file, r.reason] for r in board.refused]
        extra.append(
            '<h2>Refused results</h2><p class="note">Stale or unreadable result files: not '
            "scored.</p>" + _table("refused", ["file", "reason"], rows)
        )
    extra.append(f'<h2>Reproducibility</h2><p class="note">{_e(REPRODUCIBILITY)}</p>')
    return extra


def _covers(board: Board, kind: str) -> str:
    """What the ceiling `kind` covers, as its first trace states it."""
    return next((str(e[kind].get("covers", "")) for e in board.ceiling.values() if kind in e), "")


def _pick_cells(pick: Any, metric: str) -> list[str]:
    """A budget's best model (with its p50) and its score on `metric`."""
    if pick is None:
        return ["none", ""]
    p50 = fmt(pick.online_p50_us, "online_p50_us")
    return [f"{pick.model} ({p50} µs)", fmt(getattr(pick, metric), metric)]


def html_page(board: Board) -> str:
    """index.html: the board table (sortable), then the ceiling, failed and refused tables."""
    head = "".join(
        f'<th data-key="{_e(k)}" data-type="{t}" data-better="{b}"'
        f"{' class=' + chr(34) + 'name' + chr(34) if k == 'model' else ''}>{_e(title)}</th>"
        for k, title, t, b in _columns(board)
    )
    models = sorted(
        board.models,
        key=lambda m: (m.rank.get("task", math.inf), m.rank.get("delta", math.inf), m.model),
    )
    body_rows = [_row(model, board) for model in models]
    trace_list = ", ".join(_e(t) for t in board.traces)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>kernel-oracle leaderboard</title>"
        f"<style>{CSS}</style></head><body>\n"
        "<h1>kernel-oracle leaderboard</h1>\n"
        f'<p class="note">Predicting the Linux scheduler\'s next move on {len(board.traces)} '
        f"trace(s): {trace_list}. Means over traces with 95% bootstrap intervals; click a column "
        "to sort (best first; again to reverse), or link to <code>#sort=KEY&amp;dir=asc</code>. "
        f"Built from {_e(board.result_files)} result files.</p>\n"
        f'<table id="board"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body_rows)
        + "\n</tbody></table>\n"
        + "\n".join(_extra_tables(board))
        + f"\n<script>{JS}</script>\n</body></html>\n"
    )
