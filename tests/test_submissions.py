"""Submission files: sample, score, and every validation rule (exit code 2, line, no truth leaked).

The data root here is a fixture built for these properties: a small synthetic run table in the
shipped layout (traces/<name>.parquet, manifest.json with sha256, splits.json by the fixed
rule), with task names that need CSV quoting (a comma, a double quote, a space).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import benchmark.cli.submit  # noqa: F401  (registers the commands)
from benchmark.cli.app import app
from benchmark.data.dataset import load_trace
from benchmark.data.manifest import sha256_file
from benchmark.data.splits import OTHER, compute_split, write_splits
from benchmark.scoring.metrics import PROBA_TOL
from benchmark.scoring.submission_rows import parse_rows_fast as _parse_fast
from benchmark.scoring.submission_rows import parse_rows_slow as _parse_slow
from benchmark.scoring.submissions import (
    SubmissionError,
    read_submission,
    score_submission,
    size_limit,
)

TRACE = "fixture"
TASKS = ["nginx:101", "nginx:102", "<idle>", "ab:200", "odd, comm:7", 'quo"te:8', "sp ace:9"]
runner = CliRunner()


def synthetic_frame(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weights = np.array([0.3, 0.2, 0.25, 0.1, 0.06, 0.05, 0.04])
    tasks = np.array(TASKS, dtype=object)[rng.choice(len(TASKS), n, p=weights)]
    tasks[rng.random(n) < 0.01] = "rare:999"  # seen < 2 times -> <other> for some rows
    for i in range(0, n, 97):
        tasks[i] = f"once:{i}"
    delta = rng.lognormal(3.0, 1.0, n)
    t_ns = np.cumsum(np.r_[0, (delta[:-1] * 1000).astype(np.int64)]) + 10**12
    comm = [t if t == "<idle>" else t.rsplit(":", 1)[0] for t in tasks]
    return pd.DataFrame(
        {
            "t_ns": t_ns.astype(np.int64),
            "task": tasks.astype(str),
            "comm": comm,
            "pid": np.arange(n, dtype=np.int32),
            "prio": np.full(n, 120, dtype=np.int16),
            "delta_us": delta,
            "end_state": np.where(rng.random(n) < 0.5, "S", "R"),
        }
    )


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    frame = synthetic_frame()
    path = root / "traces" / f"{TRACE}.parquet"
    path.parent.mkdir(parents=True)
    frame.to_parquet(path, index=False)
    write_splits(root / "splits.json", {TRACE: compute_split(frame)})
    files = {rel: sha256_file(root / rel) for rel in (f"traces/{TRACE}.parquet", "splits.json")}
    manifest = {"version": 1, "files": files, "traces": {TRACE: {"runs": len(frame)}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(autouse=True)
def use_data(data_root, monkeypatch) -> None:
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(data_root))


@pytest.fixture(scope="module")
def runs(data_root):
    return load_trace(TRACE, data_root)


@pytest.fixture(scope="module")
def truth(data_root, runs) -> dict:
    """The true test rows, read independently of the code under test (parquet + splits.json)."""
    frame = pd.read_parquet(data_root / "traces" / f"{TRACE}.parquet")
    split = json.loads((data_root / "splits.json").read_text())["traces"][TRACE]
    lo, hi = split["test"]
    vocab = split["vocabulary"]
    task = [t if t in vocab else OTHER for t in frame["task"]]
    return {
        "lo": lo,
        "hi": hi,
        "vocab": vocab,
        "task": task,  # vocabulary names (or <other>) of every row
        "delta": frame["delta_us"].to_numpy(),
        "seen": (split["train"][0], split["valid"][1]),
    }


def write_csv(path: Path, header: list[str], rows: list[list], *, newline: str = "\n") -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), newline="")
    return path


def perfect_rows(truth: dict, *, proba: bool = False) -> tuple[list[str], list[list]]:
    header = ["position", "task", "delta_us"]
    if proba:
        header += [f"p:{t}" for t in truth["vocab"]]
    rows = []
    for pos in range(truth["lo"], truth["hi"]):
        row = [pos, truth["task"][pos], repr(float(truth["delta"][pos]))]
        if proba:
            row += [1.0 if t == truth["task"][pos] else 0.0 for t in truth["vocab"]]
        rows.append(row)
    return header, rows


def score_cli(path: Path, *extra: str):
    return runner.invoke(app, ["score", str(path), "--trace", TRACE, *extra])


def metrics_of(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["metrics"]


# -- valid files ---------------------------------------------------------------------------------
def test_sample_submission_scores_as_the_majority_share(tmp_path, truth) -> None:
    out = tmp_path / "sample.csv"
    result = runner.invoke(app, ["sample-submission", "--trace", TRACE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["position", "task", "delta_us"]
    assert frame["position"].tolist() == list(range(truth["lo"], truth["hi"]))
    a, b = truth["seen"]
    seen_tasks = pd.Series(truth["task"][a:b])
    majority = seen_tasks.value_counts().index[0]
    assert set(frame["task"]) == {majority}
    assert frame["delta_us"].iloc[0] == pytest.approx(truth["delta"][a:b].mean())

    m = metrics_of(score_cli(out, "--json"))
    test_tasks = truth["task"][truth["lo"] : truth["hi"]]
    share = np.mean([t == majority for t in test_tasks])
    assert m["acc"]["value"] == pytest.approx(share)
    assert m["top3"]["value"] == pytest.approx(share)  # one-hot
    true_delta = truth["delta"][truth["lo"] : truth["hi"]]
    assert m["mae_us"]["value"] == pytest.approx(np.mean(np.abs(true_delta - b_mean(truth))))
    for entry in m.values():
        assert entry["low"] <= entry["value"] <= entry["high"]


def b_mean(truth: dict) -> float:
    a, b = truth["seen"]
    return float(truth["delta"][a:b].mean())


def test_sample_with_probabilities(tmp_path, truth) -> None:
    out = tmp_path / "sample-p.csv"
    result = runner.invoke(app, ["sample-submission", "-t", TRACE, "-o", str(out), "--proba"])
    assert result.exit_code == 0, result.output
    header = next(csv.reader(out.open()))
    assert header[3:] == [f"p:{t}" for t in truth["vocab"]]
    m = metrics_of(score_cli(out, "--json"))
    a, b = truth["seen"]
    freq = pd.Series(truth["task"][a:b]).value_counts(normalize=True)
    test_tasks = truth["task"][truth["lo"] : truth["hi"]]
    expected = -np.mean([math.log(max(freq.get(t, 0.0), 1e-7)) for t in test_tasks])
    assert m["log_loss"]["value"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("proba", [False, True])
def test_perfect_submission(tmp_path, truth, proba) -> None:
    header, rows = perfect_rows(truth, proba=proba)
    m = metrics_of(score_cli(write_csv(tmp_path / "perfect.csv", header, rows), "--json"))
    assert m["acc"]["value"] == 1.0
    assert m["acc_comm"]["value"] == 1.0
    assert m["macro_f1"]["value"] == 1.0
    assert m["log_loss"]["value"] == 0.0
    assert m["mse_z"]["value"] == 0.0
    assert m["mae_us"]["value"] == 0.0
    assert m["mse_z"]["low"] == m["mse_z"]["high"] == 0.0


def test_table_output(tmp_path, truth) -> None:
    header, rows = perfect_rows(truth)
    result = score_cli(write_csv(tmp_path / "t.csv", header, rows))
    assert result.exit_code == 0, result.output
    assert "95% interval" in result.stdout
    # a perfect file: each metric's row shows its perfect value, its interval and its direction
    expected = {
        "acc": ("1.0000", "higher"),
        "acc_comm": ("1.0000", "higher"),
        "top3": ("1.0000", "higher"),
        "macro_f1": ("1.0000", "higher"),
        "log_loss": ("0.0000", "lower"),
        "mse_z": ("0.0000", "lower"),
        "mae_us": ("0.0000", "lower"),
        "msle": ("0.0000", "lower"),
    }
    cells = {}
    for line in result.stdout.splitlines():
        parts = [p.strip() for p in line.strip("│┃|").split("│")]
        if parts and parts[0] in expected:
            cells[parts[0]] = parts
    assert set(cells) == set(expected)
    for name, (value, better) in expected.items():
        assert cells[name][2] == value and cells[name][4] == better, cells[name]
        if name != "macro_f1":  # resamples missing a rare class score it F1 = 0 (metrics.py)
            assert cells[name][3] == f"[{value}, {value}]", cells[name]
    assert "one-hot" in result.stdout  # no p: columns


def test_lenient_but_valid_forms(tmp_path, truth, runs) -> None:
    """Shuffled rows, CRLF, a BOM, blank lines, a subset of p: columns, sums off by < 1e-3."""
    header, rows = perfect_rows(truth)
    rng = np.random.default_rng(0)
    rows = [rows[i] for i in rng.permutation(len(rows))]
    path = write_csv(tmp_path / "crlf.csv", header, rows, newline="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes() + b"\r\n\r\n")
    sub = read_submission(path, runs)
    assert sub.positions.tolist() == list(range(truth["lo"], truth["hi"]))

    vocab = truth["vocab"]
    header = ["position", "task", "delta_us", f"p:{vocab[1]}", f"p:{vocab[2]}"]
    rows = [[p, vocab[1], 3.0, 0.6004, 0.4] for p in range(truth["lo"], truth["hi"])]
    sub = read_submission(write_csv(tmp_path / "subset.csv", header, rows), runs)
    assert sub.proba is not None and sub.proba.shape == (len(rows), len(vocab))
    assert sub.proba[:, 1] == pytest.approx(0.6004) and sub.proba[:, 0].max() == 0.0


def test_fast_and_slow_paths_agree(tmp_path, truth, runs) -> None:
    header, rows = perfect_rows(truth, proba=True)
    path = write_csv(tmp_path / "both.csv", header, rows)
    text = path.read_text()
    index = {name: i for i, name in enumerate(runs.vocabulary)}
    fast = _parse_fast(text, header, index, truth["lo"], truth["hi"])
    slow = _parse_slow(text, header, index, truth["lo"], truth["hi"])
    assert fast is not None
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(a, b)


# -- invalid files -------------------------------------------------------------------------------
def assert_refused(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def assert_no_truth(message: str, truth: dict, position: int) -> None:
    """The message shows neither the true task nor the true delta of the offending row."""
    true_task = truth["task"][position]
    assert f"'{true_task}'" not in message
    delta = float(truth["delta"][position])
    for text in (repr(delta), f"{delta:.6g}", f"{delta:.4f}", f"{delta:.2f}"):
        assert text not in message


def wrong_task_for(truth: dict, position: int) -> str:
    return next(t for t in truth["vocab"] if t != truth["task"][position])


def mutated(tmp_path, truth, k: int, change, *, proba: bool = False) -> tuple[Path, int]:
    """The perfect file with row k (file line k + 2) changed to carry a wrong task first."""
    header, rows = perfect_rows(truth, proba=proba)
    pos = rows[k][0]
    rows[k][1] = wrong_task_for(truth, pos)
    if proba:
        rows[k][3:] = [1.0 if t == rows[k][1] else 0.0 for t in truth["vocab"]]
    rows[k][2] = 5.0
    change(header, rows)
    return write_csv(tmp_path / "bad.csv", header, rows), pos


def test_wrong_header(tmp_path, truth) -> None:
    header, rows = perfect_rows(truth)
    path = write_csv(tmp_path / "h.csv", ["pos", "task", "delta_us"], rows)
    assert_refused(score_cli(path), "line 1", "wrong header", "position,task,delta_us")
    path = write_csv(tmp_path / "h2.csv", [*header, "extra"], [[*r, 1] for r in rows])
    assert_refused(score_cli(path), "line 1", "unexpected column 'extra'")
    path = write_csv(tmp_path / "h3.csv", [*header, "p:nobody:1"], [[*r, 1] for r in rows])
    assert_refused(score_cli(path), "line 1", "unknown task", OTHER)
    dup = f"p:{truth['vocab'][1]}"
    path = write_csv(tmp_path / "h4.csv", [*header, dup, dup], [[*r, 0.5, 0.5] for r in rows])
    assert_refused(score_cli(path), "line 1", "appears twice")


def test_a_lone_carriage_return_in_the_header_is_one_line(tmp_path, truth) -> None:
    """A CR inside the header line (csv: "new-line character seen in unquoted field") is a
    refusal naming line 1 and the expected header, not a traceback."""
    _, rows = perfect_rows(truth)
    body = "".join(",".join(str(v) for v in r) + "\n" for r in rows)
    path = tmp_path / "cr.csv"
    path.write_bytes(("position,task\r,delta_us\n" + body).encode())
    assert_refused(score_cli(path), "line 1", "not one CSV line", "position,task,delta_us")


def test_empty_file(tmp_path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert_refused(score_cli(path), "empty")


def test_header_only_is_missing_every_position(tmp_path, truth) -> None:
    path = write_csv(tmp_path / "header.csv", ["position", "task", "delta_us"], [])
    assert_refused(score_cli(path), "positions missing", f"{truth['lo']}, {truth['lo'] + 1}")


def test_missing_positions(tmp_path, truth) -> None:
    header, rows = perfect_rows(truth)
    del rows[10]
    del rows[3]
    path = write_csv(tmp_path / "missing.csv", header, rows)
    lo = truth["lo"]
    assert_refused(score_cli(path), "positions missing", f"{lo + 3}, {lo + 10}")


def test_extra_position(tmp_path, truth) -> None:
    header, rows = perfect_rows(truth)
    rows.insert(5, [truth["lo"] - 1, truth["vocab"][0], 1.0])
    path = write_csv(tmp_path / "extra.csv", header, rows)
    assert_refused(score_cli(path), "line 7", f"position {truth['lo'] - 1}", "not a test position")


def test_duplicate_position(tmp_path, truth) -> None:
    header, rows = perfect_rows(truth)
    rows.insert(20, list(rows[4]))
    path = write_csv(tmp_path / "dup.csv", header, rows)
    assert_refused(score_cli(path), "line 22", "appears again", "first on line 6")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_non_finite_delta(tmp_path, truth, value) -> None:
    def change(header, rows):
        rows[7][2] = value

    path, pos = mutated(tmp_path, truth, 7, change)
    message = assert_refused(score_cli(path), "line 9", "delta_us", "finite")
    assert_no_truth(message, truth, pos)


def test_negative_delta(tmp_path, truth) -> None:
    def change(header, rows):
        rows[12][2] = -3.5

    path, pos = mutated(tmp_path, truth, 12, change)
    message = assert_refused(score_cli(path), "line 14", "negative")
    assert_no_truth(message, truth, pos)


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        (2, "abc", "delta_us 'abc' is not a number"),
        (2, "", "not a number"),
        (0, "12.5", "not an integer"),
        (0, "x", "not an integer"),
    ],
)
def test_non_numeric_cells(tmp_path, truth, column, value, needle) -> None:
    def change(header, rows):
        rows[30][column] = value

    path, pos = mutated(tmp_path, truth, 30, change)
    message = assert_refused(score_cli(path), "line 32", needle)
    assert_no_truth(message, truth, pos)


def test_unknown_task(tmp_path, truth) -> None:
    def change(header, rows):
        rows[2][1] = "nginx:31337"

    path, pos = mutated(tmp_path, truth, 2, change)
    message = assert_refused(
        score_cli(path), "line 4", "unknown task 'nginx:31337'", "vocabulary", OTHER
    )
    assert_no_truth(message, truth, pos)


def test_probabilities_not_summing_to_one(tmp_path, truth) -> None:
    def change(header, rows):
        rows[9][3:] = [0.0] * (len(rows[9]) - 3)
        rows[9][3] = 0.5  # task column set to vocab[0]? make it consistent below
        rows[9][1] = truth["vocab"][0]

    path, pos = mutated(tmp_path, truth, 9, change, proba=True)
    message = assert_refused(score_cli(path), "line 11", "sum to 0.5", "not 1")
    assert_no_truth(message, truth, pos)


@pytest.mark.parametrize(
    ("value", "needle"),
    [("nan", "finite"), ("-0.1", "[0, 1]"), ("1.5", "[0, 1]"), ("half", "not a number")],
)
def test_bad_probability_cells(tmp_path, truth, value, needle) -> None:
    def change(header, rows):
        k = 3 + truth["vocab"].index(rows[40][1])
        rows[40][k] = value

    path, pos = mutated(tmp_path, truth, 40, change, proba=True)
    message = assert_refused(score_cli(path), "line 42", needle)
    assert_no_truth(message, truth, pos)


def test_task_must_be_most_probable(tmp_path, truth) -> None:
    def change(header, rows):
        rows[6][3:] = [1.0 / len(truth["vocab"])] * len(truth["vocab"])
        own = truth["vocab"].index(rows[6][1])
        other = (own + 1) % len(truth["vocab"])
        rows[6][3 + own] -= 0.05
        rows[6][3 + other] += 0.05

    path, pos = mutated(tmp_path, truth, 6, change, proba=True)
    message = assert_refused(score_cli(path), "line 8", "most probable")
    assert_no_truth(message, truth, pos)


def test_wrong_field_count_and_line_numbers_after_blank_lines(tmp_path, truth) -> None:
    header, rows = perfect_rows(truth)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows[:3])
    text.write("\n\n")  # lines 5 and 6 are blank
    writer.writerow([*rows[3], "surplus"])  # line 7
    writer.writerows(rows[4:])
    path = tmp_path / "fields.csv"
    path.write_text(text.getvalue())
    assert_refused(score_cli(path), "line 7", "4 fields, the header has 3")


def test_huge_file_is_refused_without_reading(tmp_path, truth, runs, monkeypatch) -> None:
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.write(b"position,task,delta_us\n")
        handle.truncate(2 * 1024**3)  # sparse: claims 2 GB, occupies a few blocks
    assert os.path.getsize(path) == 2 * 1024**3

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    monkeypatch.setattr("builtins.open", no_reading)
    start = time.perf_counter()
    with pytest.raises(SubmissionError, match="Refused without reading it") as info:
        read_submission(path, runs)
    assert time.perf_counter() - start < 1.0
    assert info.value.rule == "file size"
    n = truth["hi"] - truth["lo"]
    assert size_limit(n, runs.vocabulary) < 2 * 1024**3


def test_huge_file_via_cli(tmp_path) -> None:
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.truncate(2 * 1024**3)
    assert_refused(score_cli(path), "2,147,483,648 bytes", "at most")


def test_binary_junk_is_refused_on_the_first_line(tmp_path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "junk.csv"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + rng.bytes(3000))
    assert_refused(score_cli(path), "line 1", "binary data")


def test_size_bound_follows_the_header(tmp_path, truth) -> None:
    """A file small enough for the widest header but too big for its own columns."""
    header, rows = perfect_rows(truth)
    path = write_csv(tmp_path / "padded.csv", header, rows)
    n = truth["hi"] - truth["lo"]
    vocab = tuple(truth["vocab"])
    own = size_limit(n, vocab, 0)
    with open(path, "ab") as handle:
        handle.write(b"\n" * (own - path.stat().st_size + 10))
    assert path.stat().st_size < size_limit(n, vocab)
    assert_refused(score_cli(path), "with 3 columns", "at most")


def test_not_utf8(tmp_path, truth) -> None:
    header, rows = perfect_rows(truth)
    path = write_csv(tmp_path / "latin.csv", header, rows)
    data = path.read_bytes().split(b"\n")
    data[5] = data[5] + b"\xff"
    path.write_bytes(b"\n".join(data))
    assert_refused(score_cli(path), "line 6", "not UTF-8")


def test_unknown_trace_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("position,task,delta_us\n")
    result = runner.invoke(app, ["score", str(path), "--trace", "nope"])
    assert result.exit_code == 2  # a bad option, like every other (README §7)
    assert "unknown trace 'nope'" in result.output
    result = runner.invoke(app, ["score", str(tmp_path / "absent.csv"), "--trace", TRACE])
    assert result.exit_code == 2 and "no such file" in result.output


def test_duplicate_replacing_another_position(tmp_path, truth, runs) -> None:
    """n rows, one position twice and one missing: refused, never scored as perfect."""
    header, rows = perfect_rows(truth)
    rows[11] = list(rows[4])  # position lo + 11 is gone, lo + 4 is there twice
    path = write_csv(tmp_path / "dup-replace.csv", header, rows)
    assert len(rows) == truth["hi"] - truth["lo"]
    assert_refused(
        score_cli(path), "line 13", f"position {truth['lo'] + 4} appears again", "first on line 6"
    )
    with pytest.raises(SubmissionError, match="appears again") as info:
        read_submission(path, runs)
    assert info.value.line == 13 and info.value.rule == "duplicate position"


@pytest.mark.parametrize("where", ["end", "start"])
def test_position_at_the_end_of_the_test_split(tmp_path, truth, runs, where) -> None:
    """`hi` (one past the last test row) in place of a test position: exit 2, not IndexError."""
    header, rows = perfect_rows(truth)
    k = len(rows) - 1 if where == "end" else 0
    rows[k][0] = truth["hi"]
    path = write_csv(tmp_path / "end.csv", header, rows)
    hi = truth["hi"]
    message = assert_refused(
        score_cli(path),
        f"line {k + 2}",
        f"position {hi} is not a test position",
        f"{truth['lo']}..{hi - 1}",
    )
    assert "Traceback" not in message and "IndexError" not in message
    with pytest.raises(SubmissionError, match="not a test position"):
        read_submission(path, runs)


# -- every refusal, its exact line, rule and message -------------------------------------------
HINT = "`position,task,delta_us[,p:<task>,...]`"


def _edit_row(k: int, column: int, value):
    def change(header, rows, truth):
        rows[k][column] = value(truth, rows[k]) if callable(value) else value

    return change


def _proba_row(k: int, cells):
    """Row k's p: cells set from {vocabulary index: value}, its task the first key."""

    def change(header, rows, truth):
        first = next(iter(cells))
        rows[k][1] = truth["vocab"][first]
        rows[k][3:] = [cells.get(i, 0.0) for i in range(len(truth["vocab"]))]

    return change


