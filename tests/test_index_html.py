"""index.html in a real browser (headless Chromium): one row per model, sorting, escaped names.

Sorting is driven by the page's own JS through the URL hash (`#sort=acc`, `#sort=acc&dir=asc`,
`#view=trace&trace=alpha&sort=acc`), the same code a header click runs; the DOM is read back
with `--dump-dom`. The views, toggles, links and timing: tests/test_page_views.py. The hostile model
name `<script>alert(1)</script>` must show as text: the test page gets a first script that turns
any call of `alert` into a mark on the document, and the mark must be absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from benchmark.reporting.board import build

FIXTURE = Path(__file__).parent / "fixtures" / "results"
XSS = "<script>alert(1)</script>"
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)"
)
TRAP = (
    "<script>window.alert=function(){document.documentElement.setAttribute('data-xss','ran')};"
    "</script>"
)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("page")
    board = build(FIXTURE, out, FIXTURE / "data", ceilings={})
    text = (out / "index.html").read_text()
    trapped = text.replace("<head>", "<head>" + TRAP, 1)
    assert trapped != text
    (out / "trapped.html").write_text(trapped)
    return out, board


def dump(path: Path, fragment: str, tmp_path: Path) -> str:
    url = path.resolve().as_uri() + fragment
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<table" in done.stdout, f"no DOM dumped; stderr: {done.stderr[-2000:]}"
    return done.stdout


def row_models(dom: str, table: str = "board") -> list[str]:
    body = dom.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [unescape(m) for m in re.findall(r'<tr [^>]*data-model="([^"]*)"', body)]


def test_one_row_per_model(page, tmp_path):
    out, board = page
    rows = row_models(dump(out / "trapped.html", "", tmp_path))
    assert sorted(rows) == sorted(m.model for m in board.models)
    assert len(rows) == len(set(rows)) == 10


def test_sorting_by_accuracy_puts_the_best_first(page, tmp_path):
    out, _ = page
    dom = dump(out / "trapped.html", "#sort=acc", tmp_path)
    assert 'data-sorted-by="acc"' in dom and 'data-sorted-dir="desc"' in dom
    rows = row_models(dom)
    assert rows[:5] == ["lstm", "markov", "ewma", "majority", XSS]
    # empty cells last: no mean (delta only, incomplete, failed)
    assert set(rows[5:]) == {"arima", "decision_tree", "lightgbm", "gru", "kernel_oracle_lstm"}


def test_sorting_a_lower_is_better_metric_and_reversing(page, tmp_path):
    out, _ = page
    rows = row_models(dump(out / "trapped.html", "#sort=mse_z", tmp_path))
    assert rows[:6] == ["lstm", "ewma", "arima", "markov", "majority", XSS]
    rows = row_models(dump(out / "trapped.html", "#sort=mse_z&dir=desc", tmp_path))
    assert rows[:6] == [XSS, "majority", "markov", "arima", "ewma", "lstm"]
    assert set(rows[6:]) == {"decision_tree", "lightgbm", "gru", "kernel_oracle_lstm"}


def test_sorting_by_name_and_by_a_per_trace_column(page, tmp_path):
    out, _ = page
    rows = row_models(dump(out / "trapped.html", "#sort=model&dir=asc", tmp_path))
    assert rows == sorted(rows)
    dom = dump(out / "trapped.html", "#view=trace&trace=alpha&sort=acc", tmp_path)
    rows = row_models(dom, "trace-alpha-task")
    assert rows[:2] == ["lightgbm", "lstm"]  # lightgbm's alpha run is ok (0.85)


def test_a_script_in_a_model_name_shows_as_text_and_does_not_run(page, tmp_path):
    out, _ = page
    dom = dump(out / "trapped.html", "#sort=acc", tmp_path)
    assert 'data-xss="ran"' not in dom
    cell = re.search(r'<td class="name"[^>]*>([^<]*alert[^<]*)</td>', dom)
    assert cell is not None, "the hostile name is not a text cell"
    assert unescape(cell.group(1)) == XSS
    # Only the trap and the page's own script are script elements.
    assert dom.count("<script>") == 2


def test_the_trap_itself_works(tmp_path):
    """Guard against a vacuous XSS test: an unescaped script does set the mark."""
    path = tmp_path / "bad.html"
    path.write_text(
        f"<!DOCTYPE html><html><head>{TRAP}</head><body><table><tr><td>{XSS}</td></tr></table>"
        "</body></html>"
    )
    assert 'data-xss="ran"' in dump(path, "", tmp_path)
