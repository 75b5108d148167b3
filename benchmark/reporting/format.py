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
