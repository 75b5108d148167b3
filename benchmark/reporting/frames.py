"""The numbers behind each figure (README §6), as pure functions of the Board, stored results
and the data: no drawing here, so each figure's numbers are tested on their own.

Every frame reads the Board's verdicts (a cell that is not `ok` on the Board is never drawn) and
the stored predictions; nothing is re-collected or re-trained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from benchmark.reporting.boardtypes import Board
from benchmark.reporting.ceilings import TITLES, ceiling_value, kinds
from benchmark.results.store import Stored
from benchmark.scoring.metrics import METRICS, main_metric

CURVE_X_KEYS = ("epoch", "round", "iteration", "step")
JOINT_GROUPS = ("task+delta", "delta+task")  # one fit for both targets: no group suffix


def best_model(
    board: Board, target: str, trace: str | None = None, *, learned: bool = False
) -> str | None:
    """The best model for `target` by its main metric: on the mean over traces, or on one
    trace's `ok` cells; `learned` leaves the reference predictors out. Ties go by name."""
    metric = main_metric(target)
    candidates = []
    for row in board.models:
        if target not in row.targets or (learned and row.kind == "reference"):
            continue
        if trace is None:
            entry = row.mean.get(metric)
        else:
            cell = row.per_trace.get(trace)
            entry = cell.metrics.get(metric) if cell is not None and cell.status == "ok" else None
        if entry is not None:
            candidates.append((METRICS[metric].sort_key(entry.value), row.model))
    return min(candidates)[1] if candidates else None


def task_shares(tasks: pd.Series, top: int) -> pd.DataFrame:
    """Share of runs of the `top` most frequent tasks, then one row for all the others.

    Columns `label`, `share`, `others` (True on the last row, present only if others exist).
    """
    share = tasks.astype(str).value_counts(normalize=True)
    head = share.iloc[:top]
    frame = pd.DataFrame({"label": list(head.index), "share": head.to_numpy(), "others": False})
    rest = float(share.iloc[top:].sum())
    if rest > 0:
        extra = {"label": f"{len(share) - top} others", "share": rest, "others": True}
        frame = pd.concat([frame, pd.DataFrame([extra])], ignore_index=True)
    return frame


