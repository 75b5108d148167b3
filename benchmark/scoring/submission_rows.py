"""Row validation of a submission file (README §7): a vectorised pass for valid files and a
line-by-line pass that names the first line breaking a rule, with the error they raise.

`parse_rows_fast` returns None on anything unusual; `parse_rows_slow` is the reference and finds
the line. Both return (positions, task ids, deltas, probabilities float64[n, columns]) in file
order, for the rows of `text` after its header.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

import numpy as np

from benchmark.data.splits import OTHER
from benchmark.scoring.metrics import MAX_DELTA_US, PROBA_TOL, TOP1_TOL

PROB_PREFIX = "p:"
MAX_LISTED = 5
P_MAX = 1.0 + PROBA_TOL  # a probability cell may exceed 1 by the row-sum tolerance (rounding)
# Plain ASCII numbers only: Python's float() and int() also take `1_000` and other scripts' digits.
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INTEGER = re.compile(r"[0-9]+")


class SubmissionError(ValueError):
    """An invalid submission file; `line` is the 1-based file line (None: the whole file)."""

    def __init__(self, message: str, line: int | None = None, rule: str = "") -> None:
        self.line = line
        self.rule = rule
        self.detail = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


def clip(text: str, width: int = 60) -> str:
    """`text` cut to `width` characters (with "..."), for messages that quote a cell."""
    return text if len(text) <= width else text[: width - 3] + "..."


def parse_rows_fast(text: str, columns: list[str], vocab_index: dict[str, int], lo: int, hi: int):
    """Vectorised parse and checks with pandas; None when anything is off (the slow path then
    finds and names the first offending line)."""
    import pandas as pd

    names = [f"c{i}" for i in range(len(columns))]
    dtypes: dict[str, Any] = {name: "float64" for name in names}
    dtypes["c0"] = "int64"
    dtypes["c1"] = str
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            skiprows=1,
            names=names,
            dtype=dtypes,
            keep_default_na=False,
            na_values={name: [""] for name in names[2:]},
            skip_blank_lines=True,
            engine="c",
            on_bad_lines="error",
        )
    except (ValueError, pd.errors.ParserError, OverflowError):
        return None
    n = hi - lo
    if len(frame) != n:
        return None
    positions = frame["c0"].to_numpy(np.int64)
    if positions.min() != lo or positions.max() != hi - 1 or len(np.unique(positions)) != n:
        return None
    found = pd.Index(list(vocab_index)).get_indexer(frame["c1"].to_numpy(object))
    if (found < 0).any():
        return None
    task = np.fromiter(vocab_index.values(), np.int64, len(vocab_index))[found]
    delta = frame["c2"].to_numpy(np.float64)
    if not (np.isfinite(delta).all() and (delta >= 0).all() and (delta <= MAX_DELTA_US).all()):
        return None
    probs = frame[names[3:]].to_numpy(np.float64) if len(names) > 3 else np.zeros((n, 0))
    if probs.shape[1]:
        if not (np.isfinite(probs).all() and (probs >= 0).all() and (probs <= P_MAX).all()):
            return None
        if (np.abs(probs.sum(axis=1) - 1.0) > PROBA_TOL).any():
            return None
        if not _top1_consistent(task, probs, columns, vocab_index).all():
            return None
    return positions, task, delta, probs


def _top1_consistent(task, probs, columns, vocab_index) -> np.ndarray:
    """Per row: the `task` column's probability is within TOP1_TOL of the row's maximum."""
    col_of = {vocab_index[c[len(PROB_PREFIX) :]]: k for k, c in enumerate(columns[3:])}
    lookup = np.full(max(vocab_index.values()) + 1, -1)
    for vid, k in col_of.items():
        lookup[vid] = k
    k = lookup[task]
    p_task = np.where(k >= 0, probs[np.arange(len(task)), np.maximum(k, 0)], 0.0)
    return p_task >= probs.max(axis=1) - TOP1_TOL


def _number(cell: str, what: str, line: int) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise SubmissionError(
            f"{what} {clip(cell)!r} is not a number", line, "non-numeric"
        ) from None
    if not math.isfinite(value):
        raise SubmissionError(f"{what} is {cell.strip()}; it must be a finite number", line, "nan")
    if not DECIMAL.fullmatch(cell.strip()):
        raise SubmissionError(
            f"{what} {clip(cell)!r} is not a plain decimal number (ASCII digits, no `_`)",
            line,
            "non-numeric",
        )
    return value


def parse_rows_slow(text: str, columns: list[str], vocab_index: dict[str, int], lo: int, hi: int):
    """Row-by-row validation in file order; raises at the first violated rule."""
    width = len(columns)
    prob_cols = columns[3:]
    n = hi - lo
    first_line: dict[int, int] = {}
    positions: list[int] = []
    tasks: list[int] = []
    deltas: list[float] = []
    probs: list[list[float]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        next(reader)  # the header, already checked
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            if not row or row == [""]:
                continue  # blank line
            line = start
            if len(row) != width:
                raise SubmissionError(
                    f"{len(row)} fields, the header has {width}", line, "field count"
                )
            cell = row[0].strip()
            try:
                if not INTEGER.fullmatch(cell):
                    raise ValueError(cell)
                pos = int(cell)
            except ValueError:
                raise SubmissionError(
                    f"position {clip(row[0])!r} is not an integer row index", line, "non-numeric"
                ) from None
            if not lo <= pos < hi:
                raise SubmissionError(
                    f"position {pos} is not a test position of this trace (those are "
                    f"{lo}..{hi - 1})",
                    line,
                    "extra position",
                )
            if pos in first_line:
                raise SubmissionError(
                    f"position {pos} appears again (first on line {first_line[pos]})",
                    line,
                    "duplicate position",
                )
            first_line[pos] = line
            task = vocab_index.get(row[1])
            if task is None:
                raise SubmissionError(
                    f"unknown task {clip(row[1])!r}; tasks must be in the trace's vocabulary "
                    f"(data/splits.json) or `{OTHER}` for any other task",
                    line,
                    "unknown task",
                )
            delta = _number(row[2], "delta_us", line)
            if delta < 0:
                raise SubmissionError(
                    f"delta_us {row[2].strip()} is negative; run lengths are >= 0",
                    line,
                    "negative delta",
                )
            if delta > MAX_DELTA_US:
                raise SubmissionError(
                    f"delta_us {row[2].strip()} is above {MAX_DELTA_US:g} microseconds "
                    "(11.6 days), longer than any run",
                    line,
                    "delta too large",
                )
            p = [_number(c, col, line) for c, col in zip(row[3:], prob_cols, strict=True)]
            for value, col in zip(p, prob_cols, strict=True):
                if not 0.0 <= value <= P_MAX:
                    raise SubmissionError(
                        f"{col} = {value!r} is not a probability in [0, 1]", line, "probability"
                    )
            if p:
                total = math.fsum(p)
                if abs(total - 1.0) > PROBA_TOL:
                    raise SubmissionError(
                        f"the probabilities sum to {total:.6g}, not 1 (tolerance {PROBA_TOL:g})",
                        line,
                        "probabilities sum",
                    )
                own = next(
                    (v for v, col in zip(p, prob_cols, strict=True) if col[2:] == row[1]), 0.0
                )
                if own < max(p) - TOP1_TOL:
                    raise SubmissionError(
                        f"task {clip(row[1])!r} has probability {own!r} but the row's largest "
                        f"is {max(p)!r}; `task` must be a most probable task",
                        line,
                        "task not top-1",
                    )
            positions.append(pos)
            tasks.append(task)
            deltas.append(delta)
            probs.append(p)
    except csv.Error as error:
        raise SubmissionError(f"malformed CSV ({error})", reader.line_num, "csv") from None
    if len(positions) < n:
        missing = np.setdiff1d(np.arange(lo, hi), np.fromiter(first_line, np.int64))
        listed = ", ".join(str(int(p)) for p in missing[:MAX_LISTED])
        more = f", ... ({len(missing):,} in all)" if len(missing) > MAX_LISTED else ""
        raise SubmissionError(
            f"positions missing: {listed}{more}; the file needs one row for every test position "
            f"{lo}..{hi - 1}",
            rule="missing positions",
        )
    return (
        np.asarray(positions, dtype=np.int64),
        np.asarray(tasks, dtype=np.int64),
        np.asarray(deltas, dtype=np.float64),
        np.asarray(probs, dtype=np.float64).reshape(n, len(prob_cols)),
    )
