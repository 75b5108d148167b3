"""index.html's links to the evidence, read from the HTML (no browser needed).

* The committed page (`leaderboard/index.html`): every `href`/`src` that is not an in-page
  `#...` link names a file git tracks (relative to `leaderboard/`, anchors stripped), and an
  anchor into a Markdown file (`../data/README.md#mixed`) names one of its headings as GitHub
  anchors them.
* A board built from a copy of the golden fixture in which some models ran on params files:
  every row that ran on a params file links it, with or without a default twin, and links the
  study journal its `study.storage` names only where that file exists; a path that leaves the
  board's folder or names no file is never linked; a default row's result files are linked
  in the trace views, where it sits unranked.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from benchmark.reporting.board import build

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "results"
CEILINGS = {"alpha": {"max_predictability": 0.8}, "beta": {"max_predictability": 0.7}}


class _Links(HTMLParser):
    """The href and src attributes of the page's elements (a script's text is not parsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("href", "src") and v is not None]


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    parser.close()
    return parser.links


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings (lower case, punctuation other than
    `-` and `_` dropped, spaces as `-`; a repeated heading gets `-1`, `-2`...)."""
    out: set[str] = set()
    seen: dict[str, int] = {}
    fence = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fence = not fence
        heading = re.match(r"#{1,6} +(.*?) *#* *$", line)
        if fence or not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"not a git checkout: git {' '.join(args)}: {done.stderr.strip()[:200]}")
    return done.stdout


def test_every_link_of_the_committed_page_names_a_tracked_file():
    tracked = set(_git("ls-files", "-z").split("\0"))
    if "leaderboard/index.html" not in tracked:
        pytest.skip("leaderboard/index.html is not committed")
    page = (REPO / "leaderboard" / "index.html").read_text(encoding="utf-8")
    links = [h for h in links_of(page) if not h.startswith("#")]
    assert any(h.startswith("results/") for h in links), "no result-file links"
    bad, anchors = [], {}
    for href in links:
        assert "://" not in href and not href.startswith("/"), f"{href}: not a relative link"
        path, _, anchor = href.partition("#")
        file = posixpath.normpath(posixpath.join("leaderboard", unquote(path)))
        if file not in tracked:
            bad.append(href)
            continue
        if anchor and file.endswith(".md"):
            if file not in anchors:
                anchors[file] = github_anchors((REPO / file).read_text(encoding="utf-8"))
            if unquote(anchor) not in anchors[file]:
                bad.append(href)
    assert not bad, f"links of leaderboard/index.html to no tracked file or heading: {bad}"


def test_github_anchors_of_headings():
    text = "# Title\n## A `b` c!\n```\n# not a heading\n```\n### `mixed`\n### `mixed`\n"
    assert github_anchors(text) == {"title", "a-b-c", "mixed", "mixed-1"}


def _rewrite(path: Path, **fields) -> None:
    result = json.loads(path.read_text())
    result.update(fields)
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> tuple[Path, str]:
    """The fixture's results with lstm (which gets a default twin), ewma (which does not) and
    majority (on paths that must not be linked) run on params files."""
    root = tmp_path_factory.mktemp("tuned")
    shutil.copytree(FIXTURE / "results", root / "results")
    (root / "params").mkdir()
    (root / "studies").mkdir()
    journal = {"study": {"storage": "journal:studies/lstm-task.jsonl"}, "params": {}}
    (root / "params" / "lstm-task.json").write_text(json.dumps(journal))
    (root / "studies" / "lstm-task.jsonl").write_text('{"op_code": 0}\n')
    sqlite = {"study": {"storage": "sqlite:///.optuna/studies.db"}, "params": {}}
    (root / "params" / "lstm-delta.json").write_text(json.dumps(sqlite))
    absent = {"study": {"storage": f"journal:{root}/studies/ewma-task.jsonl"}, "params": {}}
    (root / "params" / "ewma-task.json").write_text(json.dumps(absent))
    (root / "params" / "ewma-delta.json").write_text("not json")
    sources = {
        "lstm": {"task": "params/lstm-task.json", "delta": "params/lstm-delta.json"},
        "ewma": {"task": "params/ewma-task.json", "delta": "params/ewma-delta.json"},
        "majority": {"task": "../../../../etc/passwd", "delta": "javascript:alert(1)"},
    }
    for model, source in sources.items():
        for path in (root / "results" / model).glob("*/seed*.json"):
            _rewrite(path, params_source=source)
    default = root / "results" / "lstm.default" / "alpha"
    default.mkdir(parents=True)
    shutil.copy(root / "results" / "lstm" / "alpha" / "seed0.json", default / "seed0.json")
    _rewrite(default / "seed0.json", model="lstm.default",
             params_source={"task": "default", "delta": "default"})  # fmt: skip
    board = build(root, root, FIXTURE / "data", ceilings=CEILINGS)
    assert [r.model for r in board.default_models] == ["lstm.default"]
    assert board.row("lstm").variant == "tuned" and board.row("ewma").variant == ""
    return root, (root / "index.html").read_text(encoding="utf-8")


def test_every_row_run_on_a_params_file_links_it_and_its_existing_journal(tuned):
    root, page = tuned
    links = set(links_of(page))
    assert "params/lstm-task.json" in links and "studies/lstm-task.jsonl" in links
    assert "params/lstm-delta.json" in links  # its study was in sqlite: no journal to link
    assert "params/ewma-task.json" in links  # no default twin: linked all the same
    assert "params/ewma-delta.json" in links  # unreadable, still the file it ran on
    assert not {h for h in links if h.startswith("studies/")} - {"studies/lstm-task.jsonl"}
    assert not [h for h in links if "passwd" in h or "javascript" in h or "alert" in h]
    board = json.loads((root / "leaderboard.json").read_text())
    rows = {m["model"]: m for m in board["models"] + board["default_models"]}
    assert rows["ewma"]["params_files"] == {"delta": "params/ewma-delta.json",
                                            "task": "params/ewma-task.json"}  # fmt: skip
    assert rows["ewma"]["study_files"] == {}
    assert rows["lstm"]["study_files"] == {"task": "studies/lstm-task.jsonl"}
    assert rows["majority"]["params_files"] == rows["lstm.default"]["params_files"] == {}


def test_a_default_row_links_its_result_files_in_the_trace_views(tuned):
    _, page = tuned
    assert "results/lstm.default/alpha/seed0.json" in set(links_of(page))
    table = page.split('id="trace-alpha-task"', 1)[1].split("</table>", 1)[0]
    row = re.search(r'<tr [^>]*data-model="lstm.default"[^>]*>(.*?)</tr>', table)
    assert row is not None, "the default row is not in the trace view"
    assert 'data-variant="default"' in row.group(0)
    assert row.group(1).startswith('<td data-v=""></td>')  # not ranked
    assert '<a href="results/lstm.default/alpha/seed0.json">seed0</a>' in row.group(1)
    beta = page.split('id="trace-beta-task"', 1)[1].split("</table>", 1)[0]
    row = re.search(r'<tr [^>]*data-model="lstm.default"[^>]*>(.*?)</tr>', beta)
    assert row is not None and '<td class="text files" data-v=""></td>' in row.group(1)


def test_every_link_of_the_tuned_board_resolves_under_its_folder(tuned):
    root, page = tuned
    files = [h for h in links_of(page) if not h.startswith(("#", "../data/"))]
    assert files
    for href in files:
        target = (root / unquote(href.partition("#")[0])).resolve()
        assert target.is_relative_to(root.resolve()) and target.is_file(), href
