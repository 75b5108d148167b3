"""A private holdout, as a new maintainer would bring it (issue 12 item 3), data side.

The raw folder is cut from a shipped trace (its first 3,000 switches), gzip-compressed and first
misnamed (`perf_script.txt.gz`), its capture.json without `ab`, beside a README.md of the
maintainer's. `kernel-oracle prepare --data DIR` names the misnamed file and the names it
expects; after the rename it builds a valid manifest and split, and the trace loads.
Then `evaluate --holdout DIR` writes its results inside DIR (never into the repository's
leaderboard/), and `leaderboard --build-only --holdout DIR` builds the holdout board from them.
"""

from __future__ import annotations

import gzip
import json
import lzma
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import benchmark.cli.board
import benchmark.cli.data
import benchmark.cli.harness  # noqa: F401
from benchmark.cli.app import app
from benchmark.core.paths import data_dir, leaderboard_dir
from benchmark.data.datainfo import BEGIN, END
from benchmark.data.dataset import load_trace
from benchmark.data.manifest import check_data_root, load_manifest, read_run_table
from benchmark.data.splits import read_splits

SOURCE = "single-worker"
SWITCHES = 3000
runner = CliRunner()


def _head(source: Path, is_switch: Callable[[bytes], bool]) -> bytes:
    """The lines of a shipped xz text up to its `SWITCHES`-th switch line, streamed."""
    out, seen = [], 0
    with lzma.open(source, "rb") as handle:
        for line in handle:
            out.append(line)
            seen += is_switch(line)
            if seen == SWITCHES:
                break
    return b"".join(out)


def make_holdout(root: Path) -> Path:
    """DIR/raw/private-1/ as a maintainer would have it: gzip texts, one misnamed."""
    shipped = data_dir() / "raw" / SOURCE
    folder = root / "raw" / "private-1"
    folder.mkdir(parents=True)
    script = _head(shipped / "perf-script.txt.xz", lambda ln: b"sched:sched_switch:" in ln)
    rows = _head(shipped / "sched-map.txt.xz", lambda ln: b" secs" in ln)
    (folder / "perf_script.txt.gz").write_bytes(gzip.compress(script))
    (folder / "sched-map.txt.gz").write_bytes(gzip.compress(rows))
    meta = json.loads((shipped / "capture.json").read_text())
    del meta["ab"]
    (folder / "capture.json").write_text(json.dumps(meta))
    (root / "README.md").write_text(f"# private holdout\n\n{BEGIN}\n{END}\n")
    return folder


def test_a_private_capture_goes_through_prepare(tmp_path: Path) -> None:
    root = tmp_path / "holdout"
    folder = make_holdout(root)
    assert check_data_root(root) == (
        f"{root}: raw captures but no manifest.json yet; run `kernel-oracle prepare --data {root}`"
    )

    wide = {"COLUMNS": "400"}
    result = runner.invoke(app, ["prepare", "--data", str(root)], env=wide)
    assert result.exit_code == 2
    assert "found capture.json, perf_script.txt.gz, sched-map.txt.gz" in result.output
    assert "expected perf-script.txt.xz or perf-script.txt.gz or perf-script.txt" in result.output
    assert not (root / "manifest.json").exists()

    (folder / "perf_script.txt.gz").rename(folder / "perf-script.txt.gz")
    result = runner.invoke(app, ["prepare", "--data", str(root)], env=wide)
    assert result.exit_code == 0, result.output
    runs = SWITCHES - 1  # the last switch only ends the last run
    assert f"warning: private-1: {runs:,} runs, outside the 100,000-400,000" in result.output
    assert f"private-1: {runs:,} runs" in result.output and "formats agree: True" in result.output
    assert check_data_root(root) is None

    manifest = load_manifest(root)
    facts = manifest["traces"]["private-1"]
    assert facts["raw"] == {
        "perf_script": {"file": "perf-script.txt.gz", "compression": "gzip"},
        "sched_map": {"file": "sched-map.txt.gz", "compression": "gzip"},
    }
    assert facts["ab"]["requests_per_second"] == "unknown"
    assert facts["kernel"] == json.loads((folder / "capture.json").read_text())["machine"]["kernel"]
    split = read_splits(root / "splits.json")["private-1"]
    train_end, valid_end = runs * 7 // 10, runs * 8 // 10
    assert (split.train, split.valid, split.test) == (
        (0, train_end),
        (train_end, valid_end),
        (valid_end, runs),
    )
    # The run table of the first 3,000 switches is the shipped table's first 2,999 rows.
    shipped = read_run_table(SOURCE).iloc[:runs].reset_index(drop=True)
    pd.testing.assert_frame_equal(read_run_table("private-1", root), shipped)
    trace = load_trace("private-1", root)
    assert len(trace) == runs and trace.split.test == (valid_end, runs)
    assert "| `private-1` | 2,999 |" in (root / "README.md").read_text()

    listed = runner.invoke(app, ["data", "--json", "--data", str(root)])
    assert listed.exit_code == 0, listed.output
    (entry,) = json.loads(listed.stdout)["traces"]
    assert entry["name"] == "private-1" and entry["sha256_verified"] is True

    # Evaluate on the holdout: results go inside DIR, the repository's leaderboard is untouched.
    before = sorted(p.name for p in (leaderboard_dir() / "results").iterdir())
    result = runner.invoke(app, ["evaluate", "--model", "markov", "--holdout", str(root)], env=wide)
    assert result.exit_code == 0, result.output
    stored = json.loads(
        (root / "leaderboard" / "results" / "markov" / "private-1" / "seed0.json").read_text()
    )
    assert stored["status"] == "ok" and stored["trace"] == "private-1"
    assert stored["n_positions"] == runs - valid_end
    assert sorted(p.name for p in (leaderboard_dir() / "results").iterdir()) == before
    # The stored accuracy is the share of stored predictions equal to the holdout's true tasks.
    with np.load(root / "leaderboard" / "results" / "markov" / "private-1" / "seed0.npz") as npz:
        positions, predicted = npz["positions"], npz["task"]
    assert positions.tolist() == list(range(valid_end, runs))
    truth = trace.task[positions]
    assert stored["metrics"]["acc"]["value"] == pytest.approx(float(np.mean(predicted == truth)))

    result = runner.invoke(app, ["leaderboard", "--build-only", "--holdout", str(root)], env=wide)
    assert result.exit_code == 0, result.output
    board = json.loads((root / "leaderboard" / "leaderboard.json").read_text())
    assert [t for t in board["traces"]] == ["private-1"]
    assert "markov" in (root / "leaderboard" / "README.md").read_text()
    # The transfer view: markov's holdout rank beside its rank on the committed board; one model
    # ranked on both is too few for a rank correlation, and the board says so.
    shipped = json.loads((leaderboard_dir() / "leaderboard.json").read_text())
    shipped_rank = next(m for m in shipped["models"] if m["model"] == "markov")["rank"]["task"]
    task_view = next(v for v in board["transfer"] if v["target"] == "task")
    assert task_view["ranks"] == [{"model": "markov", "holdout": 1, "shipped": shipped_rank}]
    assert task_view["rho"] is None and "rho needs 3" in task_view["reason"]
    assert "## Does the ranking transfer?" in (root / "leaderboard" / "README.md").read_text()
