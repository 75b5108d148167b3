"""index.html's views in a real headless Chromium, driven over the DevTools protocol.

One browser for the module (`--remote-debugging-pipe`, no network, no extra package): every
view renders and draws its figure, sorting and the reference toggle change the DOM, the state
round-trips through the URL hash (back/forward included), the keyboard reaches the controls with
a visible focus, the main view fits 1024 px, every evidence link resolves to a file of the
golden fixture, a hostile model name stays text, and first paint of a 20-model x 10-trace board
is measured (printed; asserted only loosely). Screenshots of each view go to build/screenshots/.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from benchmark.reporting.board import build
from benchmark.reporting.boardtypes import (
    Board,
    Budget,
    BudgetPick,
    Cell,
    Comparison,
    Failure,
    Gain,
    Interval,
    Row,
    SeedMean,
    Standing,
    Transfer,
    TransferRank,
    TuningGain,
)
from benchmark.reporting.page import html_page
from benchmark.scoring.metrics import METRICS
from tests.test_index_html import CHROMIUM, FIXTURE, TRAP

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "build" / "screenshots"
HOSTILE = "<img src=x onerror=alert(1)></script>"
HOSTILE_TRACE = '"><svg onload=alert(1)>&amp;'

CEILINGS = {
    t: {"task_history": {"max_predictability": 0.8, "covers": "the task history alone"}}
    for t in ("alpha", "beta")
}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)"
)


class Browser:
    """A headless Chromium tab, spoken to through the DevTools pipe (fds 3 and 4)."""

    def __init__(self, profile: Path) -> None:
        to_chrome, chrome_in = os.pipe()[::-1]  # we write to_chrome; it reads fd 3
        from_chrome, chrome_out = os.pipe()  # it writes fd 4; we read from_chrome
        fds = (chrome_in, chrome_out)

        def wire() -> None:
            os.dup2(fds[0], 3)
            os.dup2(fds[1], 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(chrome_in)
        os.close(chrome_out)
        self.writer = os.fdopen(to_chrome, "wb", buffering=0)
        self.reader = os.fdopen(from_chrome, "rb", buffering=0)
        self.buffer, self.next_id, self.session = b"", 0, None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send("Page.enable")
        self.resize(1024, 768)

    def send(self, method: str, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        self.writer.write(json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = self.reader.read(1 << 16)
                if not chunk:
                    raise EOFError("chromium closed the DevTools pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def js(self, expression: str):
        """The value of `expression` in the page (promises awaited)."""
        done = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in done:
            raise AssertionError(f"{expression}: {done['exceptionDetails']}")
        return done["result"].get("value")

    def open(self, path: Path, fragment: str = "") -> None:
        self.send("Page.navigate", url="about:blank")
        self.send("Page.navigate", url=path.resolve().as_uri() + fragment)
        for _ in range(400):
            if self.js("document.readyState") == "complete":
                return
            time.sleep(0.025)
        raise AssertionError(f"{path} did not load")

    def settle(self) -> None:
        """Let a hashchange (and the redraw it causes) run."""
        self.js("new Promise(function (r) { setTimeout(r, 30); })")

    def hash(self, fragment: str) -> None:
        self.js(f"location.hash = {json.dumps(fragment)}")
        self.settle()

    def key(self, key: str, code: int) -> None:
        """Press and release a key as a user would (Enter and Space also type their text,
        which is what activates a button)."""
        text = {"Enter": "\r", " ": " "}.get(key)
        down = {"type": "keyDown", "text": text} if text else {"type": "rawKeyDown"}
        for event in (down, {"type": "keyUp"}):
            self.send("Input.dispatchKeyEvent", key=key, code=key, windowsVirtualKeyCode=code,
                      **event)  # fmt: skip
        self.settle()

    def resize(self, width: int, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip

    def screenshot(self, path: Path) -> None:
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.writer.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> tuple[Path, Board]:
    """The golden fixture's page (the trap first in <head>), beside nothing: links resolve
    against the fixture root, where the page would sit."""
    out = tmp_path_factory.mktemp("golden")
    board = build(FIXTURE, out, FIXTURE / "data", ceilings=CEILINGS)
    text = (out / "index.html").read_text().replace("<head>", "<head>" + TRAP, 1)
    (out / "trapped.html").write_text(text)
    return out / "trapped.html", board


def synthetic(
    n_models: int = 20, n_traces: int = 10, name: str | None = None, trace: str | None = None
) -> Board:
    """A board of `n_models` x `n_traces` ok cells with every metric, ranks and comparisons;
    every second model is a tuned variant; model 3 is a reference row."""
    traces = [trace if (trace and i == 0) else f"trace-{i}" for i in range(n_traces)]
    rows = []
    for m in range(n_models):
        model = name if (name and m == 0) else f"model_{m:02d}"
        base = 0.9 - 0.02 * m

        def metrics(base: float = base) -> dict[str, SeedMean]:
            out = {}
            for metric, fact in METRICS.items():
                value = base if fact.higher_is_better else 1.5 - base
                out[metric] = SeedMean(value, value - 0.01, value + 0.01)
            return out

        cells = {}
        for t, trace in enumerate(traces):
            vs = Comparison("next", Interval(0.02, 0.005, 0.035), tie=False, evidence="paired")
            standing = {"task": Standing(m + 1, False, vs), "delta": Standing(m + 1, m == 5, vs)}
            cells[trace] = Cell("ok", [0, 1], metrics(base - 0.001 * t), standing=standing,
                                costs={"online_p50_us": 2.0 ** (m % 9)},
                                normalized=Interval(base, base - 0.1, base + 0.1),
                                mse_ratio=Interval(1.1, 1.0, 1.2))  # fmt: skip
        kind = "reference" if m == 3 else "baseline"
        row = Row(model, kind, ["delta", "task"], "ok", 2, cells, mean=metrics(),
                  costs={"online_p50_us": 2.0 ** (m % 9)}, rank={"task": m + 1, "delta": m + 1},
                  standing={"task": Standing(m + 1, False), "delta": Standing(m + 1, False)},
                  normalized=Interval(base, base - 0.1, base + 0.1))  # fmt: skip
        row.variant = "tuned" if m % 2 else "default"  # as rows carrying variants will
        if m % 2:  # what the board found for a row run on params files (board.link_params)
            row.params_files = {t: f"params/{model}-{t}.json" for t in ("task", "delta")}
            row.study_files = {t: f"studies/{model}-{t}.jsonl" for t in ("task", "delta")}
        rows.append(row)
    pick = BudgetPick(rows[0].model, 1.0, 0.9, 0.6)
    return Board(traces, {t: None for t in traces}, 3, rows, {}, [], [], n_models * n_traces,
                 budgets=[Budget(10.0, pick, pick)], headroom={t: 0.1 for t in traces})  # fmt: skip


def visible_rows(browser: Browser, selector: str) -> list[str]:
    return browser.js(
        f"Array.prototype.slice.call(document.querySelectorAll({json.dumps(selector)} + "
        "' tbody tr')).filter(function (r) { return !r.hidden; })"
        ".map(function (r) { return r.getAttribute('data-model'); })"
    )


def shown_sections(browser: Browser) -> list[str]:
    return browser.js(
        "Array.prototype.slice.call(document.querySelectorAll('section.view'))"
        ".filter(function (s) { return !s.hidden; }).map(function (s) { return s.id; })"
    )


def with_tuning_and_transfer(board: Board) -> Board:
    """`board` with the two views the golden fixture has not: default vs tuned (of its first
    tuned row) and the transfer view of a holdout board."""
    tuned = next(r.model for r in board.models if r.variant == "tuned")
    gain = Gain(0.70, 0.72, 0.02, 0.01, 0.03, better=True, significant=True)
    board.tuning = [
        TuningGain(tuned, "task", "acc", f"leaderboard/params/{tuned}-task.json",
                   {t: gain for t in board.traces}, gain)
    ]  # fmt: skip
    n = len(board.models)
    ranks = [TransferRank(r.model, i + 1, n - i) for i, r in enumerate(board.models)]
    board.transfer = [Transfer("task", "leaderboard/leaderboard.json", ranks, -1.0, None)]
    return board


@pytest.fixture(scope="module")
def extra_views(tmp_path_factory) -> Path:
    """A synthetic board's page with the tuning and transfer views."""
    page = tmp_path_factory.mktemp("extra") / "index.html"
    page.write_text(html_page(with_tuning_and_transfer(synthetic(6, 2))))
    return page


