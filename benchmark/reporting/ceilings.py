"""The per-trace predictability ceilings the board shows (README §5), computed from the data's
test rows, each labelled with what it covers:

* `task_history`: `benchmark.scoring.ceiling.ceiling` of the test task sequence (Lempel-Ziv
  entropy rate + Fano), a bound for predictors that see the task history alone;
* `side_information`: `benchmark.scoring.ceiling.side_ceiling`, a bound conditioned on the side
  information every model is handed, learned on train+valid and scored on the test rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmark.reporting.boardtypes import SIDE_INFORMATION, TASK_HISTORY
from benchmark.results.store import json_safe

TASK_HISTORY_COVERS = "the task history alone (LZ entropy rate + Fano)"
TITLES = {TASK_HISTORY: "task-history ceiling", SIDE_INFORMATION: "side-information ceiling"}


def ceiling_value(entry: dict[str, Any] | None, kind: str = TASK_HISTORY) -> float | None:
    """The maximum predictability of one kind of ceiling in a trace's entry (None if absent)."""
    value = ((entry or {}).get(kind) or {}).get("max_predictability")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def mean_ceiling(
    ceilings: dict[str, dict[str, Any]], traces: Iterable[str], kind: str = TASK_HISTORY
) -> float | None:
    """The unweighted mean of the traces' ceilings of `kind`; None unless every trace has one."""
    values = [ceiling_value(ceilings.get(t), kind) for t in traces]
    if not values or any(v is None for v in values):
        return None
    return math.fsum(values) / len(values)  # type: ignore[arg-type]


HEADROOM_BASELINE = "markov"  # headroom: the task-history ceiling minus this model's test acc


def headroom(
    ceilings: dict[str, dict[str, Any]], markov_acc: dict[str, float | None], traces: Iterable[str]
) -> dict[str, float | None]:
    """Per trace, how much the task-history ceiling leaves above markov's accuracy (None when
    either is missing): what a trace still offers a model that beats first-order statistics."""
    out: dict[str, float | None] = {}
    for trace in traces:
        top, base = ceiling_value(ceilings.get(trace)), markov_acc.get(trace)
        # rounded to 12 places (+ 0.0 turns -0.0 into 0.0): no float noise like -1e-16 shown
        out[trace] = None if top is None or base is None else round(top - base, 12) + 0.0
    return out


def stored_headroom(board_file: Path, manifest: dict[str, Any]) -> dict[str, float | None]:
    """The headroom a written board (`leaderboard.json`) records for each trace whose data it
    scored is the manifest's (same parquet sha256); other traces, or no board, get None."""
    try:
        board = json.loads(board_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        board = {}
    recorded = board.get("headroom") if isinstance(board, dict) else None
    scored = board.get("data_sha256") if isinstance(board, dict) else None
    out: dict[str, float | None] = {}
    for trace in sorted(manifest.get("traces", {})):
        sha = manifest.get("files", {}).get(f"traces/{trace}.parquet")
        value = (recorded or {}).get(trace) if isinstance(recorded, dict) else None
        same_data = isinstance(scored, dict) and sha is not None and scored.get(trace) == sha
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        out[trace] = float(value) if same_data and ok and math.isfinite(value) else None
    return out


def kinds(ceilings: dict[str, dict[str, Any]]) -> list[str]:
    """The kinds of ceiling present on any trace, task history first."""
    present = {k for entry in ceilings.values() for k in entry}
    return [k for k in (TASK_HISTORY, SIDE_INFORMATION) if k in present]


def compute_ceilings(
    traces: Iterable[str], data_root: Path | None = None, log: Callable[[str], None] | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """Both ceilings of each trace's test rows (a trace that cannot be loaded has none).

    The side-information estimator learns on the train and valid rows before it scores the
    test rows, as every model does; the task-history LZ estimate reads the test rows only.
    """
    from benchmark.data.dataset import load_trace
    from benchmark.scoring.ceiling import ceiling, side_ceiling

    say = log or (lambda _m: None)
    out = {}
    for trace in traces:
        try:
            runs = load_trace(trace, data_root)
        except (FileNotFoundError, KeyError, ValueError) as error:
            say(f"no ceiling for {trace}: {error}")
            continue
        lo, hi = runs.split.test
        history = {**ceiling(runs.task[lo:hi]), "covers": TASK_HISTORY_COVERS}
        upto = slice(0, hi - runs.start)
        side = side_ceiling(
            runs.task[upto], runs.end_state[upto], runs.delta_us[upto], score_from=lo - runs.start
        )
        out[trace] = {TASK_HISTORY: json_safe(history), SIDE_INFORMATION: json_safe(dict(side))}
    return out
