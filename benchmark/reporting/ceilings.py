"""The per-trace predictability ceilings the board shows (README §5), computed from the data's
test rows."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmark.results.store import json_safe


def ceiling_value(entry: dict[str, Any] | None) -> float | None:
    """The maximum predictability in a ceiling entry (None if absent)."""
    value = (entry or {}).get("max_predictability")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def mean_ceiling(ceilings: dict[str, dict[str, Any]], traces: Iterable[str]) -> float | None:
    """The unweighted mean of the traces' ceilings; None unless every trace has one."""
    values = [ceiling_value(ceilings.get(t)) for t in traces]
    if not values or any(v is None for v in values):
        return None
    return math.fsum(values) / len(values)  # type: ignore[arg-type]


def compute_ceilings(
    traces: Iterable[str], data_root: Path | None = None, log: Callable[[str], None] | None = None
) -> dict[str, dict[str, Any]]:
    """`ceiling.ceiling` of each trace's test task sequence (a trace that cannot be loaded has
    none, with a note through `log`)."""
    from benchmark.data.dataset import load_trace
    from benchmark.scoring.ceiling import ceiling

    out = {}
    for trace in traces:
        try:
            runs = load_trace(trace, data_root)
        except (FileNotFoundError, KeyError, ValueError) as error:
            if log:
                log(f"no ceiling for {trace}: {error}")
            continue
        lo, hi = runs.split.test
        out[trace] = json_safe(dict(ceiling(runs.task[lo:hi])))
    return out
