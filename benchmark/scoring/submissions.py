"""Kaggle-style prediction files (README §7): write a sample, validate and score a submission.

Format (UTF-8 CSV, `,` separated, RFC 4180 quoting for task names with commas or quotes):

    position,task,delta_us[,p:<task>,...]

* one row per test position of the trace, in any order; `position` is the run's row index in
  `data/traces/<trace>.parquet` (the test positions are the rows `[test_start, test_end)` of
  `data/splits.json`);
* `task` is the predicted task (top-1): a name of the trace's label vocabulary (in
  `data/splits.json`) or `<other>`; with probability columns it must be one of the row's most
  probable tasks;
* `delta_us` is the predicted run length in microseconds, a finite number >= 0;
* optional `p:<task>` columns (each a vocabulary task or `<other>`, each at most once) give the
  task distribution: finite, in [0, 1], summing to 1 (tolerance 1e-3) per row; tasks without a
  column get probability 0. Without them the distribution is one-hot on `task` (so `log_loss`
  charges -ln(1e-7) for each miss and `top3` equals `acc`).

Validation refuses the file with a message that names the line (1 = the header) and the rule,
and never shows a true value. Files larger than a bound derived from the number of test positions
and columns are refused from their size alone, before anything is read; binary data on the first
line is refused after reading that line only.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.data.splits import OTHER
from benchmark.scoring.metrics import METRICS
from benchmark.scoring.submission_rows import (
    PROB_PREFIX,
    SubmissionError,
    clip,
    parse_rows_fast,
    parse_rows_slow,
)

BASE_COLUMNS = ("position", "task", "delta_us")
HEADER_HINT = "position,task,delta_us[,p:<task>,...]"
# Size bound: generous per-cell allowances (a float printed with 17 significant digits, sign and
# exponent takes 24 bytes; quoting can double a task name).
POSITION_BYTES = 24
NUMBER_BYTES = 40
SLACK_BYTES = 64 * 1024


@dataclass(frozen=True, eq=False)
class Submission:
    """A validated submission, rows sorted by position (= the trace's test positions)."""

    positions: np.ndarray  # int64[n]
    task: np.ndarray  # int64[n] vocabulary ids (top-1)
    delta_us: np.ndarray  # float64[n]
    proba: np.ndarray | None  # float32[n, V], None: one-hot on `task`
    columns: tuple[str, ...]

    def task_proba(self, n_tasks: int) -> np.ndarray:
        """float32[n, V]: the given distribution, or one-hot on `task`."""
        if self.proba is not None:
            return self.proba
        out = np.zeros((len(self.task), n_tasks), dtype=np.float32)
        out[np.arange(len(self.task)), self.task] = 1.0
        return out


# -- writing -----------------------------------------------------------------------------------
def sample_rows(runs: Runs, *, proba: bool = False) -> tuple[list[str], Iterator[list[str]]]:
    """Header and rows of the sample submission: the train+valid majority task and mean delta.

    With `proba`, `p:<task>` columns carry the train+valid task frequencies.
    """
    seen = runs.rows(runs.split.train[0], runs.split.valid[1])
    counts = np.bincount(seen.task, minlength=runs.n_tasks)
    majority = runs.vocabulary[int(np.argmax(counts))]  # ties: lowest id
    mean_delta = repr(float(np.mean(seen.delta_us)))
    header = list(BASE_COLUMNS)
    freq_cells: list[str] = []
    if proba:
        freq = counts / counts.sum()
        header += [PROB_PREFIX + name for name in runs.vocabulary]
        freq_cells = [repr(float(f)) for f in freq]
    positions = runs.test_positions()

    def rows() -> Iterator[list[str]]:
        for pos in positions:
            yield [str(int(pos)), majority, mean_delta, *freq_cells]

    return header, rows()


def write_sample(runs: Runs, out: str | Path, *, proba: bool = False) -> Path:
    """Write the sample submission of `runs`' trace to `out` (atomically); returns the path."""
    from benchmark.core.atomic import write_text

    header, rows = sample_rows(runs, proba=proba)
    write_text(out, to_csv(header, rows))
    return Path(out)


def to_csv(header: list[str], rows) -> str:
    """CSV text (RFC 4180 quoting, `\\n` line ends) of a header and rows of cells."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


# -- size bounds -------------------------------------------------------------------------------
def _task_bytes(vocabulary: tuple[str, ...]) -> int:
    return 2 * max(len(t.encode("utf-8")) for t in (*vocabulary, OTHER)) + 2


def header_limit(vocabulary: tuple[str, ...]) -> int:
    """The most bytes a valid header line can take (every task a probability column)."""
    return 1024 + (len(vocabulary) + 1) * (_task_bytes(vocabulary) + len(PROB_PREFIX) + 1)


def size_limit(n_positions: int, vocabulary: tuple[str, ...], n_prob: int | None = None) -> int:
    """The largest file accepted for `n_positions` rows and `n_prob` probability columns.

    `n_prob=None`: the bound for any header (all vocabulary tasks as columns), checked first.
    """
    n_prob = len(vocabulary) + 1 if n_prob is None else n_prob
    row = POSITION_BYTES + _task_bytes(vocabulary) + NUMBER_BYTES * (1 + n_prob) + n_prob + 4
    return header_limit(vocabulary) + n_positions * row + SLACK_BYTES


# -- reading -----------------------------------------------------------------------------------
def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _is_binary(line: bytes) -> bool:
    """Invalid UTF-8 or control characters (NUL included) in the first line, read up to a bound.

    A line cut at the bound may end inside a character: that incomplete tail is not an error.
    """
    try:  # not final: an incomplete last character is kept back, not an error
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(line)
    except UnicodeDecodeError:
        return True
    return any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text)


def _parse_header(first: bytes, vocab_index: dict[str, int]) -> tuple[list[str], list[int]]:
    """Columns and the vocabulary id of each probability column."""
    text = first.decode("utf-8-sig").rstrip("\r\n")
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error as error:  # e.g. a lone carriage return inside the header line
        raise SubmissionError(
            f"header {clip(text)!r} is not one CSV line ({error}); expected `{HEADER_HINT}`",
            1,
            "header",
        ) from None
    if tuple(fields[:3]) != BASE_COLUMNS:
        raise SubmissionError(f"wrong header {clip(text)!r}; expected `{HEADER_HINT}`", 1, "header")
    prob_ids: list[int] = []
    seen: set[str] = set()
    for col in fields[3:]:
        if not col.startswith(PROB_PREFIX):
            raise SubmissionError(
                f"unexpected column {clip(col)!r}; after position,task,delta_us only "
                f"`p:<task>` probability columns are allowed",
                1,
                "header",
            )
        task = col[len(PROB_PREFIX) :]
        if task not in vocab_index:
            raise SubmissionError(
                f"probability column {clip(col)!r} names an unknown task; tasks must be in "
                f"the trace's vocabulary (data/splits.json) or `{OTHER}`",
                1,
                "unknown task",
            )
        if task in seen:
            raise SubmissionError(f"column {clip(col)!r} appears twice", 1, "header")
        seen.add(task)
        prob_ids.append(vocab_index[task])
    return fields, prob_ids


def read_submission(path: str | Path, runs: Runs) -> Submission:
    """Validate the file at `path` against `runs`' test positions and vocabulary."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError("no such file")
    vocabulary = runs.vocabulary
    vocab_index = {name: i for i, name in enumerate(vocabulary)}  # `<other>` is id 0
    lo, hi = runs.split.test
    n = hi - lo
    size = path.stat().st_size
    if size == 0:
        raise SubmissionError(
            f"the file is empty; expected the header `{HEADER_HINT}` and one row per test "
            f"position ({n} rows)",
            rule="empty file",
        )
    limit = size_limit(n, vocabulary)
    if size > limit:
        raise SubmissionError(
            f"the file has {size:,} bytes; a submission for the {n:,} test positions of this "
            f"trace has at most {limit:,} bytes. Refused without reading it.",
            rule="file size",
        )
    with open(path, "rb") as handle:
        first = handle.readline(header_limit(vocabulary) + 1)
    if _is_binary(first):
        raise SubmissionError(
            f"binary data, not CSV text; expected the header `{HEADER_HINT}`", 1, "not text"
        )
    if not first.endswith(b"\n") and len(first) > header_limit(vocabulary):
        raise SubmissionError(
            f"the header line is longer than any valid header; expected `{HEADER_HINT}`",
            1,
            "header",
        )
    columns, prob_ids = _parse_header(first, vocab_index)
    limit = size_limit(n, vocabulary, len(prob_ids))
    if size > limit:
        raise SubmissionError(
            f"the file has {size:,} bytes; with {len(columns)} columns and {n:,} test positions "
            f"a submission has at most {limit:,} bytes",
            rule="file size",
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionError("not UTF-8 text", _line_of(data, error.start), "not text") from None
    parsed = parse_rows_fast(text, columns, vocab_index, lo, hi)
    if parsed is None:
        parsed = parse_rows_slow(text, columns, vocab_index, lo, hi)
    positions, task, delta, probs = parsed
    order = np.argsort(positions)  # positions are distinct
    proba = None
    if prob_ids:
        proba = np.zeros((n, len(vocabulary)), dtype=np.float32)
        proba[:, prob_ids] = probs[order]
    return Submission(
        positions=positions[order],
        task=task[order],
        delta_us=delta[order],
        proba=proba,
        columns=tuple(columns),
    )


# -- scoring -----------------------------------------------------------------------------------
def score_file(
    path: str | Path,
    trace: str,
    *,
    root: Path | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Validate and score a submission for `trace`: metrics with 95% bootstrap intervals."""
    from benchmark.data.dataset import load_trace
    from benchmark.data.manifest import trace_sha256

    runs = load_trace(trace, root)
    sub = read_submission(path, runs)
    out = score_submission(sub, runs, n_resamples=n_resamples, seed=seed)
    return {"file": str(path), "data_sha256": trace_sha256(trace, root), **out}


def score_submission(
    sub: Submission, runs: Runs, *, n_resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Metrics of a validated submission on `runs`' test positions."""
    from benchmark.scoring.bootstrap import intervals
    from benchmark.scoring.metrics import contributions

    local = sub.positions - runs.start
    contrib = contributions(
        y_true=runs.task[local],
        proba=sub.task_proba(runs.n_tasks),
        task_comm=runs.task_comm,
        true_comm=runs.comm[local],
        pred=sub.task,
        true_us=runs.delta_us[local],
        pred_us=sub.delta_us,
        sigma_us=runs.sigma_us,
    )
    metrics = intervals(contrib, n_resamples=n_resamples, seed=seed)
    for name, entry in metrics.items():
        entry["higher_is_better"] = METRICS[name].higher_is_better
        entry["target"] = METRICS[name].target
    return {
        "trace": runs.name,
        "positions": len(sub.positions),
        "probabilities": sub.proba is not None,
        "metrics": metrics,
    }