VIEWS = [
    ("overall", "#view=overall", "view-overall"),
    ("trace-alpha", "#view=trace&trace=alpha", "view-trace-alpha"),
    ("trace-beta", "#view=trace&trace=beta&refs=0", "view-trace-beta"),
    ("budgets", "#view=budgets", "view-budgets"),
    ("horizon", "#view=horizon", "view-horizon"),
    ("ceilings", "#view=ceilings", "view-ceilings"),
    ("runs", "#view=runs", "view-runs"),
    ("tuning", "#view=tuning", "view-tuning"),  # these two from the synthetic board
    ("transfer", "#view=transfer", "view-transfer"),
]


@pytest.mark.parametrize(("name", "fragment", "section"), VIEWS)
def test_every_view_renders_alone_and_is_screenshot(
    browser, golden, extra_views, name, fragment, section
):
    page = extra_views if name in ("tuning", "transfer") else golden[0]
    browser.open(page, fragment)
    assert shown_sections(browser) == [section]
    assert browser.js("document.documentElement.getAttribute('data-xss')") is None
    if name == "overall":
        assert browser.js("document.getElementById('frontier').getAttribute('data-points')") == "5"
    if name.startswith("trace"):
        svg = f"document.querySelector('#{section} svg.bars')"
        drawn = browser.js(svg + ".getAttribute('data-bars')")
        assert drawn == ("6,7" if name == "trace-alpha" else "5,6")  # beta without references
    lines = "document.getElementById('horizon-plot').getAttribute('data-lines')"
    if name == "horizon":  # lstm, markov, majority draw a line; arima forecasts no tasks
        assert browser.js(lines) == "3"
        assert browser.js("document.querySelectorAll('#horizon tbody tr').length") == 4
        assert browser.js("document.querySelectorAll('#horizon-falls tbody tr').length") == 3
        browser.hash("#view=horizon&refs=0")  # the reference rows' lines go with the toggle
        assert browser.js(lines) == "1"
        browser.hash("#view=horizon")
    if name == "tuning":
        assert browser.js("document.querySelectorAll('#tuning tbody tr').length") == 1
    if name == "transfer":
        assert browser.js("document.querySelectorAll('#transfer-task tbody tr').length") == 6
    browser.screenshot(SHOTS / f"{name}.png")
    assert (SHOTS / f"{name}.png").stat().st_size > 1000


