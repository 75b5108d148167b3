"""Hostile data folders and options for `prepare` and `data` (issue 9: the corpus, prepare).

A careless maintainer's folder: missing or misnamed files, a broken capture.json, a README of
their own, odd names, bad options. Each case ends in a one-line refusal with exit code 2 that
names the file or option, or in the correct result; a refusal writes no manifest.
"""

from __future__ import annotations

import json
import lzma
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmark.data.manifest import load_manifest
from tests.hostile.datacli import accepted, refused, run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
SCRIPT = FIXTURES / "single-worker-head.perf-script.txt"
MAP = FIXTURES / "single-worker-head.sched-map.txt"
META = json.loads((FIXTURES / "single-worker.capture.json").read_text())


def _raw(root: Path, name: str = "t1") -> Path:
    """A good raw folder: the excerpt's perf script and map (xz) and its capture.json."""
    folder = root / "raw" / name
    folder.mkdir(parents=True)
    (folder / "perf-script.txt.xz").write_bytes(lzma.compress(SCRIPT.read_bytes()))
    (folder / "sched-map.txt.xz").write_bytes(lzma.compress(MAP.read_bytes()))
    (folder / "capture.json").write_text(json.dumps(META))
    return folder


def _meta(root: Path, text: str | bytes) -> None:
    path = _raw(root) / "capture.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