def _drop(*ks: int):
    def change(header, rows, truth):
        for k in sorted(ks, reverse=True):
            del rows[k]

    return change


def _subset_header(header, rows, truth):
    """p: columns for vocabulary ids 1 and 2 only; row 0's task (id 3) has no column."""
    vocab = truth["vocab"]
    header[3:] = [f"p:{vocab[1]}", f"p:{vocab[2]}"]
    for row in rows:
        row[1] = vocab[2]
        row[3:] = [0.4, 0.6]
    rows[0][1] = vocab[3]


REFUSALS = {
    # name: (p: columns?, change, line, rule, message with {lo}, {hi}, {pos}, {v1}.. filled in)
    "nan delta": (
        False,
        _edit_row(7, 2, "nan"),
        9,
        "nan",
        "delta_us is nan; it must be a finite number",
    ),
    "negative delta": (
        False,
        _edit_row(12, 2, -3.5),
        14,
        "negative delta",
        "delta_us -3.5 is negative; run lengths are >= 0",
    ),
    "text delta": (
        False,
        _edit_row(30, 2, "abc"),
        32,
        "non-numeric",
        "delta_us 'abc' is not a number",
    ),
    "fractional position": (
        False,
        _edit_row(30, 0, lambda t, r: f"{r[0]}.5"),
        32,
        "non-numeric",
        "position '{pos30}.5' is not an integer row index",
    ),
    "unknown task": (
        False,
        _edit_row(2, 1, "nginx:31337"),
        4,
        "unknown task",
        "unknown task 'nginx:31337'; tasks must be in the trace's vocabulary "
        "(data/splits.json) or `<other>` for any other task",
    ),
    "surplus field": (
        False,
        lambda h, rows, t: rows[3].append("x"),
        5,
        "field count",
        "4 fields, the header has 3",
    ),
    "position before the test": (
        False,
        _edit_row(5, 0, lambda t, r: t["lo"] - 1),
        7,
        "extra position",
        "position {lo_1} is not a test position of this trace (those are {lo}..{hi_1})",
    ),
    "duplicate": (
        False,
        _edit_row(9, 0, lambda t, r: t["lo"]),
        11,
        "duplicate position",
        "position {lo} appears again (first on line 2)",
    ),
    "two missing": (
        False,
        _drop(3, 10),
        None,
        "missing positions",
        "positions missing: {lo_3}, {lo_10}; the file needs one row for every test "
        "position {lo}..{hi_1}",
    ),
    "seven missing": (
        False,
        _drop(*range(7)),
        None,
        "missing positions",
        "positions missing: {lo}, {lo1}, {lo2}, {lo3}, {lo4}, ... (7 in all); the "
        "file needs one row for every test position {lo}..{hi_1}",
    ),
    "sum": (
        True,
        _proba_row(9, {1: 0.5}),
        11,
        "probabilities sum",
        "the probabilities sum to 0.5, not 1 (tolerance 0.001)",
    ),
    "nan probability": (
        True,
        _proba_row(9, {1: "nan"}),
        11,
        "nan",
        "p:{v1} is nan; it must be a finite number",
    ),
    "negative probability": (
        True,
        _proba_row(9, {1: 1.0005, 2: -0.0005}),
        11,
        "probability",
        "p:{v2} = -0.0005 is not a probability in [0, 1]",
    ),
    "not top-1": (
        True,
        _proba_row(6, {1: 0.4, 2: 0.6}),
        8,
        "task not top-1",
        "task '{v1}' has probability 0.4 but the row's largest is 0.6; `task` must be "
        "a most probable task",
    ),
    "task without its column": (
        True,
        _subset_header,
        2,
        "task not top-1",
        "task '{v3}' has probability 0.0 but the row's largest is 0.6; "
        "`task` must be a most probable task",
    ),
    "five missing": (
        False,
        _drop(*range(5)),
        None,
        "missing positions",
        "positions missing: {lo}, {lo1}, {lo2}, {lo3}, {lo4}; the file needs one row "
        "for every test position {lo}..{hi_1}",
    ),
    "above P_MAX": (
        True,
        _proba_row(9, {1: repr(1.0 + PROBA_TOL + 1e-9)}),
        11,
        "probability",
        "p:{v1} = 1.001000001 is not a probability in [0, 1]",
    ),
    "just below the top": (
        True,
        _proba_row(9, {1: 0.375 - 1e-7, 2: 0.375 + 1e-6, 3: 0.25 - 1e-6 + 1e-7}),
        11,
        "task not top-1",
        "task '{v1}' has probability 0.3749999 but the row's largest is "
        "0.375001; `task` must be a most probable task",
    ),
    "header ending in X": (
        False,
        lambda h, r, t: h.__setitem__(2, "delta_usX"),
        1,
        "header",
        "wrong header 'position,task,delta_usX'; expected " + HINT,
    ),
    "wrong header": (
        False,
        lambda h, r, t: h.__setitem__(0, "pos"),
        1,
        "header",
        "wrong header 'pos,task,delta_us'; expected " + HINT,
    ),
    "trailing space in the header": (
        False,
        lambda h, r, t: h.__setitem__(2, "delta_us "),
        1,
        "header",
        "wrong header 'position,task,delta_us '; expected " + HINT,
    ),
    "twice the same column": (
        True,
        lambda h, r, t: h.__setitem__(4, h[3]),
        1,
        "header",
        "column 'p:{v0}' appears twice",
    ),
    "unknown column": (
        True,
        lambda h, r, t: h.__setitem__(4, "p:nobody:1"),
        1,
        "unknown task",
        "probability column 'p:nobody:1' names an unknown task; tasks must be in "
        "the trace's vocabulary (data/splits.json) or `<other>`",
    ),
    "not a p: column": (
        False,
        lambda h, r, t: h.append("extra"),
        1,
        "header",
        "unexpected column 'extra'; after position,task,delta_us only "
        "`p:<task>` probability columns are allowed",
    ),
}


