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
from benchmark.scoring.submissions import (
    SubmissionError,
    _parse_fast,
    _parse_slow,
    read_submission,
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
    expected = {"acc": ("1.0000", "higher"), "acc_comm": ("1.0000", "higher"),
                "top3": ("1.0000", "higher"), "macro_f1": ("1.0000", "higher"),
                "log_loss": ("0.0000", "lower"), "mse_z": ("0.0000", "lower"),
                "mae_us": ("0.0000", "lower"), "msle": ("0.0000", "lower")}
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
    [(2, "abc", "delta_us 'abc' is not a number"), (2, "", "not a number"),
     (0, "12.5", "not an integer"), (0, "x", "not an integer")],
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


@pytest.mark.parametrize(("value", "needle"), [("nan", "finite"), ("-0.1", "[0, 1]"),
                                               ("1.5", "[0, 1]"), ("half", "not a number")])
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
    assert result.exit_code == 1
    assert "unknown trace 'nope'" in result.output
    result = runner.invoke(app, ["score", str(tmp_path / "absent.csv"), "--trace", TRACE])
    assert result.exit_code == 2 and "no such file" in result.output


def test_duplicate_replacing_another_position(tmp_path, truth, runs) -> None:
    """n rows, one position twice and one missing: refused, never scored as perfect."""
    header, rows = perfect_rows(truth)
    rows[11] = list(rows[4])  # position lo + 11 is gone, lo + 4 is there twice
    path = write_csv(tmp_path / "dup-replace.csv", header, rows)
    assert len(rows) == truth["hi"] - truth["lo"]
    assert_refused(score_cli(path), "line 13", f"position {truth['lo'] + 4} appears again",
                   "first on line 6")
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
        score_cli(path), f"line {k + 2}", f"position {hi} is not a test position",
        f"{truth['lo']}..{hi - 1}",
    )
    assert "Traceback" not in message and "IndexError" not in message
    with pytest.raises(SubmissionError, match="not a test position"):
        read_submission(path, runs)
