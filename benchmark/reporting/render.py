"""Render a leaderboard (the dict `board.collect` returns) as Markdown, CSV, JSON
and one self-contained, sortable HTML page.

Every output is a deterministic function of the board (no dates, no absolute paths), so that a
golden test can compare them byte for byte. Every name that comes from a result file (models,
traces, errors) is escaped: HTML-escaped in the page, and escaped for Markdown tables in the README.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from typing import Any

from benchmark.reporting.board import (
    COSTS,
    MAIN_METRIC,
    TARGET_METRICS,
    ceiling_value,
    ordered,
    shows,
)

ARROW = {True: "↑", False: "↓"}
TARGET_TITLES = {"task": "Task: which task runs next", "delta": "Delta: how long it will run"}
COST_TITLES = {"fit_s": "fit s", "online_p50_us": "p50 µs", "online_p99_us": "p99 µs"}
SHOWN_COSTS = ("fit_s", "online_p50_us", "online_p99_us")
DIGITS = {
    "acc": ".4f",
    "acc_comm": ".4f",
    "top3": ".4f",
    "macro_f1": ".4f",
    "log_loss": ".4f",
    "mse_z": ".4f",
    "mae_us": ".2f",
    "msle": ".4f",
    "fit_s": ".3g",
    "predict_s": ".3g",
    "online_p50_us": ".3g",
    "online_p99_us": ".3g",
    "peak_rss_mb": ".0f",
    "ceiling": ".4f",
}


def fmt(value: Any, key: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return format(float(value), DIGITS.get(key, ".4g"))


def _higher(board: dict[str, Any], metric: str) -> bool:
    return bool(board["metrics"][metric]["higher_is_better"])


def _mean_ceiling(board: dict[str, Any]) -> float | None:
    values = [ceiling_value(board["ceiling"].get(t)) for t in board["traces"]]
    if not values or any(v is None for v in values):
        return None
    return math.fsum(values) / len(values)  # type: ignore[arg-type]


def _status_text(model: dict[str, Any]) -> str:
    return {"failed": "failed", "incomplete": "incomplete"}.get(model["status"], "")


# =============================================================================================
# Markdown
# =============================================================================================
_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|#"})


def md_escape(text: Any) -> str:
    """Text safe inside a Markdown table cell: HTML-escaped, Markdown specials backslashed."""
    return html.escape(str(text), quote=False).translate(_MD_SPECIAL).replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _interval(entry: dict[str, Any] | None, key: str) -> str:
    if not entry:
        return ""
    return f"{fmt(entry['value'], key)} [{fmt(entry['low'], key)}, {fmt(entry['high'], key)}]"


def _model_label_md(model: dict[str, Any]) -> str:
    name = md_escape(model["model"])
    return f"{name} *(ref)*" if model["kind"] == "reference" else name


def _target_table(board: dict[str, Any], target: str) -> str:
    metrics = TARGET_METRICS[target]
    main = MAIN_METRIC[target]
    traces = board["traces"]
    header = ["#", "model"]
    for metric in metrics:
        arrow = ARROW[_higher(board, metric)]
        header.append(f"{metric} {arrow} [95% CI]" if metric == main else f"{metric} {arrow}")
    header += [f"{main}: {md_escape(t)}" for t in traces]
    header += [COST_TITLES[c] for c in SHOWN_COSTS] + ["seeds"]
    rows = []
    if target == "task" and board["ceiling"]:
        mean = _mean_ceiling(board)
        row = ["", "**ceiling** (LZ entropy + Fano)", fmt(mean, "ceiling")]
        row += [""] * (len(metrics) - 1)
        row += [fmt(ceiling_value(board["ceiling"].get(t)), "ceiling") for t in traces]
        row += [""] * (len(SHOWN_COSTS) + 1)
        rows.append(row)
    for model in ordered(board, target):
        status = _status_text(model)
        row = [str(model["rank"].get(target, "")), _model_label_md(model)]
        for metric in metrics:
            entry = model["mean"].get(metric)
            if status:
                row.append(status if metric == main else "")
            elif metric == main:
                row.append(_interval(entry, metric))
            else:
                row.append(fmt(entry["value"], metric) if entry else "")
        for trace in traces:
            cell = model["per_trace"][trace]
            if cell["status"] == "failed":
                row.append("failed")
            elif cell["status"] == "missing":
                row.append("—")
            else:
                entry = cell["metrics"].get(main)
                row.append(fmt(entry["value"], main) if entry else "")
        row += [fmt(model["costs"].get(c), c) for c in SHOWN_COSTS]
        row.append(str(model["seeds"]))
        rows.append(row)
    return _md_table(header, rows)


def markdown(board: dict[str, Any]) -> str:
    traces = board["traces"]
    out = [
        "# Leaderboard",
        "",
        "<!-- generated by `kernel-oracle leaderboard` (make leaderboard) from the result files "
        "in results/; do not edit -->",
        "",
        f"Built from {board['result_files']} result files in `results/` on "
        f"{len(traces)} trace(s): {', '.join(f'`{md_escape(t)}`' for t in traces)} "
        f"(split version {board['split_version']}; data sha256 in `leaderboard.json`). "
        "Sortable page: `index.html`; the same numbers: `leaderboard.csv`, `leaderboard.json`; "
        "figures: `figures/`.",
        "",
        "Each row is a model; the first columns are means over traces (unweighted), then the main "
        "metric per trace. Intervals are 95% moving-block bootstrap intervals over test "
        "positions. ↑ higher is better, ↓ lower is better. *(ref)* marks the reference "
        "predictors (majority, markov, ewma) that every learned model should beat.",
        "",
    ]
    for target in ("task", "delta"):
        out += [f"## {TARGET_TITLES[target]}", "", _target_table(board, target), ""]
        absent = [m["model"] for m in board["models"] if not shows(m, target)]
        if absent:
            out += [f"Not predicting {target}: {', '.join(md_escape(a) for a in absent)}.", ""]
    if board["ceiling"]:
        out += [
            "The **ceiling** row is the maximum predictability of each trace's test task "
            "sequence: its entropy rate estimated by Lempel-Ziv (Kontoyiannis' estimator) and "
            "Fano's inequality solved for the best achievable top-1 accuracy (Song et al., "
            "Science 2010). No model can beat it beyond estimation error.",
            "",
        ]
    if board["failed"]:
        out += ["## Failed runs", ""]
        rows = [
            [md_escape(f["model"]), md_escape(f["trace"]), str(f["seed"]), md_escape(f["error"])]
            for f in board["failed"]
        ]
        out += [_md_table(["model", "trace", "seed", "error"], rows), ""]
    if board["refused"]:
        out += [
            "## Refused results",
            "",
            "These result files do not match the current data (or cannot be read) and are not "
            "scored; re-run their evaluations.",
            "",
        ]
        rows = [[md_escape(r["file"]), md_escape(r["reason"])] for r in board["refused"]]
        out += [_md_table(["file", "reason"], rows), ""]
    out += [
        "## How the numbers are made",
        "",
        "- A cell is the mean over seeds (neural models: several seeds; others: one); its "
        "interval ends are the seeds' mean interval ends.",
        "- The mean over traces is given only for models with a scored result on every trace; "
        "its interval combines the per-trace half-widths as independent "
        "(sqrt of the sum of squares, divided by the number of traces).",
        "- `failed`: at least one run failed (see Failed runs); it is never replaced by "
        "another run. `—`: not run on that trace (or its result was refused).",
        "- Costs: fit seconds, and the batch-1 online latency of one scheduler step "
        "(predict_next + update) in microseconds, p50 and p99; means over traces.",
        "- Metrics: "
        + "; ".join(
            f"`{name}` ({m['target']}, {'higher' if m['higher_is_better'] else 'lower'} is "
            f"better): {md_escape(m['description'])}"
            for name, m in board["metrics"].items()
        )
        + ".",
        "",
    ]
    return "\n".join(out)


# =============================================================================================
# CSV and JSON
# =============================================================================================
def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value))


def csv_text(board: dict[str, Any]) -> str:
    """One row per model: means (with interval ends), per-trace status and main metrics, costs."""
    metrics = [m for t in ("task", "delta") for m in TARGET_METRICS[t]]
    traces = board["traces"]
    header = ["model", "kind", "status", "targets", "rank_task", "rank_delta", "seeds"]
    for metric in metrics:
        header += [metric, f"{metric}_low", f"{metric}_high"]
    for trace in traces:
        header += [f"status:{trace}"] + [f"{m}:{trace}" for m in metrics]
    header += list(COSTS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for model in board["models"]:
        row = [
            model["model"],
            model["kind"],
            model["status"],
            "+".join(model["targets"]),
            model["rank"].get("task", ""),
            model["rank"].get("delta", ""),
            model["seeds"],
        ]
        for metric in metrics:
            entry = model["mean"].get(metric) or {}
            row += [_num(entry.get("value")), _num(entry.get("low")), _num(entry.get("high"))]
        for trace in traces:
            cell = model["per_trace"][trace]
            row.append(cell["status"])
            row += [_num((cell["metrics"].get(m) or {}).get("value")) for m in metrics]
        row += [_num(model["costs"].get(c)) for c in COSTS]
        writer.writerow(row)
    return buffer.getvalue()


def json_text(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


# =============================================================================================
# HTML
# =============================================================================================
_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0 16px}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f2f2f2;cursor:pointer;user-select:none;position:sticky;top:0}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
td.name,th.name,td.text{text-align:left}
tr.reference td.name{font-style:italic}
tr.failed td,tr.incomplete td{color:#a33}
small{color:#666}
#ceiling th,#failed th,#refused th{text-align:left}
.note{color:#555;max-width:70em}
""".strip()

