"""The board as one self-contained HTML page, index.html (README §6).

Views (chosen by the URL hash, `#view=trace&trace=mixed&refs=0`, so a view can be linked and
back/forward work): the overall table (means with 95% intervals, normalized score, ranks with
ties `2=`) with the accuracy-vs-latency frontier; one view per trace (every metric with its
interval, the paired difference to the next rank, links to the result files and to the params
files and study journals a row ran with, bars with intervals; the default rows unranked, with
their result files); latency budgets; ceilings and headroom; the transfer view of a holdout board;
failed and refused runs. Inline CSS and JS, no external resource: the figures are inline SVG
drawn from the board's numbers embedded as JSON. Every name from a result file is HTML-escaped
here and only ever set as text by the script, so a model named `<script>...` shows as text.
Deterministic, for the golden test.
"""

from __future__ import annotations

import math
from typing import Any

from benchmark.reporting.boardtypes import Board, Cell, Comparison, Interval, Row
from benchmark.reporting.format import (
    ARROW,
    CELL_TEXT,
    diff_text,
    digits,
    fmt,
    status_text,
)
from benchmark.reporting.format import html_escape as _e
from benchmark.reporting.page_assets import CSS, JS
from benchmark.reporting.page_data import (
    datasheet_href,
    figure_data,
    params_links,
    result_links,
    script_json,
    variant_of,
)
from benchmark.reporting.page_figures import FIGURES_JS
from benchmark.reporting.page_sections import (
    budgets_section,
    ceilings_section,
    horizon_section,
    runs_section,
    schedulers_section,
    section,
    transfer_section,
    tuning_section,
)
from benchmark.reporting.texts import REPRODUCIBILITY
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric, target_metrics

Column = tuple[str, str, str, str]  # key, title, type (number/text), better (higher/lower/text)


def _td(value: Any, key: str, entry: Interval | None = None, text: str | None = None) -> str:
    """A numeric cell: data-v holds the full value for sorting, the text the rounded one (or
    `text`, when given with a value, e.g. a rank `2=`), the interval on a line below."""
    if value is None:
        return f'<td data-v="">{_e(text or "")}</td>'
    shown = _e(text if text is not None else fmt(value, key))
    if entry is not None and fmt(entry.low, key) and fmt(entry.high, key):
        shown += f" <small>[{_e(fmt(entry.low, key))}, {_e(fmt(entry.high, key))}]</small>"
    return f'<td data-v="{_e(repr(float(value)))}">{shown}</td>'


def _text_td(text: str, css: str = "text", html: str | None = None) -> str:
    return f'<td class="{css}" data-v="{_e(text)}">{html if html is not None else _e(text)}</td>'


def _links(links: list[tuple[str, str]]) -> str:
    return " ".join(f'<a href="{_e(href)}">{_e(label)}</a>' for label, href in links)


def _head(columns: list[Column]) -> str:
    """Sortable headers: each title is a button (keyboard usable)."""
    cells = []
    for key, title, kind, better in columns:
        css = ' class="name"' if kind == "text" else ""
        cells.append(
            f'<th scope="col" data-key="{_e(key)}" data-type="{kind}" data-better="{better}"'
            f'{css}><button type="button">{_e(title)}</button></th>'
        )
    return "".join(cells)


def _arrow(metric: str) -> str:
    return f"{metric} {ARROW[METRICS[metric].higher_is_better]}"


def _better(metric: str) -> str:
    return METRICS[metric].direction


# ---------------------------------------------------------------------------------------------
# The overall view: few columns, so that it fits 1024 px; the details are per trace.
# ---------------------------------------------------------------------------------------------
def _overall_columns() -> list[Column]:
    task, delta = main_metric("task"), main_metric("delta")
    return [
        ("rank_task", "# task", "number", "lower"),
        ("model", "model", "text", "text"),
        ("kind", "kind", "text", "text"),
        (task, _arrow(task), "number", _better(task)),
        ("normalized", "normalized ↑", "number", "higher"),
        ("rank_delta", "# delta", "number", "lower"),
        (delta, _arrow(delta), "number", _better(delta)),
        ("mse_ratio", "÷ best ref ↓", "number", "lower"),
        ("online_p50_us", "p50 µs", "number", "lower"),
        ("seeds", "seeds", "number", "higher"),
        ("flags", "marks", "text", "text"),
    ]