# name -> (build the data folder, extra options, needles of the one-line refusal)
REFUSED: dict[str, tuple[Callable[[Path], object], list[str], list[str]]] = {
    "no raw folder": (lambda r: r.mkdir(), [], ["raw: no such folder", "kernel-oracle capture"]),
    "raw holds only files": (
        lambda r: ((r / "raw").mkdir(parents=True), (r / "raw" / "x.txt.gz").write_text("x")),
        [],
        ["raw: no captures (found only files: x.txt.gz)"],
    ),
    "misnamed perf script": (
        lambda r: (_raw(r) / "perf-script.txt.xz").rename(r / "raw/t1/perf_script.txt.xz"),
        [],
        [
            "t1: no perf script text; found capture.json, perf_script.txt.xz, sched-map.txt.xz",
            "expected perf-script.txt.xz or perf-script.txt.gz or perf-script.txt",
        ],
    ),
    "an empty raw folder": (
        lambda r: (r / "raw" / "t1").mkdir(parents=True),
        [],
        ["t1: no perf script text; found no files"],
    ),
    "perf script is a folder": (
        lambda r: (r / "raw" / "t1" / "perf-script.txt.xz").mkdir(parents=True),
        [],
        ["t1: no perf script text; found no files"],
    ),
    "both .xz and .gz": (
        lambda r: shutil.copy(_raw(r) / "perf-script.txt.xz", r / "raw/t1/perf-script.txt.gz"),
        [],
        ["perf-script.txt.xz and perf-script.txt.gz are both there; keep one"],
    ),
    "no capture.json": (
        lambda r: (_raw(r) / "capture.json").unlink(),
        [],
        ["t1/capture.json: missing", "write {} if nothing is known"],
    ),
    "capture.json not JSON": (lambda r: _meta(r, "{cpu: 1"), [], ["capture.json: not valid JSON"]),
    "capture.json a list": (lambda r: _meta(r, "[]"), [], ["a JSON object is expected, got list"]),
    "capture.json nested 100k deep": (lambda r: _meta(r, "[" * 100_000), [], ["nested too deep"]),
    "capture.json not UTF-8": (lambda r: _meta(r, b'{"x": "\xff"}'), [], ["not UTF-8 text"]),
    "capture.json cpu a string": (
        lambda r: _meta(r, '{"cpu": "1"}'),
        [],
        ["field 'cpu' is '1'; expected int"],
    ),
    "capture.json cpu negative": (lambda r: _meta(r, '{"cpu": -2}'), [], ["a CPU number is >= 0"]),
    "capture.json cpu not recorded": (
        lambda r: _meta(r, '{"cpu": 3}'),
        [],
        ["no switches on CPU 3; the file has CPUs 1 (CPU 3 from capture.json)"],
    ),
    "capture.json machine a string": (
        lambda r: _meta(r, '{"machine": "x86"}'),
        [],
        ["field 'machine' is 'x86'; expected dict"],
    ),
    "capture.json processes without pids": (
        lambda r: _meta(r, '{"processes": [{"label": "nginx"}]}'),
        [],
        ["processes[0] is {'label': 'nginx'}"],
    ),
    "--cpu conflicts with capture.json": (
        _raw,
        ["--cpu", "2"],
        ["capture.json: says cpu 1, --cpu says 2"],
    ),
    "--cpu negative": (_raw, ["--cpu", "-1"], ["--cpu -1: a CPU number is >= 0"]),
    "sched map disagrees": (
        lambda r: (_raw(r) / "sched-map.txt.xz").write_bytes(
            lzma.compress("\n".join(MAP.read_text().splitlines()[:-50]).encode())
        ),  # 400 map rows less 50 give 349 runs
        [],
        [
            "perf-script.txt.xz and sched-map.txt.xz disagree: 399 runs from perf script, "
            "349 from the map"
        ],
    ),
    "sched map empty": (
        lambda r: (_raw(r) / "sched-map.txt.xz").write_bytes(b""),
        [],
        ["t1/sched-map.txt.xz: the file is empty"],
    ),
    "README.md is a folder": (
        lambda r: (_raw(r), (r / "README.md").mkdir()),
        [],
        ["README.md: not a file"],
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused(tmp_path: Path, case: str) -> None:
    build, options, needles = REFUSED[case]
    root = tmp_path / "data"
    build(root)
    refused(run("prepare", "--data", root, *options), *needles)
    assert not (root / "manifest.json").exists()


def test_cpu_that_is_not_a_number_is_a_usage_error(tmp_path: Path) -> None:
    """Parsed by the CLI framework: exit 2 naming the option (its own boxed message)."""
    _raw(tmp_path)
    result = run("prepare", "--data", tmp_path, "--cpu", "one")
    assert result.exit_code == 2 and "Invalid value for '--cpu'" in result.output


def test_empty_capture_json_is_accepted(tmp_path: Path) -> None:
    _meta(tmp_path, "{}")
    out = accepted(run("prepare", "--data", tmp_path))
    assert "t1: 399 runs" in out and "formats agree: True" in out
    facts = load_manifest(tmp_path)["traces"]["t1"]
    assert facts["cpu"] == 1 and facts["kernel"] == "unknown" and facts["scenario"] == "unknown"


def test_markup_and_spaces_in_names_print_as_themselves(tmp_path: Path) -> None:
    _raw(tmp_path, "[bold red]my trace :ab:")
    out = accepted(run("prepare", "--data", tmp_path))
    assert "[bold red]my trace :ab:: 399 runs" in out
    assert "[bold red]my trace :ab:" in load_manifest(tmp_path)["traces"]


def test_a_readme_of_ones_own_is_left_alone(tmp_path: Path) -> None:
    _raw(tmp_path)
    (tmp_path / "README.md").write_text("notes\n")
    out = accepted(run("prepare", "--data", tmp_path))
    assert "README.md: no generated section" in out
    assert (tmp_path / "README.md").read_text() == "notes\n"


def test_hidden_and_extra_files(tmp_path: Path) -> None:
    """A hidden folder is skipped; an extra file in a raw folder is listed in the manifest."""
    folder = _raw(tmp_path)
    (tmp_path / "raw" / ".cache").mkdir()
    (folder / "notes.txt").write_text("recorded on my laptop\n")
    accepted(run("prepare", "--data", tmp_path))
    manifest = load_manifest(tmp_path)
    assert list(manifest["traces"]) == ["t1"]
    assert "raw/t1/notes.txt" in manifest["files"]


# `kernel-oracle data` on broken folders
DATA_REFUSED: dict[str, tuple[Callable[[Path], object], list[str]]] = {
    "missing folder": (lambda r: None, ["no such folder", "kernel-oracle prepare --data"]),
    "raw only": (_raw, ["raw captures but no manifest.json yet", "kernel-oracle prepare --data"]),
    "manifest not JSON": (
        lambda r: (r.mkdir(), (r / "manifest.json").write_text("{")),
        ["manifest.json: not valid JSON"],
    ),
    "manifest a list": (
        lambda r: (r.mkdir(), (r / "manifest.json").write_text("[]")),
        ["manifest.json: not a manifest"],
    ),
}


@pytest.mark.parametrize("case", list(DATA_REFUSED))
def test_data_refused(tmp_path: Path, case: str) -> None:
    build, needles = DATA_REFUSED[case]
    root = tmp_path / "data"
    build(root)
    refused(run("data", "--data", root), *needles)


def test_data_on_an_altered_parquet(tmp_path: Path) -> None:
    _raw(tmp_path)
    accepted(run("prepare", "--data", tmp_path))
    parquet = tmp_path / "traces" / "t1.parquet"
    parquet.write_bytes(parquet.read_bytes()[:-1] + b"\x00")
    refused(run("data", "--data", tmp_path), "t1.parquet: sha256", "does not match")
    (tmp_path / "splits.json").unlink()
    refused(run("data", "--data", tmp_path), "splits.json: missing")