_JS = r"""
(function () {
  "use strict";
  var table = document.getElementById("board");
  var body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function parseHash() {
    var out = {};
    var text = decodeURIComponent(window.location.hash.replace(/^#/, ""));
    text.split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0) { out[part.slice(0, i)] = part.slice(i + 1); }
    });
    return out;
  }
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-v");
    if (numeric) {
      if (raw === null || raw === "") { return null; }
      var v = parseFloat(raw);
      return isNaN(v) ? null : v;
    }
    return raw === null ? cell.textContent : raw;
  }
  function sortBy(key, dir) {
    var index = -1;
    heads.forEach(function (th, i) { if (th.getAttribute("data-key") === key) { index = i; } });
    if (index < 0) { return false; }
    var th = heads[index];
    var numeric = th.getAttribute("data-type") === "number";
    if (dir !== "asc" && dir !== "desc") {
      dir = th.getAttribute("data-better") === "higher" ? "desc" : "asc";
    }
    var sign = dir === "asc" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, i) { row.setAttribute("data-order", String(i)); });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }   // empty cells last, whichever the direction
      if (y === null) { return -1; }
      if (x < y) { return -sign; }
      if (x > y) { return sign; }
      var i = parseInt(a.getAttribute("data-order"), 10);
      return i - parseInt(b.getAttribute("data-order"), 10);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    heads.forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
    th.classList.add("sorted-" + dir);
    table.setAttribute("data-sorted-by", key);
    table.setAttribute("data-sorted-dir", dir);
    return true;
  }
  function fromHash() {
    var state = parseHash();
    if (state.sort) { sortBy(state.sort, state.dir); }
  }
  heads.forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      var state = parseHash();
      var dir = "";
      if (state.sort === key) {
        dir = table.getAttribute("data-sorted-dir") === "asc" ? "desc" : "asc";
      }
      window.location.hash = "sort=" + encodeURIComponent(key) + (dir ? "&dir=" + dir : "");
    });
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
""".strip()


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _td(value: Any, key: str, entry: dict[str, Any] | None = None, text: str | None = None) -> str:
    """A numeric cell: data-v holds the full value for sorting, the text the rounded one."""
    if text is not None:
        return f'<td data-v="">{_e(text)}</td>'
    if value is None:
        return '<td data-v=""></td>'
    shown = _e(fmt(value, key))
    if entry and entry.get("low") is not None and entry.get("high") is not None:
        shown += f" <small>[{_e(fmt(entry['low'], key))}, {_e(fmt(entry['high'], key))}]</small>"
    return f'<td data-v="{_e(repr(float(value)))}">{shown}</td>'