def _mean_cell(model: Row, target: str) -> str:
    main = main_metric(target)
    if not model.shows(target):
        return _td(None, main)
    status = status_text(model.status)
    if status:
        return _td(None, main, text=status)
    entry = model.mean.get(main)
    return _td(entry.value if entry else None, main, entry)


def _marks(model: Row) -> str:
    """Each trace with a mark (a ceiling flag), linked to its view; a suspected leak."""
    parts = ["suspected leak"] if model.suspected_leak else []
    html = [_e(p) for p in parts]
    for trace, cell in model.per_trace.items():
        if cell.flags:
            flag_text = "; ".join(cell.flags)
            parts.append(f"{trace}: {flag_text}")
            html.append(
                f'<a href="#view=trace&amp;trace={_e(trace)}" data-nav="trace" '
                f'data-trace="{_e(trace)}" title="{_e(flag_text)}">{_e(trace)} ⚑</a>'
            )
    return _text_td("; ".join(parts), "text marks", " ".join(html))


def _row_attrs(model: Row) -> str:
    classes = " ".join(c for c in (model.kind, model.status) if c)
    classes += " suspected-leak" if model.suspected_leak else ""
    variant = variant_of(model)
    extra = f' data-variant="{_e(variant)}"' if variant else ""
    return (
        f'class="{_e(classes)}" data-model="{_e(model.model)}" data-kind="{_e(model.kind)}"' + extra
    )


def _overall_row(model: Row) -> str:
    def rank(target: str) -> str:
        return _td(model.rank.get(target), "rank", text=model.rank_text(target))

    normalized, ratio = model.normalized, model.mse_ratio
    cells = [
        rank("task"),
        _text_td(model.model, "name"),
        _text_td(model.kind + (f" ({variant_of(model)})" if variant_of(model) else "")),
        _mean_cell(model, "task"),
        _td(normalized.value if normalized else None, main_metric("task"), normalized),
        rank("delta"),
        _mean_cell(model, "delta"),
        _td(ratio.value if ratio else None, "ratio", ratio),
        _td(model.costs.get("online_p50_us"), "online_p50_us"),
        _td(model.seeds, "seeds"),
        _marks(model),
    ]
    return f"<tr {_row_attrs(model)}>{''.join(cells)}</tr>"


def _ordered(board: Board) -> list[Row]:
    return sorted(
        [*board.models, *board.default_models],
        key=lambda m: (m.rank.get("task", math.inf), m.rank.get("delta", math.inf), m.model),
    )


def _overall(board: Board) -> str:
    rows = "\n".join(_overall_row(m) for m in _ordered(board))
    table = (
        f'<div class="wide"><table id="board" class="sortable"><thead><tr>'
        f"{_head(_overall_columns())}</tr></thead>\n<tbody>\n{rows}\n</tbody></table></div>"
    )
    note = (
        '<p class="note">Means over traces with 95% bootstrap intervals; ranks with ties '
        "(<code>2=</code>: the difference to the next model is not a win, because its paired "
        "95% interval covers 0 or because it is smaller than either model's seed spread; "
        "without stored predictions, because the two intervals overlap). "
        + ("Default rows are not ranked. " if board.default_models else "")
        + "Click a column to sort (best first; again to reverse). Each trace's view has every "
        "metric, the paired difference to the next rank and the result files"
        + (" (the default rows' too)" if board.default_models else "")
        + ".</p>"
    )
    figure = (
        '<figure class="chart"><svg id="frontier" class="plot" role="img" '
        'aria-labelledby="frontier-caption" viewBox="0 0 760 360"></svg>'
        '<figcaption id="frontier-caption">Accuracy against online latency (median µs per '
        "prediction, log scale): mean accuracy over traces; the line joins the models no "
        "faster model beats.</figcaption></figure>"
    )
    return section("overall", "Overall", note + table + figure)


# ---------------------------------------------------------------------------------------------
# One view per trace: every metric with its interval, the paired difference to the next rank.
# ---------------------------------------------------------------------------------------------
EXTRA = {"task": ("normalized", "normalized ↑", "higher"), "delta": ("mse_ratio", "÷ best ref ↓",
                                                                   "lower")}  # fmt: skip