def _fill(message: str, truth: dict, rows: list) -> str:
    lo, hi, vocab = truth["lo"], truth["hi"], truth["vocab"]
    names = {f"v{i}": v for i, v in enumerate(vocab)}
    offsets = {f"lo{k}": lo + k for k in range(1, 5)}
    return message.format(
        lo=lo,
        lo_1=lo - 1,
        lo_3=lo + 3,
        lo_10=lo + 10,
        hi_1=hi - 1,
        pos30=lo + 30,
        **names,
        **offsets,
    )


def refusal_of(path: Path, runs) -> SubmissionError:
    with pytest.raises(SubmissionError) as info:
        read_submission(path, runs)
    return info.value


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_refusal_names_its_line_rule_and_fix(tmp_path, truth, runs, case) -> None:
    proba, change, line, rule, message = REFUSALS[case]
    header, rows = perfect_rows(truth, proba=proba)
    change(header, rows, truth)
    error = refusal_of(write_csv(tmp_path / "bad.csv", header, rows), runs)
    expected = _fill(message, truth, rows)
    assert (error.line, error.rule, error.detail) == (line, rule, expected)
    assert str(error) == (expected if line is None else f"line {line}: {expected}")


def test_file_level_refusals(tmp_path, truth, runs) -> None:
    n = truth["hi"] - truth["lo"]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    error = refusal_of(empty, runs)
    assert (error.line, error.rule, str(error)) == (
        None,
        "empty file",
        f"the file is empty; expected the header {HINT} and one row per test position ({n} rows)",
    )
    one = tmp_path / "one.csv"
    one.write_bytes(b"\n")
    assert refusal_of(one, runs).rule == "header"

    absent = refusal_of(tmp_path / "absent.csv", runs)
    assert (absent.line, absent.rule, str(absent), absent.detail) == (
        None,
        "",
        "no such file",
        "no such file",
    )

    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"x" * 100)
    error = refusal_of(junk, runs)
    assert (error.line, error.rule, error.detail) == (
        1,
        "not text",
        f"binary data, not CSV text; expected the header {HINT}",
    )

    header, rows = perfect_rows(truth)
    latin = write_csv(tmp_path / "latin.csv", header, rows)
    data = latin.read_bytes().split(b"\n")
    data[5] += b"\xff"
    latin.write_bytes(b"\n".join(data))
    error = refusal_of(latin, runs)
    assert (error.line, error.rule, error.detail) == (6, "not text", "not UTF-8 text")


