"""The README's figure example is real: it runs from stored results alone, imports no model
library, and draws one bar per scored (model, trace) cell at the stored accuracy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.data.manifest import load_manifest
from benchmark.reporting.api import load_results
from benchmark.results.store import read_results
from tests.test_api import HEAVY, make_store

REPO = Path(__file__).resolve().parents[1]
# Runs the example in a fresh interpreter, then reports what it imported and drew.
PROBE = """
import json, runpy, sys
from matplotlib.container import BarContainer
script = runpy.run_path("acc_per_trace.py")
ax, traces = script["ax"], [t.get_text() for t in script["ax"].get_xticklabels()]
bars = [[c.get_label(), traces[k], p.get_height()] for c in ax.containers
        if isinstance(c, BarContainer) for k, p in enumerate(c.patches)]
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"bars": bars, "heavy": heavy}}))
"""


def example() -> str:
    """The figure script in README.md's "For figure authors" section."""
    section = REPO.joinpath("README.md").read_text().split("## For figure authors", 1)[1]
    block = re.search(r"```python\n(# acc_per_trace\.py.*?)```", section, re.S)
    assert block, "README's For figure authors section lost its acc_per_trace.py example"
    return block.group(1)


def run_example(tmp_path: Path, leaderboard: Path) -> dict[tuple[str, str], float]:
    """Run the example against `leaderboard` in `tmp_path`; {(bar label, trace): height}."""
    (tmp_path / "acc_per_trace.py").write_text(example())
    env = {**os.environ, "MPLBACKEND": "Agg", "KERNEL_ORACLE_LEADERBOARD": str(leaderboard),
           "PYTHONPATH": str(REPO)}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], f"the example imported {report['heavy']}"
    figure = tmp_path / "acc_per_trace.pdf"
    assert figure.is_file() and figure.read_bytes().startswith(b"%PDF")
    return {(label, trace): h for label, trace, h in report["bars"] if h == h}  # drop NaN


def test_the_example_is_under_20_lines():
    assert len(example().rstrip("\n").splitlines()) < 20


def test_the_example_draws_one_bar_per_scored_cell_at_its_accuracy(tmp_path):
    store = tmp_path / "leaderboard"
    expected = make_store(store)  # the failed cell of `last` has no bar
    bars = run_example(tmp_path, store)
    assert bars == pytest.approx({(f"{m} (default)", t): acc for (m, t), acc in expected.items()})


def test_the_example_on_the_committed_results_draws_the_boards_accuracies(tmp_path):
    board = json.loads((REPO / "leaderboard" / "leaderboard.json").read_text())
    expected = {
        (m["model"], trace): cell["metrics"]["acc"]["value"]
        for m in board["models"]
        for trace, cell in m["per_trace"].items()
        if cell["status"] == "ok" and "acc" in cell["metrics"]
    }
    assert expected, "leaderboard.json scores no model's acc"
    scored = load_results(REPO / "leaderboard").query("metric == 'acc' and status == 'ok'")
    assert len(scored), (
        "every committed result is stale or failed (refused reasons: "
        f"{sorted({e['reason'][:40] for e in read_results(None, load_manifest())[1]})}); "
        "rebuild with `make leaderboard`"
    )
    bars = run_example(tmp_path, REPO / "leaderboard")
    drawn = {(label.rsplit(" (", 1)[0], trace): h for (label, trace), h in bars.items()}
    assert drawn == pytest.approx(expected), (
        "the example's bars (from load_results) differ from leaderboard.json: the committed "
        "results and board disagree (stale results?); rebuild with `make leaderboard`"
    )