def positive_deltas(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every run length above 0 µs (the log axis cannot show 0), with its trace."""
    frames = []
    for trace, table in tables.items():
        delta = table["delta_us"].to_numpy(np.float64)
        frames.append(pd.DataFrame({"delta_us": delta[delta > 0], "trace": trace}))
    return pd.concat(frames, ignore_index=True)


def training_curves(stored: Sequence[Stored]) -> pd.DataFrame:
    """Every numeric series of the stored training curves (losses only, when any series is a
    loss): model (with the fit's target group unless it is a joint fit), trace, seed, series,
    step, value; non-finite values are left out."""
    rows = []
    for s in stored:
        for group, curve in (s.result.get("training_curve") or {}).items():
            if not isinstance(curve, dict):
                continue
            xkey = next((k for k in CURVE_X_KEYS if k in curve), None)
            label = s.model + ("" if group in JOINT_GROUPS else f" ({group})")
            for key, values in curve.items():
                if key == xkey or not isinstance(values, list) or not values:
                    continue
                if not all(isinstance(v, int | float) for v in values if v is not None):
                    continue
                steps = curve[xkey] if xkey else list(range(1, len(values) + 1))
                for step, value in zip(steps, values, strict=False):
                    if value is None or not math.isfinite(float(value)):
                        continue
                    rows.append((label, s.trace, f"seed {s.seed}", key, step, float(value)))
    frame = pd.DataFrame(rows, columns=["model", "trace", "seed", "series", "step", "value"])
    losses = frame[frame["series"].str.contains("loss")]
    return losses.reset_index(drop=True) if len(losses) else frame


def main_metric_bars(board: Board, target: str) -> pd.DataFrame:
    """Models with a mean of `target`'s main metric, in rank order: model, kind, value, low,
    high."""
    metric = main_metric(target)
    rows = [
        (m.model, m.kind, m.mean[metric].value, m.mean[metric].low, m.mean[metric].high)
        for m in board.ordered(target)
        if metric in m.mean
    ]
    return pd.DataFrame(rows, columns=["model", "kind", "value", "low", "high"])


def latency_points(board: Board, target: str) -> pd.DataFrame:
    """Models with a mean main metric and an online latency: model, kind, p50_us, p99_us,
    value, low, high (rank order)."""
    metric = main_metric(target)
    rows = []
    for m in board.ordered(target):
        entry, p50 = m.mean.get(metric), m.costs.get("online_p50_us")
        if target in m.targets and entry is not None and p50:
            p99 = m.costs.get("online_p99_us") or p50
            rows.append((m.model, m.kind, p50, p99, entry.value, entry.low, entry.high))
    columns = ["model", "kind", "p50_us", "p99_us", "value", "low", "high"]
    return pd.DataFrame(rows, columns=columns)


def frontier(points: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """The latency frontier: the points no faster point beats or equals (sorted by p50)."""
    sign = 1.0 if higher_is_better else -1.0
    order = points.assign(_key=-sign * points["value"]).sort_values(
        ["p50_us", "_key", "model"], kind="stable"
    )
    keep, best = [], -math.inf
    for index, value in zip(order.index, order["value"], strict=True):
        if sign * value > best:
            keep.append(index)
            best = sign * value
    return points.loc[keep].reset_index(drop=True)


def confusion(true: np.ndarray, pred: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised confusion matrix over the `k` most frequent true tasks plus one row and
    column for all others: (share float[k+1, k+1], the top task ids int[k] by frequency)."""
    ids, counts = np.unique(true, return_counts=True)
    top = ids[np.argsort(-counts, kind="stable")][:k]
    lookup = {int(t): i for i, t in enumerate(top)}
    n = len(top)
    t_idx = np.array([lookup.get(int(t), n) for t in true], dtype=np.int64)
    p_idx = np.array([lookup.get(int(p), n) for p in pred], dtype=np.int64)
    matrix = np.zeros((n + 1, n + 1))
    np.add.at(matrix, (t_idx, p_idx), 1)
    rows = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0), top


def ceiling_comparison(board: Board, references: Sequence[str] = ("markov", "majority")):
    """Per trace: each ceiling, the best learned model and the reference models' accuracy.

    Columns trace, series, value, model (the best learned model's name, else "")."""
    rows = []
    for trace in board.traces:
        for kind in kinds(board.ceiling):
            value = ceiling_value(board.ceiling.get(trace), kind)
            if value is not None:
                rows.append((trace, TITLES[kind], value, ""))
        best = best_model(board, "task", trace, learned=True)
        if best is not None:
            entry = board.row(best).per_trace[trace].metrics["acc"]
            rows.append((trace, "best learned model", entry.value, best))
        for ref in references:
            row = next((m for m in board.models if m.model == ref), None)
            cell = row.per_trace.get(trace) if row is not None else None
            if cell is not None and cell.status == "ok" and "acc" in cell.metrics:
                rows.append((trace, ref, cell.metrics["acc"].value, ""))
    return pd.DataFrame(rows, columns=["trace", "series", "value", "model"])


def one_step(stored_positions: np.ndarray, stored_delta: np.ndarray, window: np.ndarray):
    """The stored one-step delta predictions at the `window` positions that were scored:
    (indices into `window`, predicted delta_us)."""
    index = {int(p): i for i, p in enumerate(stored_positions)}
    keep = np.array([i for i, p in enumerate(window) if int(p) in index], dtype=np.int64)
    values = np.array([stored_delta[index[int(window[i])]] for i in keep], dtype=np.float64)
    return keep, values


def horizon_curves(board: Board) -> pd.DataFrame:
    """acc@h per (trace, model) at the recorded steps, from the cells the Board scores: trace,
    model, kind, h, acc, low, high."""
    rows = []
    for m in board.models:
        for trace, cell in m.per_trace.items():
            if cell.status != "ok":
                continue
            for metric, entry in cell.horizon.items():
                name, _, h = metric.partition("@")
                if name == "acc" and h.isdigit():
                    values = (entry.value, entry.low, entry.high)
                    rows.append((trace, m.model, m.kind, int(h), *values))
    columns = ["trace", "model", "kind", "h", "acc", "low", "high"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["trace", "model", "h"], ignore_index=True)


def free_run_window(origins: np.ndarray, start: int, after: int) -> int | None:
    """The index of the first forecast origin at least `after` rows past `start` (None if
    none): where the delta_sequence figure's free run begins."""
    at = int(np.searchsorted(origins, start + after))
    return at if at < len(origins) else None