def test_a_header_click_sorts_and_a_second_reverses(browser, golden):
    page, _ = golden
    browser.open(page, "#view=trace&trace=alpha")
    table = "#trace-alpha-delta"
    click = f"document.querySelector('{table} th[data-key=\"mse_z\"] button').click()"
    browser.js(click)
    browser.settle()
    assert browser.js("location.hash") == "#view=trace&trace=alpha&sort=mse_z"
    rows = visible_rows(browser, table)
    assert rows[:3] == ["lightgbm", "lstm", "ewma"]  # alpha mse_z 0.50, 0.56, 0.60
    browser.js(click)
    browser.settle()
    assert browser.js("location.hash").endswith("sort=mse_z&dir=desc")
    assert visible_rows(browser, table)[0] == "<script>alert(1)</script>"  # 2.0, the worst
    sorted_dir = f"document.querySelector('{table}').getAttribute('data-sorted-dir')"
    assert browser.js(sorted_dir) == "desc"


def test_the_reference_toggle_hides_reference_rows_and_points(browser, golden):
    page, board = golden
    browser.open(page, "#view=overall")
    references = {m.model for m in board.models if m.kind == "reference"}
    assert references <= set(visible_rows(browser, "#board"))
    browser.js("document.getElementById('toggle-refs').click()")
    browser.settle()
    assert browser.js("location.hash") == "#view=overall&refs=0"
    assert not references & set(visible_rows(browser, "#board"))
    assert len(visible_rows(browser, "#board")) == len(board.models) - len(references)
    assert browser.js("document.getElementById('toggle-refs').getAttribute('aria-pressed')") == (
        "false"
    )
    assert browser.js("document.getElementById('frontier').getAttribute('data-points')") == "2"
    # the nav links carry the toggle, so a trace view opened next keeps references hidden
    browser.js("document.querySelector('#views a[data-trace=\"beta\"]').click()")
    browser.settle()
    assert browser.js("location.hash") == "#view=trace&trace=beta&refs=0"
    assert "markov" not in visible_rows(browser, "#trace-beta-task")


