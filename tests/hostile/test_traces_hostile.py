"""Hostile trace files, through `kernel-oracle prepare --data DIR` (issue 9: the corpus, traces).

Each case replaces the perf script text of a raw folder (the 400-switch excerpt of the shipped
single-worker trace, 399 runs) with something broken or odd. It ends in a one-line refusal with
exit code 2 that names the file, or in the correct run table: the expected numbers are worked
out here from the excerpt's own lines.
"""

from __future__ import annotations

import gzip
import json
import lzma
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmark.data.manifest import load_manifest
from tests.hostile.datacli import accepted, refused, run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
EXCERPT = (FIXTURES / "single-worker-head.perf-script.txt").read_bytes()
LINES = EXCERPT.decode().split("\n")[:-1]
SWITCH_ROWS = [i for i, line in enumerate(LINES) if "sched:sched_switch:" in line]
RUNS = len(SWITCH_ROWS) - 1  # 399: the last switch only ends the last run


def _text(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _replace_line(i: int, line: str) -> bytes:
    return _text([*LINES[:i], line, *LINES[i + 1 :]])


def _shift(k: int, seconds: int) -> bytes:
    """The excerpt with switch k's time moved by `seconds`."""
    i = SWITCH_ROWS[k]
    sec, rest = LINES[i].split(".", 1)
    head, _, number = sec.rpartition(" ")
    return _replace_line(i, f"{head} {int(number) + seconds}.{rest}")


def _long() -> bytes:
    """Enough valid text (the excerpt's switches repeated forward in time) to pass 64 KiB."""
    out = []
    for rep in range(12):
        for i in SWITCH_ROWS:
            sec, rest = LINES[i].split(".", 1)
            head, _, number = sec.rpartition(" ")
            out.append(f"{head} {int(number) + rep}.{rest}")
    return _text(out)


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _two_cpus() -> bytes:
    other = [line.replace("[001]", "[000]") for line in LINES if "sched_switch" in line]
    return _text([*LINES, *other])


RANDOM = random.Random(9).randbytes(200_000)
# name -> (file bytes, written as xz unless the bytes are already compressed, outcome)
# outcome: ("error", needles...) or ("ok", runs, {damage kind: count}). Dropping a switch in
# the middle also makes the next one `lost` (its prev_pid is not the task left running).
CASES: dict[str, tuple[Callable[[], bytes], tuple]] = {
    "empty": (lambda: b"", ("error", "the file is empty (after xz decompression)")),
    "blank": (lambda: b"\n  \n\t\n", ("error", "the file is blank (only white space)")),
    "random bytes": (lambda: RANDOM, ("error", "binary data")),
    "perf.data header": (lambda: b"PERFILE2" + bytes(4096), ("error", "binary data")),
    "not a trace": (lambda: b"hello\nworld\n1.5 apples\n", ("error", "not a trace")),
    "map text": (
        lambda: (FIXTURES / "single-worker-head.sched-map.txt").read_bytes(),
        ("error", "holds `sched-map` text, expected `perf-script` text"),
    ),
    "wakeups only": (
        lambda: _text([line for line in LINES if "sched_wakeup" in line]),
        ("error", "no sched_switch events in the file"),
    ),
    "one switch": (lambda: _text([LINES[SWITCH_ROWS[0]]]), ("error", "only 1 switch(es)")),
    "three runs": (
        lambda: _text([LINES[i] for i in SWITCH_ROWS[:4]]),
        ("error", "at least 10 runs to be split, got 3"),
    ),
    "CR line ends": (lambda: EXCERPT.replace(b"\n", b"\r"), ("error", "lines end in CR only")),
    "a 10 MB line of digits alone": (lambda: b"7" * 10_000_000 + b"\n", ("error", "not a trace")),
    "two CPUs, no cpu in capture.json": (
        _two_cpus,
        ("error", "switches on CPUs 0, 1; choose one with --cpu"),
    ),
    "cut xz": (
        lambda: _half(lzma.compress(_long())),
        ("error", "the xz data is cut or corrupt", "copy the file again"),
    ),
    "cut gz": (
        lambda: _half(gzip.compress(_long())),
        ("error", "the gzip data is cut or corrupt after line"),
    ),
    "xz cut in its header": (
        lambda: lzma.compress(_long())[:20],
        ("error", "the xz data is cut or corrupt at its start"),
    ),
    "gz with garbage after it": (
        lambda: gzip.compress(_long()) + b"garbage!" * 10,
        ("error", "the gzip data is cut or corrupt"),
    ),
    # accepted, with the damage counted where it is
    "clean excerpt": (lambda: EXCERPT, ("ok", RUNS, {})),
    "gzip under the xz name": (lambda: gzip.compress(EXCERPT), ("ok", RUNS, {})),
    "a switch 6,000 s ahead": (lambda: _shift(200, 6000), ("ok", RUNS - 1, {"jump": 1, "lost": 1})),
    "the first switch 6,000 s ahead": (lambda: _shift(0, 6000), ("ok", RUNS - 1, {"jump": 1})),
    "a switch 6,000 s back": (
        lambda: _shift(200, -6000),
        ("ok", RUNS - 1, {"backwards": 1, "lost": 1}),
    ),
    "a 10 MB line of digits inside": (
        lambda: _text([*LINES[:50], "7" * 10_000_000, *LINES[50:]]),
        ("ok", RUNS, {"overlong": 1}),
    ),
    "a 40,000-digit line inside": (
        lambda: _text([*LINES[:50], "7" * 40_000, *LINES[50:]]),
        ("ok", RUNS, {"unknown": 1}),
    ),
    "a non-UTF-8 comm": (
        lambda: EXCERPT.replace(b"next_comm=ab ", b"next_comm=a\xffb ", 1),
        ("ok", RUNS, {"non_utf8": 1}),
    ),
    "a NUL inside a switch line after the first 64 KiB": (
        lambda: EXCERPT[:70_000] + EXCERPT[70_000:].replace(b"prev_comm=", b"prev\x00comm=", 1),
        ("ok", RUNS - 1, {"truncated": 1, "lost": 1}),  # the next switch's prev_pid is wrong
    ),
    "a switch written twice": (
        lambda: _text(LINES[: SWITCH_ROWS[9] + 1] + LINES[SWITCH_ROWS[9] :]),
        ("ok", RUNS, {"duplicate": 1}),
    ),
}


def _folder(tmp_path: Path, data: bytes) -> Path:
    root = tmp_path / "data"
    folder = root / "raw" / "hostile"
    folder.mkdir(parents=True)
    compressed = data[:2] == b"\x1f\x8b" or data[:6] == b"\xfd7zXZ\x00"
    (folder / "perf-script.txt.xz").write_bytes(data if compressed else lzma.compress(data))
    shutil.copy(FIXTURES / "single-worker.capture.json", folder / "capture.json")
    meta = json.loads((folder / "capture.json").read_text())
    if b"[000]" in data:
        del meta["cpu"]
    (folder / "capture.json").write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_trace(tmp_path: Path, case: str) -> None:
    make, outcome = CASES[case]
    root = _folder(tmp_path, make())
    started = time.monotonic()
    result = run("prepare", "--data", root)
    elapsed = time.monotonic() - started
    if outcome[0] == "error":
        refused(result, "raw/hostile/", *outcome[1:])
        assert not (root / "manifest.json").exists()
    else:
        accepted(result)
        _, runs, damage = outcome
        facts = load_manifest(root)["traces"]["hostile"]
        assert facts["runs"] == runs
        counts = {k: v for k, v in facts["parse"]["perf_script"]["damage"].items() if v}
        assert counts == damage
    print(f"{case}: {elapsed:.2f} s")  # shown with -s; the timing is reported, not asserted