def _trace_columns(target: str) -> list[Column]:
    key, title, better = EXTRA[target]
    columns: list[Column] = [
        ("rank", "#", "number", "lower"),
        ("model", "model", "text", "text"),
    ]
    columns += [(m, _arrow(m), "number", _better(m)) for m in target_metrics(target)]
    columns.append((key, title, "number", better))
    columns.append(("vs_next", f"− next ({main_metric(target)})", "number", "text"))
    if target == "delta":
        columns.append(("online_p50_us", "p50 µs", "number", "lower"))
    columns.append(("files", "result files", "text", "text"))
    return columns


def _trace_row(board: Board, model: Row, trace: str, target: str) -> str:
    cell = model.per_trace.get(trace) or Cell(status="missing")
    standing = cell.standing.get(target)
    metrics = target_metrics(target)
    main = main_metric(target)
    cells = [
        _td(standing.rank if standing else None, "rank", text=standing.text if standing else ""),
        _text_td(model.model, "name"),
    ]
    if cell.status == "ok":
        for metric in metrics:
            entry = cell.metrics.get(metric)
            cells.append(_td(entry.value if entry else None, metric, entry))
        extra = getattr(cell, EXTRA[target][0])
        cells.append(_td(extra.value if extra else None, main if target == "task" else "ratio",
                         extra))  # fmt: skip
        cells.append(_vs_next_td(standing.vs_next if standing else None, main))
    else:
        text = CELL_TEXT.get(cell.status, cell.status)
        reason = f" <small>{_e(cell.reason)}</small>" if cell.reason else ""
        cells.append(f'<td class="text status" data-v="">{_e(text)}{reason}</td>')
        cells += [_td(None, m) for m in metrics[1:]] + [_td(None, main), _td(None, main)]
    if target == "delta":
        cells.append(_td(cell.costs.get("online_p50_us"), "online_p50_us"))
    links = result_links(board, model, trace, cell) + params_links(model)
    cells.append(_text_td(" ".join(label for label, _ in links), "text files", _links(links)))
    return f"<tr {_row_attrs(model)}>{''.join(cells)}</tr>"


def _vs_next_td(vs: Comparison | None, metric: str) -> str:
    """The paired difference to the next rank: the value, then its interval and the other
    model on a line below (or, without stored predictions, whether the intervals overlap)."""
    if vs is None:
        return _td(None, metric)
    tie = " (tie)" if vs.tie else ""
    if vs.diff is None:
        text = diff_text(vs, metric)
        return f'<td class="vs" data-v="" title="{_e(text)}">{_e(text)}</td>'
    spec = "+" + digits(metric)
    value = format(vs.diff.value, spec)
    below = f"[{format(vs.diff.low, spec)}, {format(vs.diff.high, spec)}] vs {vs.other}{tie}"
    return (
        f'<td class="vs" data-v="{_e(repr(float(vs.diff.value)))}">{_e(value)} '
        f"<small>{_e(below)}</small></td>"
    )


def _trace_order(board: Board, trace: str, target: str) -> list[Row]:
    """Models predicting `target`, by their rank on `trace` (then the main metric there, then
    the name); the unranked (failed, stale, missing, and the default rows, which are never
    ranked) last."""
    metric = METRICS[main_metric(target)]

    def key(m: Row) -> tuple[float, float, str]:
        cell = m.per_trace.get(trace)
        standing = cell.standing.get(target) if cell else None
        entry = cell.metrics.get(metric.name) if cell and cell.status == "ok" else None
        rank = standing.rank if standing else math.inf
        return (rank, metric.sort_key(entry.value) if entry else 0.0, m.model)

    rows = [*board.models, *board.default_models]
    return sorted((m for m in rows if m.shows(target)), key=key)