def test_a_header_longer_than_any_valid_one(tmp_path, truth, runs) -> None:
    from benchmark.scoring.submissions import header_limit

    limit = header_limit(tuple(truth["vocab"]))
    header, rows = perfect_rows(truth)
    long = write_csv(tmp_path / "long.csv", [*header, "p:" + "é" * limit], [[*r, 0] for r in rows])
    error = refusal_of(long, runs)
    assert (error.line, error.rule, error.detail) == (
        1,
        "header",
        f"the header line is longer than any valid header; expected {HINT}",
    )


def test_malformed_csv_names_its_line(tmp_path, truth, runs) -> None:
    header, rows = perfect_rows(truth)
    rows[4][1] = "x" * 300
    path = write_csv(tmp_path / "field.csv", header, rows)
    previous = csv.field_size_limit(200)
    try:
        error = refusal_of(path, runs)
    finally:
        csv.field_size_limit(previous)
    assert (error.line, error.rule) == (6, "csv")
    assert error.detail == "malformed CSV (field larger than field limit (200))"


def test_sizes_are_pinned_by_hand() -> None:
    from benchmark.scoring.submissions import _task_bytes, header_limit

    vocab = ("<other>", "ab:1")  # longest name 7 bytes: 2 * 7 + 2 = 16 bytes per task cell
    assert _task_bytes(vocab) == 16
    assert _task_bytes(("<other>", "é" * 5)) == 22  # bytes, not characters: 2 * 10 + 2
    assert header_limit(vocab) == 1024 + 3 * (16 + 2 + 1)
    # a row: position 24 + task 16 + delta 40 + 4 separators; with 3 p: cells 3 * 40 + 3 more
    assert size_limit(10, vocab, 0) == 1081 + 10 * 84 + 65536
    assert size_limit(10, vocab) == size_limit(10, vocab, 3) == 1081 + 10 * 207 + 65536


