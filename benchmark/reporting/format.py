"""How the board's numbers and names are printed (README §6): digits from the metric facts,
Markdown and HTML escaping of every name that comes from a result file."""

from __future__ import annotations

import html
import math
from typing import Any

from benchmark.scoring.metrics import METRICS

ARROW = {True: "↑", False: "↓"}
TARGET_TITLES = {"task": "Task: which task runs next", "delta": "Delta: how long it will run"}
COST_TITLES = {"fit_s": "fit s", "online_p50_us": "p50 µs", "online_p99_us": "p99 µs"}
SHOWN_COSTS = ("fit_s", "online_p50_us", "online_p99_us")
COST_DIGITS = {
    "fit_s": ".3g",
    "predict_s": ".3g",
    "online_p50_us": ".3g",
    "online_p99_us": ".3g",
    "peak_rss_mb": ".0f",
}
CEILING = "ceiling"  # printed as an accuracy


def digits(key: str) -> str:
    """The format spec of a metric (its fact), a cost, a ceiling, or anything else (.4g)."""
    if key in METRICS:
        return METRICS[key].digits
    if key == CEILING:
        return METRICS["acc"].digits
    return COST_DIGITS.get(key, ".4g")


def fmt(value: Any, key: str) -> str:
    """`value` printed with `key`'s digits; empty for None and non-finite values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return format(float(value), digits(key))


def status_text(status: str) -> str:
    """What a model's row shows instead of numbers: `failed`, `incomplete` or nothing."""
    return {"failed": "failed", "incomplete": "incomplete"}.get(status, "")


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|#"})


def md_escape(text: Any) -> str:
    """Text safe inside a Markdown table cell: HTML-escaped, Markdown specials backslashed."""
    return html.escape(str(text), quote=False).translate(_MD_SPECIAL).replace("\n", " ")


def html_escape(text: Any) -> str:
    """Text safe in HTML element content and attribute values."""
    return html.escape(str(text), quote=True)


def interval_text(entry: Any, key: str) -> str:
    """`value [low, high]`; the value alone where the interval is unknown; empty for None."""
    if entry is None:
        return ""
    low, high = fmt(entry.low, key), fmt(entry.high, key)
    return f"{fmt(entry.value, key)} [{low}, {high}]" if low and high else fmt(entry.value, key)


def spread_text(entry: Any, key: str) -> str:
    """The seed spread `min–max` of a multi-seed value (empty for one seed)."""
    if entry is None or entry.seed_min is None or entry.seed_max is None:
        return ""
    return f"{fmt(entry.seed_min, key)}–{fmt(entry.seed_max, key)}"


def diff_text(comparison: Any, key: str, escape: Any = str) -> str:
    """A comparison as `+0.0123 [0.0101, 0.0145] vs B` (a tie marked), or, without stored
    predictions, whether the two intervals overlap; `escape` is applied to the model name."""
    if comparison is None:
        return ""
    tie = " (tie)" if comparison.tie else ""
    other = escape(comparison.other)
    if comparison.diff is None:
        apart = "overlap" if comparison.tie else "apart"
        return f"intervals {apart} vs {other}{tie}"
    return f"{signed_text(comparison.diff, key)} vs {other}{tie}"


def signed_text(diff: Any, key: str) -> str:
    """A difference with its interval, signs shown: `+0.0123 [+0.0101, +0.0145]`."""
    spec = "+" + digits(key)
    return f"{format(diff.value, spec)} [{format(diff.low, spec)}, {format(diff.high, spec)}]"


CELL_TEXT = {"failed": "failed", "missing": "—", "stale": "stale"}


def cell_text(cell: Any, metric: str, target: str) -> str:
    """A per-trace cell: the value, its rank on the trace (with ties) and the seed spread; or
    `failed`, `stale`, `—`."""
    if cell.status in CELL_TEXT:
        return CELL_TEXT[cell.status]
    entry = cell.metrics.get(metric)
    if entry is None:
        return ""
    standing = cell.standing.get(target)
    text = fmt(entry.value, metric) + (f" #{standing.text}" if standing else "")
    spread = spread_text(entry, metric)
    return text + (f" seeds {spread}" if spread else "")