def _trace_view(board: Board, trace: str) -> str:
    tables = []
    for target in TARGETS:
        models = _trace_order(board, trace, target)
        rows = "\n".join(_trace_row(board, m, trace, target) for m in models)
        tables.append(
            f"<h3>{_e(target)}: {_e(main_metric(target))} and the other metrics</h3>"
            f'<div class="wide"><table id="trace-{_e(trace)}-{target}" class="sortable '
            f'trace-table" data-target="{target}"><thead><tr>{_head(_trace_columns(target))}'
            f"</tr></thead>\n<tbody>\n{rows}\n</tbody></table></div>"
        )
    flags = [
        f"<li>{_e(m.model)}: {_e(flag)}</li>"
        for m in board.models
        for flag in (m.per_trace[trace].flags if trace in m.per_trace else [])
    ]
    marks = f'<ul class="marks">{"".join(flags)}</ul>' if flags else ""
    note = (
        f'<p class="note">Test rows of <code>{_e(trace)}</code> (<a '
        f'href="{_e(datasheet_href(trace))}">datasheet</a>): each metric with its 95% '
        "interval (mean over seeds); <em>− next</em> is the paired difference to the model "
        "ranked below, with its interval, a tie when the interval covers 0 or the difference "
        "is below either model's seed spread."
        + (" Default rows are listed unranked." if board.default_models else "")
        + "</p>"
    )
    figure = (
        f'<figure class="chart"><svg class="plot bars" data-trace="{_e(trace)}" role="img" '
        f'aria-label="{_e(trace)}: main metrics with 95% intervals" viewBox="0 0 760 300">'
        "</svg><figcaption>Each model's accuracy and mse_z on this trace, 95% intervals as "
        "whiskers, best first.</figcaption></figure>"
    )
    title = f"Trace <code>{_e(trace)}</code>"
    return section("trace", title, note + "\n".join(tables) + marks + figure, trace=trace)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------
def _nav(board: Board, more: str) -> str:
    links = ['<a href="#view=overall" data-nav="overall">Overall</a>']
    links += [
        f'<a href="#view=trace&amp;trace={_e(t)}" data-nav="trace" data-trace="{_e(t)}">{_e(t)}</a>'
        for t in board.traces
    ]
    return '<nav id="views" aria-label="Views">' + " ".join(links) + more + "</nav>"


def _toggles(board: Board) -> str:
    buttons = [
        '<button type="button" id="toggle-refs" aria-pressed="true">reference rows shown</button>'
    ]
    if any(variant_of(m) for m in board.models):
        buttons.append(
            '<button type="button" id="toggle-variant" data-variant="all">default and tuned '
            "rows</button>"
        )
    return '<div id="toggles">' + " ".join(buttons) + "</div>"


MORE = {"budgets": "Latency budgets", "horizon": "Horizon track", "tuning": "Default and tuned",
        "schedulers": "By scheduler", "ceilings": "Ceilings", "transfer": "Transfer",
        "runs": "Failed and refused"}  # fmt: skip


def html_page(board: Board) -> str:
    """index.html: the views, the figures' data and the script that switches between them."""
    extra = {
        "budgets": budgets_section(board),
        "horizon": horizon_section(board),
        "tuning": tuning_section(board),
        "schedulers": schedulers_section(board),
        "ceilings": ceilings_section(board),
        "transfer": transfer_section(board),
        "runs": runs_section(board),
    }
    more = "".join(
        f' <a href="#view={k}" data-nav="{k}">{MORE[k]}</a>' for k, v in extra.items() if v
    )
    sections = [_overall(board)] + [_trace_view(board, t) for t in board.traces]
    sections += [v for v in extra.values() if v]
    trace_list = ", ".join(_e(t) for t in board.traces)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>kernel-oracle leaderboard</title>"
        f"<style>{CSS}</style>"
        f"<script>{FIGURES_JS}\n{JS}</script></head><body>\n"
        "<header><h1>kernel-oracle leaderboard</h1>\n"
        f'<p class="note">Predicting the Linux scheduler\'s next move on {len(board.traces)} '
        f"trace(s): {trace_list}. Built from {_e(board.result_files)} result files; every "
        "number links to its evidence in the trace views. A view can be linked: "
        "<code>#view=trace&amp;trace=NAME&amp;refs=0&amp;sort=KEY&amp;dir=asc</code>.</p>\n"
        + _nav(board, more)
        + "\n"
        + _toggles(board)
        + "</header>\n<main>\n"
        + "\n".join(sections)
        + "\n</main>\n"
        + f'<footer><h2>Reproducibility</h2><p class="note">{_e(REPRODUCIBILITY)}</p></footer>\n'
        + '<script type="application/json" id="board-data">'
        + script_json(figure_data(board))
        + "</script>\n</body></html>\n"
    )