def test_hash_state_round_trips_and_back_and_forward_work(browser, golden):
    page, _ = golden
    browser.open(page, "#view=overall")
    for fragment in ("#view=trace&trace=beta&refs=0&sort=acc&dir=asc", "#view=budgets"):
        browser.hash(fragment)
    browser.js("history.back()")
    browser.settle()
    assert browser.js("location.hash") == "#view=trace&trace=beta&refs=0&sort=acc&dir=asc"
    assert shown_sections(browser) == ["view-trace-beta"]
    sorted_by = "document.querySelector('#trace-beta-task').getAttribute('data-sorted-by')"
    assert browser.js(sorted_by) == "acc"
    assert browser.js("document.documentElement.getAttribute('data-refs')") == "0"
    browser.js("history.forward()")
    browser.settle()
    assert shown_sections(browser) == ["view-budgets"]
    browser.js("history.back()")
    browser.js("history.back()")
    browser.settle()
    assert shown_sections(browser) == ["view-overall"]
    browser.hash("#view=nonsense&trace=nope")  # unknown state falls back to the overall view
    assert shown_sections(browser) == ["view-overall"]


def test_the_keyboard_reaches_the_views_with_a_visible_focus(browser, golden):
    page, _ = golden
    browser.open(page, "#view=overall")
    browser.key("Tab", 9)
    assert browser.js("document.activeElement.textContent") == "Overall"
    assert browser.js("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    browser.key("Tab", 9)
    assert browser.js("document.activeElement.getAttribute('data-trace')") == "alpha"
    browser.key("Enter", 13)
    assert shown_sections(browser) == ["view-trace-alpha"]
    browser.js("document.querySelector('#trace-alpha-task th[data-key=\"top3\"] button').focus()")
    browser.key("Enter", 13)  # a header is a button: Enter sorts
    assert browser.js("location.hash") == "#view=trace&trace=alpha&sort=top3"
    assert visible_rows(browser, "#trace-alpha-task")[0] == "lightgbm"  # top3 1.0
    browser.js("document.getElementById('toggle-refs').focus()")
    browser.key(" ", 32)  # so is the reference toggle: Space toggles
    assert browser.js("location.hash") == "#view=trace&trace=alpha&refs=0&sort=top3"
    focusable = browser.js("document.querySelectorAll('th button, #toggles button, nav a').length")
    assert focusable > 20


@pytest.mark.parametrize("which", ["golden", "synthetic"])
def test_the_main_view_fits_1024_px(browser, golden, tmp_path, which):
    page = golden[0]
    if which == "synthetic":
        page = tmp_path / "index.html"
        page.write_text(html_page(synthetic()))
    browser.open(page, "#view=overall")
    width = browser.js("document.documentElement.scrollWidth")
    assert browser.js("window.innerWidth") == 1024
    assert width <= 1024, f"the overall view is {width} px wide"
    table = browser.js("document.getElementById('board').getBoundingClientRect().right")
    assert table <= 1024


def test_every_evidence_link_resolves_to_a_file_of_the_fixture(browser, golden):
    page, _ = golden
    browser.open(page, "#view=overall")
    hrefs = browser.js(
        "Array.prototype.slice.call(document.querySelectorAll('a[href]'))"
        ".map(function (a) { return a.getAttribute('href'); })"
    )
    files = [h for h in hrefs if not h.startswith("#") and not h.startswith("../data/")]
    assert files, "no evidence links"
    for href in files:
        assert (FIXTURE / unquote(href)).is_file(), f"{href} does not resolve"
    results = {h for h in files if h.startswith("results/")}
    assert "results/lstm/alpha/seed2.json" in results  # every seed of a cell
    assert "results/kernel_oracle_lstm/alpha/seed0.failed.json" in results  # a failed run
    datasheet = {h for h in hrefs if h.startswith("../data/README.md#")}
    assert datasheet == {"../data/README.md#alpha", "../data/README.md#beta"}
    assert (REPO / "leaderboard" / "../data/README.md").resolve().is_file()


def test_datasheet_anchors_name_real_sections_and_tuned_rows_link_their_params(tmp_path):
    from benchmark.reporting.page_data import datasheet_href, params_links

    headings = re.findall(r"^### `([^`]+)`$", (REPO / "data" / "README.md").read_text(), re.M)
    assert headings
    for trace in headings:  # GitHub drops the backticks and keeps the name's dashes
        assert datasheet_href(trace) == f"../data/README.md#{trace.lower()}"
    board = synthetic(4, 2)
    assert params_links(board.models[1]) == [
        ("task params", "params/model_01-task.json"),
        ("task study", "studies/model_01-task.jsonl"),
        ("delta params", "params/model_01-delta.json"),
        ("delta study", "studies/model_01-delta.jsonl"),
    ]
    assert params_links(board.models[0]) == []  # a default row has no params file
    page = html_page(board)
    assert 'href="params/model_01-task.json"' in page
    assert 'href="studies/model_01-task.jsonl"' in page


def test_the_variant_toggle_cycles_all_default_tuned(browser, tmp_path):
    page = tmp_path / "index.html"
    page.write_text(html_page(synthetic(6, 2)))
    browser.open(page, "#view=overall")
    assert len(visible_rows(browser, "#board")) == 6
    browser.js("document.getElementById('toggle-variant').click()")
    browser.settle()
    assert browser.js("location.hash") == "#view=overall&variant=default"
    assert visible_rows(browser, "#board") == ["model_00", "model_02", "model_04"]
    browser.js("document.getElementById('toggle-variant').click()")
    browser.settle()
    assert visible_rows(browser, "#board") == ["model_01", "model_03", "model_05"]
    browser.hash("#view=overall&variant=tuned&refs=0")
    assert visible_rows(browser, "#board") == ["model_01", "model_05"]


def test_a_hostile_model_name_stays_text_everywhere(browser, tmp_path):
    board = synthetic(5, 2, name=HOSTILE, trace=HOSTILE_TRACE)
    board.failed = [Failure("model_01", HOSTILE_TRACE, 0, f"RuntimeError: {HOSTILE}", "a/b.json")]
    board.transfer = [Transfer("task", HOSTILE, [TransferRank(HOSTILE, 1, 2)], None, HOSTILE)]
    text = html_page(board)
    assert HOSTILE not in text
    embedded = text.split('id="board-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert json.loads(embedded)["models"][0]["model"] == HOSTILE
    page = tmp_path / "hostile.html"
    page.write_text(text.replace("<head>", "<head>" + TRAP, 1))
    titles = []
    trace_view = "#view=trace&trace=" + quote(HOSTILE_TRACE, safe="")
    views = ("#view=overall", trace_view, "#view=budgets", "#view=runs", "#view=transfer")
    for fragment in views:
        browser.open(page, fragment)
        browser.js("new Promise(function (r) { setTimeout(r, 100); })")  # an onerror would run
        assert browser.js("document.documentElement.getAttribute('data-xss')") is None
        assert browser.js("document.querySelectorAll('img').length") == 0
        names = browser.js(
            "Array.prototype.slice.call(document.querySelectorAll('td.name'))"
            ".map(function (td) { return td.textContent; })"
        )
        assert HOSTILE in names
        budgets = browser.js("document.getElementById('budgets').textContent")
        assert HOSTILE + " (1 µs)" in budgets
        titles += browser.js(
            "Array.prototype.slice.call(document.querySelectorAll('svg title'))"
            ".map(function (t) { return t.textContent; })"
        )
    assert browser.js("document.documentElement.getAttribute('data-view')") == "transfer"
    assert browser.js("document.getElementById('failed').textContent").count(HOSTILE) == 1
    assert HOSTILE_TRACE in browser.js("document.getElementById('failed').textContent")
    assert HOSTILE in browser.js("document.getElementById('transfer-task').textContent")
    assert browser.js("document.querySelectorAll('svg').length") == 3  # the page's own
    assert sum(t.startswith(HOSTILE + ": ") for t in titles) == 3  # frontier, two bar panels
    browser.open(page, trace_view)
    assert browser.js("document.documentElement.getAttribute('data-trace')") == HOSTILE_TRACE
    assert browser.js("document.querySelector('svg.bars:not([hidden])') !== null")
    assert browser.js("document.querySelectorAll('script').length") == 3  # trap, data, page


def test_the_transfer_view_of_a_holdout_board(browser, tmp_path):
    board = synthetic(4, 2)
    ranks = [TransferRank("model_00", 1, 2), TransferRank("model_01", 2, 1)]
    board.transfer = [
        Transfer("task", "leaderboard/leaderboard.json", ranks, None, "2 model(s) ranked"),
        Transfer("delta", "leaderboard/leaderboard.json", ranks, -1.0, None),
    ]
    page = tmp_path / "index.html"
    page.write_text(html_page(board))
    browser.open(page, "#view=transfer")
    assert shown_sections(browser) == ["view-transfer"]
    text = browser.js("document.getElementById('view-transfer').textContent")
    assert "no rho: 2 model(s) ranked" in text and "rho = -1.000" in text
    assert browser.js("document.querySelectorAll('#transfer-delta tbody tr').length") == 2
    assert "Transfer" in browser.js("document.getElementById('views').textContent")
    assert "#view=transfer" not in html_page(synthetic(4, 2))  # no holdout, no view


def test_first_paint_of_a_20_model_10_trace_board(browser, tmp_path, capsys):
    page = tmp_path / "index.html"
    page.write_text(html_page(synthetic(20, 10)))
    timings = []
    for _ in range(3):
        browser.open(page, "#view=overall")
        browser.js("new Promise(function (r) { requestAnimationFrame(function () { "
                   "setTimeout(r, 50); }); })")  # fmt: skip
        timings.append(browser.js(
            "(function () { var p = {}; performance.getEntriesByType('paint').forEach("
            "function (e) { p[e.name] = e.startTime; }); var n = performance."
            "getEntriesByType('navigation')[0]; return {fp: p['first-paint'], fcp: "
            "p['first-contentful-paint'], dcl: n.domContentLoadedEventEnd, "
            "bytes: document.documentElement.outerHTML.length}; })()"
        ))  # fmt: skip
    best = min(timings, key=lambda t: t["fcp"] or 1e9)
    with capsys.disabled():
        print(
            f"\nindex.html, 20 models x 10 traces ({page.stat().st_size} bytes): first paint "
            f"{best['fp']:.0f} ms, first contentful paint {best['fcp']:.0f} ms, "
            f"DOMContentLoaded {best['dcl']:.0f} ms (best of {len(timings)}; all: "
            f"{[round(t['fcp']) for t in timings]})"
        )
    assert best["fcp"] is not None and best["fcp"] < 2000
    assert best["dcl"] < 2000
