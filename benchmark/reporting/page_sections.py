"""The leaderboard page's secondary views (README §6): latency budgets, the horizon track,
ceilings with the headroom per trace, the transfer view of a holdout board, and the failed and
refused runs.

Every string from a result file is HTML-escaped here; each function returns one
`<section class="view">` or an empty string when the board has nothing for it.
"""

from __future__ import annotations

from typing import Any

from benchmark.reporting.boardtypes import Board
from benchmark.reporting.ceilings import TITLES, ceiling_value, kinds
from benchmark.reporting.format import CEILING, fmt
from benchmark.reporting.format import html_escape as _e
from benchmark.reporting.horizon_view import COLUMNS as HORIZON_COLUMNS
from benchmark.reporting.horizon_view import fall_texts
from benchmark.reporting.page_data import datasheet_href, href_of
from benchmark.reporting.scheduler_view import scheduler_table, schedulers_of
from benchmark.reporting.texts import HORIZON, HORIZON_FALLS, SCHEDULERS, TUNING
from benchmark.reporting.tuning_gain import TABLE_HEADER, table_rows
from benchmark.scoring.metrics import TARGETS


def section(view: str, title: str, body: str, trace: str | None = None) -> str:
    """One view of the page; the script shows the one the URL hash names."""
    attrs = f' id="view-{_e(view)}" data-view="{_e(view)}"'
    if trace is not None:
        attrs = f' id="view-trace-{_e(trace)}" data-view="trace" data-trace="{_e(trace)}"'
    return f'<section class="view"{attrs}>\n<h2>{title}</h2>\n{body}\n</section>'


def plain_table(table_id: str, header: list[str], rows: list[list[str]], raw: int = -1) -> str:
    """A table of escaped text cells; column `raw` holds ready-made (escaped) HTML."""
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="text">{c if i == raw else _e(c)}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="wide"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def trace_link(trace: str) -> str:
    """A trace's name linking to its view, and its datasheet section."""
    return (
        f'<a href="#view=trace&amp;trace={_e(trace)}" data-nav="trace" '
        f'data-trace="{_e(trace)}">{_e(trace)}</a> '
        f'<small>(<a href="{_e(datasheet_href(trace))}">datasheet</a>)</small>'
    )


def _pick_cells(pick: Any, metric: str) -> list[str]:
    """A budget's best model (with its p50) and its score on `metric`."""
    if pick is None:
        return ["none", ""]
    p50 = fmt(pick.online_p50_us, "online_p50_us")
    return [f"{pick.model} ({p50} µs)", fmt(getattr(pick, metric), metric)]


def budgets_section(board: Board) -> str:
    if not board.budgets:
        return ""
    rows = [
        [f"≤ {b.budget_us:g} µs", *_pick_cells(b.task, "acc"), *_pick_cells(b.delta, "mse_z")]
        for b in board.budgets
    ]
    header = ["p50 budget", "best task model", "acc", "best delta model", "mse_z"]
    note = (
        '<p class="note">The best model whose online median latency per prediction fits '
        "each budget a scheduler could spend.</p>"
    )
    return section("budgets", "Inside the scheduler's budget", note + plain_table(
        "budgets", header, rows))  # fmt: skip


def horizon_section(board: Board) -> str:
    """The horizon track: per model the horizon columns (means over traces), a figure of mean
    acc@h against h, and how far ahead each model beats markov's and majority's one step."""
    rows = [m for m in board.models if m.horizon]
    if not rows:
        return ""
    rows.sort(key=lambda m: (-(m.horizon["acc@1"].value if "acc@1" in m.horizon else -1), m.model))
    table = [
        [m.model] + [fmt(m.horizon[c].value, c.split("@")[0]) if c in m.horizon else ""
                     for c in HORIZON_COLUMNS]
        for m in rows
    ]  # fmt: skip
    falls = sorted(fall_texts(board).items())
    falls_rows = [[m, *(cells.get(t, "") for t in board.traces)] for m, cells in falls]
    figure = (
        '<figure class="chart"><svg id="horizon-plot" class="plot" role="img" '
        'aria-labelledby="horizon-caption" viewBox="0 0 760 360"></svg>'
        '<figcaption id="horizon-caption">Mean accuracy h switches ahead (free run), per model; '
        "reference rows dashed.</figcaption></figure>"
    )
    body = (
        f'<p class="note">{_e(HORIZON)}</p>'
        + figure
        + plain_table("horizon", ["model", *HORIZON_COLUMNS], table)
        + f'<h3>How far ahead</h3><p class="note">{_e(HORIZON_FALLS)}</p>'
        + plain_table("horizon-falls", ["model (markov / majority)", *board.traces], falls_rows)
    )
    return section("horizon", "Horizon track", body)