def test_a_file_of_exactly_the_size_bound_is_read(tmp_path, truth, runs) -> None:
    n, vocab = truth["hi"] - truth["lo"], tuple(truth["vocab"])
    for proba, columns in ((False, 0), (True, len(vocab))):
        bound = size_limit(n, vocab, columns)
        header, rows = perfect_rows(truth, proba=proba)
        path = write_csv(tmp_path / f"exact-{proba}.csv", header, rows)
        with open(path, "ab") as handle:
            handle.write(b"\n" * (bound - path.stat().st_size))
        assert path.stat().st_size == bound
        assert read_submission(path, runs).positions.tolist() == list(range(*runs.split.test))


def test_helpers_by_hand() -> None:
    from benchmark.scoring.submission_rows import clip as _clip
    from benchmark.scoring.submissions import _is_binary, _line_of

    assert _clip("a" * 60) == "a" * 60
    assert _clip("a" * 61) == "a" * 57 + "..." and len(_clip("b" * 500)) == 60
    assert _clip("abcdefgh", 6) == "abc..."
    assert [_line_of(b"\nab\ncd", k) for k in (0, 1, 3, 4, 6)] == [1, 2, 2, 3, 3]
    assert not _is_binary(b"position,task\tx\r\n")
    assert _is_binary(b"a\x00b\n") and _is_binary(b"a\x01b\n") and _is_binary(b"\xff\xfe\n")
    cut = ("x" * 10 + "é").encode()[:-1]  # a line cut inside its last character: still text
    assert not _is_binary(cut)
    assert not _is_binary(("p:" + "é" * 40).encode())  # cut right after a whole character
    assert _is_binary(b"abc\x01def") and _is_binary(b"\x01ab")  # control characters, cut
    assert not _is_binary(b"abc\xc3")  # cut after the first byte of a 2-byte character
    assert _is_binary(b"abc\xc3\n") and _is_binary(b"ab\xffcd")  # a whole line, or mid-line


