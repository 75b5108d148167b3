"""The board as one self-contained, sortable HTML page, index.html (README §6).

Inline CSS and JS, no external resource; every name from a result file is HTML-escaped, so a
model named `<script>...` shows as text. Deterministic, for the golden test.
"""

from __future__ import annotations

import math
from typing import Any

from benchmark.reporting.boardtypes import Board, Interval, Row
from benchmark.reporting.ceilings import ceiling_value
from benchmark.reporting.format import (
    ARROW,
    CEILING,
    COST_TITLES,
    SHOWN_COSTS,
    fmt,
    status_text,
)
from benchmark.reporting.format import html_escape as _e
from benchmark.reporting.page_assets import CSS, JS
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric, target_metrics


def _td(value: Any, key: str, entry: Interval | None = None, text: str | None = None) -> str:
    """A numeric cell: data-v holds the full value for sorting, the text the rounded one."""
    if text is not None:
        return f'<td data-v="">{_e(text)}</td>'
    if value is None:
        return '<td data-v=""></td>'
    shown = _e(fmt(value, key))
    if entry is not None:
        shown += f" <small>[{_e(fmt(entry.low, key))}, {_e(fmt(entry.high, key))}]</small>"
    return f'<td data-v="{_e(repr(float(value)))}">{shown}</td>'


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
    for target in TARGETS:
        main = main_metric(target)
        better = METRICS[main].direction
        for trace in board.traces:
            columns.append((f"{main}:{trace}", f"{main} {trace}", "number", better))
    for cost in SHOWN_COSTS:
        columns.append((cost, COST_TITLES[cost], "number", "lower"))
    columns.append(("seeds", "seeds", "number", "higher"))
    return columns


def _row(model: Row, board: Board) -> str:
    status = status_text(model.status)
    cells = [
        _td(model.rank.get("task"), "rank"),
        f'<td class="name" data-v="{_e(model.model)}">{_e(model.model)}</td>',
        f'<td class="text" data-v="{_e(model.kind)}">{_e(model.kind)}</td>',
    ]
    for target in TARGETS:
        if target == "delta":
            cells.append(_td(model.rank.get("delta"), "rank"))
        main = main_metric(target)
        for metric in target_metrics(target):
            if not model.shows(target):
                cells.append(_td(None, metric))
            elif status:
                cells.append(_td(None, metric, text=status if metric == main else ""))
            else:
                entry = model.mean.get(metric)
                value = entry.value if entry else None
                cells.append(_td(value, metric, entry if metric == main else None))
    for target in TARGETS:
        main = main_metric(target)
        for trace in board.traces:
            cell = model.per_trace[trace]
            if not model.shows(target):
                cells.append(_td(None, main))
            elif cell.status == "failed":
                cells.append(_td(None, main, text="failed"))
            elif cell.status == "missing":
                cells.append(_td(None, main, text="—"))
            else:
                entry = cell.metrics.get(main)
                cells.append(_td(entry.value if entry else None, main))
    for cost in SHOWN_COSTS:
        cells.append(_td(model.costs.get(cost), cost))
    cells.append(_td(model.seeds, "seeds"))
    classes = " ".join(c for c in (model.kind, model.status) if c)
    return f'<tr class="{_e(classes)}" data-model="{_e(model.model)}">{"".join(cells)}</tr>'


def _extra_tables(board: Board) -> list[str]:
    """The ceiling, failed-runs and refused-files sections under the board table."""
    extra = []
    if board.ceiling:
        rows = "".join(
            f'<tr><td class="name">{_e(t)}</td>'
            f"<td>{_e(fmt(ceiling_value(board.ceiling.get(t)), CEILING))}</td></tr>"
            for t in board.traces
        )
        extra.append(
            '<h2>Predictability ceiling</h2><p class="note">The best top-1 accuracy any model '
            "could reach on each trace's test task sequence: Lempel-Ziv entropy rate + Fano's "
            'inequality.</p><table id="ceiling"><thead><tr><th class="name">trace</th>'
            f"<th>max predictability</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if board.failed:
        rows = "".join(
            f'<tr><td class="name">{_e(f.model)}</td><td class="text">{_e(f.trace)}'
            f'</td><td>{_e(f.seed)}</td><td class="text">{_e(f.error)}</td></tr>'
            for f in board.failed
        )
        extra.append(
            '<h2>Failed runs</h2><table id="failed"><thead><tr><th class="name">model</th>'
            "<th>trace</th><th>seed</th><th>error</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    if board.refused:
        rows = "".join(
            f'<tr><td class="text">{_e(r.file)}</td><td class="text">{_e(r.reason)}</td></tr>'
            for r in board.refused
        )
        extra.append(
            '<h2>Refused results</h2><p class="note">Stale or unreadable result files: not '
            'scored.</p><table id="refused"><thead><tr><th class="name">file</th>'
            f"<th>reason</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return extra


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