def tuning_section(board: Board) -> str:
    """Default vs tuned (README §6): tuned − default with its paired interval."""
    if not board.tuning:
        return ""
    note = f'<p class="note">{_e(TUNING)}</p>'
    return section(
        "tuning", "Default and tuned", note + plain_table("tuning", TABLE_HEADER,
                                                          table_rows(board.tuning))
    )  # fmt: skip


def _covers(board: Board, kind: str) -> str:
    """What the ceiling `kind` covers, as its first trace states it."""
    return next((str(e[kind].get("covers", "")) for e in board.ceiling.values() if kind in e), "")


def ceilings_section(board: Board) -> str:
    """The ceilings per trace, with the headroom (task-history ceiling minus markov)."""
    present = kinds(board.ceiling) if board.ceiling else []
    headroom = any(v is not None for v in board.headroom.values())
    if not present and not headroom:
        return ""
    header = ["trace", *(TITLES[k] for k in present)]
    header += ["headroom (ceiling − markov)"] if headroom else []
    rows = []
    for trace in board.traces:
        row = [trace_link(trace)]
        row += [fmt(ceiling_value(board.ceiling.get(trace), k), CEILING) for k in present]
        row += [fmt(board.headroom.get(trace), CEILING)] if headroom else []
        rows.append(row)
    covers = "; ".join(f"{TITLES[k]}: {_covers(board, k)}" for k in present)
    note = (
        '<p class="note">The best top-1 accuracy a model could reach on each trace\'s test '
        f"rows, each for what it covers ({_e(covers)}).</p>"
        if present
        else ""
    )
    body = note + plain_table("ceiling", header, rows, raw=0)
    if headroom:
        body += (
            '<p class="note">Headroom: how much accuracy the task history leaves above markov '
            "on the trace.</p>"
        )
    return section("ceilings", "Predictability ceilings", body)


def transfer_section(board: Board) -> str:
    """A holdout board's ranks beside the shipped board's, per target, with Spearman's rho."""
    if not board.transfer:
        return ""
    parts = []
    for view in board.transfer:
        rho = f"rho = {view.rho:+.3f}" if view.rho is not None else f"no rho: {view.reason}"
        rows = [[r.model, str(r.holdout), str(r.shipped)] for r in view.ranks]
        parts.append(
            f'<h3>{_e(view.target)}</h3><p class="note">{_e(rho)} (shipped board: '
            f"<code>{_e(view.source)}</code>)</p>"
            + plain_table(f"transfer-{_e(view.target)}", ["model", "holdout", "shipped"], rows)
        )
    return section("transfer", "Does the ranking transfer?", "\n".join(parts))


def schedulers_section(board: Board) -> str:
    """Per target: each model's mean over each scheduler's traces and its place there, and
    Spearman's rho of the two orders (boards with traces of two or more schedulers)."""
    schedulers = schedulers_of(board.models)
    if len(schedulers) < 2:
        return ""
    parts = [f'<p class="note">{_e(SCHEDULERS)}</p>']
    for target in TARGETS:
        notes = [
            f"{v.first} vs {v.second}: "
            + (f"rho = {v.rho:+.3f}" if v.rho is not None else "no rho")
            + f" over {len(v.models)} models"
            for v in board.scheduler_agreement
            if v.target == target
        ]
        header, rows = scheduler_table(board, target)
        table = [[row.model, *cells] for row, cells in rows]
        parts.append(
            f'<h3>{_e(target)}</h3><p class="note">{_e("; ".join(notes))}</p>'
            + plain_table(f"schedulers-{_e(target)}", ["model", *header], table)
        )
    return section("schedulers", "By scheduler", "\n".join(parts))


def runs_section(board: Board) -> str:
    """Suspected leaks, failed runs (linked to their files) and refused result files."""
    parts = []
    if board.warnings:
        parts.append("<h3>Suspected leaks</h3>" + plain_table(
            "leaks", ["warning"], [[w] for w in board.warnings]))  # fmt: skip
    if board.failed:
        rows = [
            [f.model, f.trace, "" if f.seed is None else str(f.seed), f.error, _file_link(f.file)]
            for f in board.failed
        ]
        parts.append("<h3>Failed runs</h3>" + plain_table(
            "failed", ["model", "trace", "seed", "error", "file"], rows, raw=4))  # fmt: skip
    if board.refused:
        rows = [[_file_link(r.file), r.reason] for r in board.refused]
        parts.append(
            '<h3>Refused results</h3><p class="note">Stale or unreadable result files: not '
            "scored.</p>" + plain_table("refused", ["file", "reason"], rows, raw=0)
        )
    if not parts:
        return ""
    return section("runs", "Failed and refused runs", "\n".join(parts))


def _file_link(file: str) -> str:
    """A file under results/ (relative to it), linked."""
    if not file:
        return ""
    return f'<a href="{_e(href_of("results", *file.split("/")))}">{_e(file)}</a>'