def html_page(board: dict[str, Any]) -> str:
    """One self-contained page: inline CSS and JS, no external resource; every name escaped."""
    traces = board["traces"]
    columns: list[tuple[str, str, str, str]] = [  # key, title, type, better
        ("rank_task", "# task", "number", "lower"),
        ("model", "model", "text", "text"),
        ("kind", "kind", "text", "text"),
    ]
    for target in ("task", "delta"):
        if target == "delta":
            columns.append(("rank_delta", "# delta", "number", "lower"))
        for metric in TARGET_METRICS[target]:
            better = "higher" if _higher(board, metric) else "lower"
            columns.append((metric, f"{metric} {ARROW[better == 'higher']}", "number", better))
    for target in ("task", "delta"):
        main = MAIN_METRIC[target]
        better = "higher" if _higher(board, main) else "lower"
        for trace in traces:
            columns.append((f"{main}:{trace}", f"{main} {trace}", "number", better))
    for cost in SHOWN_COSTS:
        columns.append((cost, COST_TITLES[cost], "number", "lower"))
    columns.append(("seeds", "seeds", "number", "higher"))

    head = "".join(
        f'<th data-key="{_e(k)}" data-type="{t}" data-better="{b}"'
        f"{' class=' + chr(34) + 'name' + chr(34) if k == 'model' else ''}>{_e(title)}</th>"
        for k, title, t, b in columns
    )
    body_rows = []
    models = sorted(
        board["models"],
        key=lambda m: (
            m["rank"].get("task", math.inf),
            m["rank"].get("delta", math.inf),
            m["model"],
        ),
    )
    for model in models:
        status = _status_text(model)
        cells = [
            _td(model["rank"].get("task"), "rank"),
            f'<td class="name" data-v="{_e(model["model"])}">{_e(model["model"])}</td>',
            f'<td class="text" data-v="{_e(model["kind"])}">{_e(model["kind"])}</td>',
        ]
        for target in ("task", "delta"):
            if target == "delta":
                cells.append(_td(model["rank"].get("delta"), "rank"))
            main = MAIN_METRIC[target]
            for metric in TARGET_METRICS[target]:
                if not shows(model, target):
                    cells.append(_td(None, metric))
                elif status:
                    cells.append(_td(None, metric, text=status if metric == main else ""))
                else:
                    entry = model["mean"].get(metric)
                    value = entry["value"] if entry else None
                    cells.append(_td(value, metric, entry if metric == main else None))
        for target in ("task", "delta"):
            main = MAIN_METRIC[target]
            for trace in traces:
                cell = model["per_trace"][trace]
                if not shows(model, target):
                    cells.append(_td(None, main))
                elif cell["status"] == "failed":
                    cells.append(_td(None, main, text="failed"))
                elif cell["status"] == "missing":
                    cells.append(_td(None, main, text="—"))
                else:
                    entry = cell["metrics"].get(main)
                    cells.append(_td(entry["value"] if entry else None, main))
        for cost in SHOWN_COSTS:
            cells.append(_td(model["costs"].get(cost), cost))
        cells.append(_td(model["seeds"], "seeds"))
        classes = " ".join(c for c in (model["kind"], model["status"]) if c)
        body_rows.append(
            f'<tr class="{_e(classes)}" data-model="{_e(model["model"])}">{"".join(cells)}</tr>'
        )

    extra = []
    if board["ceiling"]:
        rows = "".join(
            f'<tr><td class="name">{_e(t)}</td>'
            f"<td>{_e(fmt(ceiling_value(board['ceiling'].get(t)), 'ceiling'))}</td></tr>"
            for t in traces
        )
        extra.append(
            '<h2>Predictability ceiling</h2><p class="note">The best top-1 accuracy any model '
            "could reach on each trace's test task sequence: Lempel-Ziv entropy rate + Fano's "
            'inequality.</p><table id="ceiling"><thead><tr><th class="name">trace</th>'
            f"<th>max predictability</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if board["failed"]:
        rows = "".join(
            f'<tr><td class="name">{_e(f["model"])}</td><td class="text">{_e(f["trace"])}'
            f'</td><td>{_e(f["seed"])}</td><td class="text">{_e(f["error"])}</td></tr>'
            for f in board["failed"]
        )
        extra.append(
            '<h2>Failed runs</h2><table id="failed"><thead><tr><th class="name">model</th>'
            "<th>trace</th><th>seed</th><th>error</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    if board["refused"]:
        rows = "".join(
            f'<tr><td class="text">{_e(r["file"])}</td><td class="text">{_e(r["reason"])}</td></tr>'
            for r in board["refused"]
        )
        extra.append(
            '<h2>Refused results</h2><p class="note">Stale or unreadable result files: not '
            'scored.</p><table id="refused"><thead><tr><th class="name">file</th>'
            f"<th>reason</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    trace_list = ", ".join(_e(t) for t in traces)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>kernel-oracle leaderboard</title>"
        f"<style>{_CSS}</style></head><body>\n"
        "<h1>kernel-oracle leaderboard</h1>\n"
        f'<p class="note">Predicting the Linux scheduler\'s next move on {len(traces)} trace(s): '
        f"{trace_list}. Means over traces with 95% bootstrap intervals; click a column to sort "
        "(best first; again to reverse), or link to <code>#sort=KEY&amp;dir=asc</code>. "
        f"Built from {_e(board['result_files'])} result files.</p>\n"
        f'<table id="board"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body_rows)
        + "\n</tbody></table>\n"
        + "\n".join(extra)
        + f"\n<script>{_JS}</script>\n</body></html>\n"
    )
