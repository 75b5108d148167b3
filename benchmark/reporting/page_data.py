"""What the leaderboard page (index.html) embeds and links to (README §6).

* `figure_data(board)`: the board's numbers the page's figures are drawn from, as JSON safe
  inside `<script type="application/json">` (`<`, `>`, `&` written as `\\u003c`...), so a model
  named `</script>` cannot end the element.
* Links to the evidence, relative to the page (which sits beside `results/` and `params/`):
  each cell's result files (a default row's too), the params files a row ran with and their
  study journals, each trace's datasheet section.
  Paths are derived from the names (the store's layout, `benchmark.results.store`), and only
  for names the store accepts as a folder name; a failed run links the file the board names.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from benchmark.reporting.boardtypes import Board, Cell, Interval, Row, plain
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric

# The store's rule for a name that can be one path part (benchmark.results.store.check_name).
_SAFE_NAME = re.compile(r"(?!\.)[A-Za-z0-9_.\-]{1,64}")
DATASHEET = "../data/README.md"


def variant_of(row: Row) -> str:
    """`default`/`tuned` where the board's rows carry it, else empty."""
    return str(getattr(row, "variant", "") or "")


def safe_name(name: str) -> bool:
    return bool(_SAFE_NAME.fullmatch(name))


def href_of(*parts: str) -> str:
    return "/".join(quote(p, safe="") for p in parts)


def result_links(board: Board, row: Row, trace: str, cell: Cell) -> list[tuple[str, str]]:
    """(label, relative href) of the result files behind one cell: a failed run's file as the
    board records it, else `results/<model>/<trace>/seed<k>.json` for each seed."""
    links = []
    if cell.status == "failed":
        for failure in board.failed:
            if failure.model == row.model and failure.trace == trace and failure.file:
                label = f"seed{failure.seed} failed" if failure.seed is not None else "failed"
                links.append((label, href_of("results", *failure.file.split("/"))))
        return links
    if cell.status not in ("ok", "stale") or not (safe_name(row.model) and safe_name(trace)):
        return links
    return [
        (f"seed{seed}", href_of("results", row.model, trace, f"seed{int(seed)}.json"))
        for seed in cell.seeds
    ]


def params_links(row: Row) -> list[tuple[str, str]]:
    """The params file each target of a row ran with and the study journal it was chosen in
    (`make tune`), as the board found them (`Row.params_files`, `Row.study_files`: files that
    exist beside the page); any row that ran on a params file, tuned twin or not."""
    out = []
    for target in TARGETS:
        for label, files in (("params", row.params_files), ("study", row.study_files)):
            if target in files:
                out.append((f"{target} {label}", href_of(*files[target].split("/"))))
    return out


def datasheet_href(trace: str) -> str:
    """The trace's section of the datasheet (`### \\`trace\\``), as GitHub anchors it."""
    slug = re.sub(r"[^\w\- ]", "", trace.lower()).replace(" ", "-")
    return f"{DATASHEET}#{quote(slug, safe='-_')}"


def _triple(entry: Interval | None) -> list[float | None] | None:
    if entry is None:
        return None
    return plain([entry.value, entry.low, entry.high])


def _model(row: Row, traces: list[str]) -> dict[str, Any]:
    mains = [main_metric(t) for t in TARGETS]
    per_trace = {}
    for trace in traces:
        cell = row.per_trace.get(trace)
        if cell is None:
            continue
        values = {m: _triple(cell.metrics.get(m)) for m in mains if cell.status == "ok"}
        per_trace[trace] = {"status": cell.status, **values}
    p50 = row.costs.get("online_p50_us")
    return {
        "model": row.model,
        "kind": row.kind,
        "variant": variant_of(row),
        "targets": list(row.targets),
        "p50": plain(p50),
        # a failed or incomplete row shows no mean in the table, nor in the figures
        "mean": {m: _triple(row.mean.get(m)) if row.status == "ok" else None for m in mains},
        "per_trace": per_trace,
        # the horizon track's accuracy per step (means over traces), for its figure
        "horizon": {k: _triple(v) for k, v in row.horizon.items() if k.startswith("acc@")},
    }


def figure_data(board: Board) -> dict[str, Any]:
    """The numbers the figures are drawn from: per model its kind, online p50, mean and
    per-trace main metrics (value, low, high)."""
    mains = {t: main_metric(t) for t in TARGETS}
    return {
        "traces": list(board.traces),
        "main": mains,
        "higher": {m: METRICS[m].higher_is_better for m in mains.values()},
        "models": [_model(row, board.traces) for row in board.models],
        "horizon_steps": list(board.horizon_steps),
    }


def script_json(value: Any) -> str:
    """JSON for a `<script type="application/json">` element: `<`, `>`, `&` (and the two line
    separators JS once choked on) escaped, so no text in it can close the element."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