def edge_rows(truth: dict) -> tuple[list[str], list[list]]:
    """A valid file at the edges of every rule: delta 0, probabilities of exactly 1 and 1 + 1e-3,
    sums off by just under the tolerance, a task just 1e-6 below the top, ties for the top task,
    a different maximum on every row."""
    vocab = truth["vocab"]
    header = ["position", "task", "delta_us", *(f"p:{t}" for t in vocab)]
    rows = []
    for k, pos in enumerate(range(truth["lo"], truth["hi"])):
        cells = [0.0] * len(vocab)
        if k % 3 == 0:
            cells[1] = 1.0
        elif k % 3 == 1:
            cells[1], cells[2] = 0.5, 0.4995  # sums to 0.9995
        else:
            top = 0.55 + 0.4 * k / (truth["hi"] - truth["lo"])  # a different maximum per row
            cells[2], cells[3] = top, 1.0 - top
        task = vocab[2] if k % 3 == 2 else vocab[1]
        rows.append([pos, task, 0.0 if k % 4 == 0 else 1.5 * k, *cells])
    rows[0][4] = repr(1.0 + PROBA_TOL)  # a probability of exactly the largest allowed
    rows[1][4:7] = [0.375, 0.375 + 1e-6, 0.25 - 1e-6]  # the task exactly 1e-6 below the top
    return header, rows


