"""Behaviours that mutation testing (issue 17) found unpinned in submissions and the manifest.

Each test pins one thing a user or caller relies on; expected values are written out by hand.
The submission fixtures (a synthetic data root, its `runs` and independently read `truth`) are
those of tests/test_submissions.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.data.manifest import load_manifest
from benchmark.scoring.submission_rows import parse_rows_fast, parse_rows_slow
from benchmark.scoring.submissions import (
    SubmissionError,
    read_submission,
    sample_rows,
    write_sample,
)
from tests import test_submissions as _submissions
from tests.test_submissions import perfect_rows, write_csv

# The fixtures of tests/test_submissions.py, used here by name (`use_data` is autouse).
data_root = _submissions.data_root
use_data = _submissions.use_data
runs = _submissions.runs
truth = _submissions.truth

ROOT = Path(__file__).resolve().parents[1]


# -- the sample submission -------------------------------------------------------------------
def test_the_sample_is_one_hot_unless_asked(tmp_path, runs, truth) -> None:
    """`sample_rows` and `write_sample` add `p:` columns only with `proba=True`."""
    header, rows = sample_rows(runs)
    assert header == ["position", "task", "delta_us"]
    assert all(len(row) == 3 for row in rows)
    out = write_sample(runs, tmp_path / "sample.csv")
    assert out == tmp_path / "sample.csv"
    lines = out.read_text().splitlines()
    assert lines[0] == "position,task,delta_us"
    assert len(lines) == 1 + truth["hi"] - truth["lo"]
    assert all(line.count(",") == 2 or '"' in line for line in lines[1:])
    wide, _ = sample_rows(runs, proba=True)
    assert wide[3:] == [f"p:{t}" for t in truth["vocab"]]


# -- the fast row parser ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["NA", "null", "None", "N/A", "nan", "#N/A"])
def test_the_fast_path_reads_na_markers_as_task_names(name) -> None:
    """Every cell is text: a task spelled like a pandas NA marker is that task, not missing."""
    index = {"<other>": 0, name: 1}
    text = f"position,task,delta_us\n5,{name},1.5\n6,<other>,2.0\n"
    parsed = parse_rows_fast(text, ["position", "task", "delta_us"], index, 5, 7)
    assert parsed is not None
    positions, task, delta, probs = parsed
    assert positions.tolist() == [5, 6]
    assert task.tolist() == [1, 0]
    assert delta.tolist() == [1.5, 2.0]
    assert probs.shape == (2, 0)


# -- the line-by-line parser -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("cell", "shown"), [("nginx:101\r\nx", r"'nginx:101\r\nx'"), ("a\rb", r"'a\rb'")]
)
def test_a_quoted_cell_with_line_breaks_is_quoted_as_written(
    tmp_path, truth, runs, cell, shown
) -> None:
    """Line ends inside a quoted cell are kept as they are (no newline translation)."""
    header, rows = perfect_rows(truth)
    rows[4][1] = "QUOTED"
    path = write_csv(tmp_path / "cr.csv", header, rows)
    path.write_bytes(path.read_bytes().replace(b"QUOTED", f'"{cell}"'.encode()))
    with pytest.raises(SubmissionError) as info:
        read_submission(path, runs)
    error = info.value
    assert (error.line, error.rule) == (6, "unknown task")
    assert error.detail == (
        f"unknown task {shown}; tasks must be in the trace's vocabulary (data/splits.json) "
        "or `<other>` for any other task"
    )


def test_a_loose_number_is_refused_with_its_line_and_rule(tmp_path, truth, runs) -> None:
    """`1_000` parses in Python but is no plain decimal: refused, naming the cell and line."""
    header, rows = perfect_rows(truth)
    rows[7][2] = "1_000"
    with pytest.raises(SubmissionError) as info:
        read_submission(write_csv(tmp_path / "loose.csv", header, rows), runs)
    error = info.value
    assert (error.line, error.rule, error.detail) == (
        9,
        "non-numeric",
        "delta_us '1_000' is not a plain decimal number (ASCII digits, no `_`)",
    )


def test_a_delta_above_the_longest_run_is_refused(tmp_path, truth, runs) -> None:
    """1e12 us is the largest delta accepted (by both parsers); above it the line is named."""
    header, rows = perfect_rows(truth)
    rows[3][2] = "1e12"
    path = write_csv(tmp_path / "edge.csv", header, rows)
    index = {name: i for i, name in enumerate(runs.vocabulary)}
    slow = parse_rows_slow(path.read_text(), header, index, truth["lo"], truth["hi"])
    assert slow[2][3] == 1e12
    fast = parse_rows_fast(path.read_text(), header, index, truth["lo"], truth["hi"])
    assert fast is not None and fast[2][3] == 1e12  # a valid file, read by the fast path
    assert read_submission(path, runs).delta_us[3] == 1e12
    rows[5][2] = " 1.5e12"
    with pytest.raises(SubmissionError) as info:
        read_submission(write_csv(tmp_path / "long.csv", header, rows), runs)
    error = info.value
    assert (error.line, error.rule, error.detail) == (
        7,
        "delta too large",
        "delta_us 1.5e12 is above 1e+12 microseconds (11.6 days), longer than any run",
    )


# -- the manifest ----------------------------------------------------------------------------
def test_the_manifest_is_read_as_utf8_whatever_the_locale(tmp_path) -> None:
    """A manifest naming a trace with a non-ASCII character loads under an ASCII locale too."""
    root = tmp_path / "data"
    root.mkdir()
    manifest = {"version": 1, "files": {}, "traces": {"café": {}}}
    raw = json.dumps(manifest, ensure_ascii=False).encode("utf-8")
    assert b"caf\xc3\xa9" in raw
    (root / "manifest.json").write_bytes(raw)
    assert load_manifest(root)["traces"] == {"café": {}}
    env = {
        **os.environ,
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONIOENCODING": "utf-8",
    }
    code = (
        "import sys; from pathlib import Path; "
        "from benchmark.data.manifest import load_manifest; "
        "print(ascii(sorted(load_manifest(Path(sys.argv[1]))['traces'])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == r"['caf\xe9']"


def test_a_header_that_is_not_one_csv_line_is_refused_under_the_header_rule(
    tmp_path, truth, runs
) -> None:
    """The csv.Error branch of the header check reports rule `header` on line 1, like every
    other header refusal (the rule is what `check` and the damage report group by)."""
    _, rows = perfect_rows(truth)
    body = "".join(",".join(str(v) for v in r) + "\n" for r in rows)
    path = tmp_path / "cr.csv"
    path.write_bytes(("position,task\r,delta_us\n" + body).encode())
    with pytest.raises(SubmissionError) as info:
        read_submission(path, runs)
    assert (info.value.line, info.value.rule) == (1, "header")


def test_rows_ended_by_a_lone_carriage_return_are_rows() -> None:
    """Old Mac line ends (CR alone) after the header end rows as LF does: the line parser reads
    the text with newline="" so that csv sees every kind of line end (with StringIO's default
    newline="\\n" a lone CR inside a line is csv's "new-line character seen in unquoted
    field")."""
    index = {"<other>": 0, "a": 1, "b": 2}
    columns = ["position", "task", "delta_us"]
    text = "position,task,delta_us\n5,a,1.5\r6,b,2.0\r7,<other>,3.0\r"
    positions, task, delta, probs = parse_rows_slow(text, columns, index, 5, 8)
    assert positions.tolist() == [5, 6, 7]
    assert task.tolist() == [1, 2, 0]
    assert delta.tolist() == [1.5, 2.0, 3.0]
    assert probs.shape == (3, 0)