@pytest.mark.parametrize("form", ["edges", "plain", "one p: column", "blank lines"])
def test_valid_files_take_the_fast_path(tmp_path, truth, runs, monkeypatch, form) -> None:
    """Both parsers agree on valid files, and the vectorised one alone reads them."""
    import benchmark.scoring.submissions as submissions

    if form == "edges":
        header, rows = edge_rows(truth)
    elif form == "one p: column":
        header, rows = perfect_rows(truth)
        header.append(f"p:{truth['vocab'][1]}")
        rows = [[r[0], truth["vocab"][1], r[2], 1.0] for r in rows]
    else:
        header, rows = perfect_rows(truth)
    path = write_csv(tmp_path / "valid.csv", header, rows)
    if form == "blank lines":
        path.write_text(path.read_text().replace("\n", "\n\n", 5))
    text = path.read_text()
    index = {name: i for i, name in enumerate(runs.vocabulary)}
    fast = _parse_fast(text, header, index, truth["lo"], truth["hi"])
    slow = _parse_slow(text, header, index, truth["lo"], truth["hi"])
    assert fast is not None
    for a, b in zip(fast, slow, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)

    def no_slow(*args, **kwargs):
        raise AssertionError("a valid file went the slow path")

    monkeypatch.setattr(submissions, "parse_rows_slow", no_slow)
    sub = read_submission(path, runs)
    assert sub.positions.tolist() == list(range(truth["lo"], truth["hi"]))
    assert (sub.proba is None) == (len(header) == 3)


def test_invalid_rows_leave_the_fast_path(tmp_path, truth, runs) -> None:
    """Every row-level refusal is found by the slow path, so the fast one must give up."""
    index = {name: i for i, name in enumerate(runs.vocabulary)}
    for case, (proba, change, line, _, _) in REFUSALS.items():
        if line in (None, 1):
            continue
        header, rows = perfect_rows(truth, proba=proba)
        change(header, rows, truth)
        text = write_csv(tmp_path / "bad.csv", header, rows).read_text()
        assert _parse_fast(text, header, index, truth["lo"], truth["hi"]) is None, case


def test_an_explicit_task_among_tied_maxima_is_the_prediction(tmp_path, truth, runs) -> None:
    """`task` names one of two tasks tied at 0.5: the score counts that one, not the argmax."""
    vocab = truth["vocab"]
    header = ["position", "task", "delta_us", f"p:{vocab[1]}", f"p:{vocab[2]}"]
    rows = [[p, vocab[2], 1.0, 0.5, 0.5] for p in range(truth["lo"], truth["hi"])]
    sub = read_submission(write_csv(tmp_path / "tie.csv", header, rows), runs)
    result = score_submission(sub, runs, n_resamples=20)
    share = np.mean([t == vocab[2] for t in truth["task"][truth["lo"] : truth["hi"]]])
    assert result["metrics"]["acc"]["value"] == pytest.approx(share)
    assert share != pytest.approx(
        np.mean([t == vocab[1] for t in truth["task"][truth["lo"] : truth["hi"]]])
    )


def test_score_result_fields_and_bootstrap_wiring(tmp_path, truth, runs, data_root) -> None:
    from benchmark.scoring.submissions import score_file

    header, rows = perfect_rows(truth)
    rows = [[r[0], truth["vocab"][1], 2.0 * (k % 5)] for k, r in enumerate(rows)]
    path = write_csv(tmp_path / "s.csv", header, rows)
    sub = read_submission(path, runs)
    result = score_submission(sub, runs, n_resamples=30, seed=3)
    assert (result["trace"], result["positions"], result["probabilities"]) == (TRACE, 200, False)
    assert score_submission(sub, runs, n_resamples=30, seed=3) == result
    targets = {name: entry["target"] for name, entry in result["metrics"].items()}
    assert targets == {
        "acc": "task",
        "acc_comm": "task",
        "top3": "task",
        "macro_f1": "task",
        "log_loss": "task",
        "mse_z": "delta",
        "mae_us": "delta",
        "msle": "delta",
    }
    assert [e["higher_is_better"] for e in result["metrics"].values()] == [True] * 4 + [False] * 4
    other = score_submission(sub, runs, n_resamples=30, seed=4)["metrics"]["mae_us"]
    assert other["low"] != result["metrics"]["mae_us"]["low"]
    default = score_submission(sub, runs)["metrics"]["mae_us"]
    explicit = score_submission(sub, runs, n_resamples=1000, seed=0)["metrics"]["mae_us"]
    assert default == explicit and default["low"] != result["metrics"]["mae_us"]["low"]

    via_file = score_file(path, TRACE, root=data_root, n_resamples=30, seed=3)
    assert via_file["file"] == str(path)
    assert via_file["data_sha256"] == sha256_file(data_root / "traces" / f"{TRACE}.parquet")
    assert {k: via_file[k] for k in result} == result


def test_sample_file_uses_newline_line_ends(tmp_path) -> None:
    out = tmp_path / "sample.csv"
    result = runner.invoke(app, ["sample-submission", "--trace", TRACE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert b"\r" not in data and data.endswith(b"\n")
    assert data.count(b"\n") == 1 + 200


def test_boundaries_of_the_tolerances_are_inside(tmp_path, truth, runs) -> None:
    """A probability of exactly 1 + 1e-3, and a task exactly 1e-6 below the row's top."""
    vocab = truth["vocab"]
    assert (0.375 + 1e-6) - 1e-6 == 0.375  # the test's numbers are exact in floating point
    header, rows = perfect_rows(truth, proba=True)
    _proba_row(9, {1: repr(1.0 + PROBA_TOL)})(header, rows, truth)
    _proba_row(10, {1: 0.375, 2: 0.375 + 1e-6, 3: 0.25 - 1e-6})(header, rows, truth)
    sub = read_submission(write_csv(tmp_path / "edges.csv", header, rows), runs)
    assert sub.task[9] == sub.task[10] == 1
    assert sub.proba is not None and sub.proba.dtype == np.float32
    assert sub.columns == tuple(header) and len(vocab) == sub.proba.shape[1]
    one_hot = read_submission(write_csv(tmp_path / "plain.csv", *perfect_rows(truth)), runs)
    assert one_hot.task_proba(runs.n_tasks).dtype == np.float32
    assert one_hot.task_proba(runs.n_tasks).sum(axis=1).tolist() == [1.0] * len(rows)


def test_header_line_lengths(tmp_path, truth, runs) -> None:
    from benchmark.scoring.submissions import header_limit

    limit = header_limit(tuple(truth["vocab"]))
    exact = "position,task,delta_us,p:" + "z" * (limit - 25)  # exactly `limit` bytes
    assert len(exact) == limit
    for text, rule, needle in (
        ("position,task,delta_us", "missing positions", "positions missing"),  # no newline
        (exact, "unknown task", "names an unknown task"),  # no newline, at the bound
        (exact + "\n", "unknown task", "names an unknown task"),  # one byte more with "\n"
        (exact + "z\n", "header", "longer than any valid header"),
    ):
        path = tmp_path / "h.csv"
        path.write_text(text)
        error = refusal_of(path, runs)
        assert error.rule == rule and needle in error.detail, (text[-5:], error)


def test_a_file_over_its_own_bound_but_under_the_widest(tmp_path, truth, runs) -> None:
    n, vocab = truth["hi"] - truth["lo"], tuple(truth["vocab"])
    header, rows = perfect_rows(truth)
    path = write_csv(tmp_path / "big.csv", header, rows)
    with open(path, "ab") as handle:
        handle.write(b"\n" * (size_limit(n, vocab) - path.stat().st_size))
    error = refusal_of(path, runs)
    assert error.rule == "file size" and "with 3 columns" in error.detail


def test_a_quoted_empty_line_is_blank(tmp_path, truth, runs) -> None:
    header, rows = perfect_rows(truth)
    path = write_csv(tmp_path / "q.csv", header, rows)
    path.write_text(path.read_text().replace("\n", '\n""\n', 1))
    assert len(read_submission(path, runs).positions) == truth["hi"] - truth["lo"]


def test_scoring_a_slice_and_from_another_data_root(
    tmp_path, truth, runs, data_root, monkeypatch
) -> None:
    from benchmark.scoring.submissions import score_file

    header, rows = perfect_rows(truth)
    rows = [[r[0], truth["vocab"][1], 2.0 * (k % 5)] for k, r in enumerate(rows)]
    path = write_csv(tmp_path / "s.csv", header, rows)
    sub = read_submission(path, runs)
    full = score_submission(sub, runs, n_resamples=30, seed=3)
    part = score_submission(sub, runs.rows(500, len(runs)), n_resamples=30, seed=3)
    assert part["metrics"] == full["metrics"]
    wide = score_submission(sub, runs, n_resamples=1000, seed=3)["metrics"]["mae_us"]
    assert wide["low"] != full["metrics"]["mae_us"]["low"]
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(tmp_path / "nowhere"))
    via_file = score_file(path, TRACE, root=data_root)
    default = score_submission(sub, runs, n_resamples=1000, seed=0)
    assert via_file["metrics"] == default["metrics"]
    assert via_file["data_sha256"] == sha256_file(data_root / "traces" / f"{TRACE}.parquet")


def test_untrusted_names_print_as_themselves(tmp_path) -> None:
    """A file name with Rich markup in it is printed verbatim, never parsed as markup."""
    path = tmp_path / "[bold]sub :ab: [link=x]y.csv"
    path.write_text("position,task,delta_us\n")
    result = runner.invoke(app, ["score", str(path), "--trace", TRACE])
    assert result.exit_code == 2
    assert "[bold]sub :ab: [link=x]y.csv" in " ".join(result.output.split())
