"""Hostile scenario files and options for `kernel-oracle capture` (issue 9: the corpus, capture).

Every case must be refused before anything starts: the machine checks are stubbed to pass and
the steps that would wait or start processes fail the test if reached. Each refusal is one line
with exit code 2 naming the file, scenario and key, or the option.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmark.data.capture import driver
from tests.hostile.datacli import refused, run


@pytest.fixture(autouse=True)
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def started(*_args: object, **_kw: object) -> None:
        raise AssertionError("the capture got past its checks")

    monkeypatch.setattr(driver, "missing_requirements", lambda: [])
    monkeypatch.setattr(driver, "wait_until_quiet", started)
    monkeypatch.setattr(driver, "_run_load", started)


GOOD = "[scenarios.x]\nseconds = 1\n"
# scenarios.toml text -> needles of the refusal
FILES: dict[str, tuple[str | bytes, list[str]]] = {
    "not TOML": ("[scenarios.x\n", ["not valid TOML"]),
    "not UTF-8": (b"[scenarios.x]\ndescription = '\xff'\n", ["not valid TOML"]),
    "no tables": ("title = 'x'\n", ["no [scenarios.NAME] tables"]),
    "a scenario that is not a table": ("[scenarios]\nx = 5\n", ["'x': a table is expected"]),
    "unknown key": ("[scenarios.x]\ncolour = 'red'\n", ["unknown key(s) colour; known keys:"]),
    "workers a string": ("[scenarios.x]\nnginx_workers = 'many'\n", ["nginx_workers = 'many'"]),
    "workers 0": ("[scenarios.x]\nnginx_workers = 0\n", ["nginx_workers = 0; expected an integer"]),
    "workers 1000": ("[scenarios.x]\nnginx_workers = 1000\n", ["from 1 to 64"]),
    "keepalive 1": ("[scenarios.x]\nkeepalive = 1\n", ["keepalive = 1; expected true or false"]),
    "workers true": ("[scenarios.x]\nnginx_workers = true\n", ["nginx_workers = True"]),
    "seconds inf": ("[scenarios.x]\nseconds = inf\n", ["seconds = inf"]),
    "seconds nan": ("[scenarios.x]\nseconds = nan\n", ["seconds = nan"]),
    "seconds -1": ("[scenarios.x]\nseconds = -1\n", ["seconds = -1; expected a number"]),
    "seconds 0": ("[scenarios.x]\nseconds = 0\n", ["seconds = 0"]),
    "ab concurrency 30000": ("[scenarios.x]\nab_concurrency = 30000\n", ["(ab's limit)"]),
    "body of 1 TiB": ("[scenarios.x]\nbody_bytes = 1099511627776\n", ["body_bytes"]),
    "cpu -3": ("[scenarios.x]\ncpu = -3\n", ["cpu = -3; expected a CPU number"]),
    "description a number": ("[scenarios.x]\ndescription = 3\n", ["description = 3"]),
    "background a string": ("[scenarios.x]\nbackground = 'hog'\n", ["expected a list of tables"]),
    "background kind unknown": (
        "[scenarios.x]\nbackground = [{ kind = 'disco' }]\n",
        ["needs kind = one of cpu-hog, timer, fsync"],
    ),
    "background nice 40": (
        "[scenarios.x]\nbackground = [{ kind = 'cpu-hog', nice = 40 }]\n",
        ["nice = 40; expected an integer from -20 to 19"],
    ),
    "timer without a period": (
        "[scenarios.x]\nbackground = [{ kind = 'timer' }]\n",
        ["timer needs period_ms > 0"],
    ),
    "background extra key": (
        "[scenarios.x]\nbackground = [{ kind = 'fsync', period_ms = 5, path = '/etc' }]\n",
        ["background key(s) path unknown"],
    ),
}


@pytest.mark.parametrize("case", list(FILES))
def test_scenario_file_refused(tmp_path: Path, case: str) -> None:
    text, needles = FILES[case]
    path = tmp_path / "s.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    refused(run("capture", "--scenario", "x", "--scenarios", path), str(path), *needles)


def _unavailable_cpu() -> str:
    return str(max(os.sched_getaffinity(0)) + 1)


# options (on a good scenario file) -> needles of the refusal
OPTIONS: dict[str, tuple[list[str], list[str]]] = {
    "unknown scenario": (["--scenario", "nope"], ["unknown scenario 'nope'; known: x"]),
    "--seconds -1": (["--seconds", "-1"], ["--seconds: seconds = -1.0"]),
    "--seconds 0": (["--seconds", "0"], ["--seconds: seconds = 0.0"]),
    "--seconds nan": (["--seconds", "nan"], ["--seconds: seconds = nan"]),
    "--seconds inf": (["--seconds", "inf"], ["--seconds: seconds = inf"]),
    "--seconds a day": (["--seconds", "86400"], ["at most 3600"]),
    "--cpu -1": (["--cpu", "-1"], ["--cpu: cpu = -1; expected a CPU number"]),
    "--cpu 5000": (["--cpu", "5000"], ["--cpu: cpu = 5000"]),
    "--cpu not here": (["--cpu", _unavailable_cpu()], ["is not available here", "--cpu"]),
    "--max-busy 2": (["--max-busy", "2"], ["--max-busy 2: give a fraction from 0 to 1"]),
    "--max-busy -0.5": (["--max-busy", "-0.5"], ["--max-busy -0.5"]),
    "--max-busy nan": (["--max-busy", "nan"], ["--max-busy nan"]),
    "--quiet-timeout -1": (["--quiet-timeout", "-1"], ["--quiet-timeout -1: give seconds >= 0"]),
    "--quiet-timeout inf": (["--quiet-timeout", "inf"], ["--quiet-timeout inf"]),
    "--scenarios missing": (["--scenarios", "/no/such.toml"], ["/no/such.toml: no scenario file"]),
}


@pytest.mark.parametrize("case", list(OPTIONS))
def test_option_refused(tmp_path: Path, case: str) -> None:
    options, needles = OPTIONS[case]
    path = tmp_path / "s.toml"
    path.write_text(GOOD)
    args = ["capture", "--scenario", "x", "--scenarios", path, "--out", tmp_path / "out"]
    refused(run(*args, *options), *needles)


def test_out_is_a_file_or_holds_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(GOOD)
    target = tmp_path / "file"
    target.write_text("x")
    args = ["capture", "--scenario", "x", "--scenarios", path, "--out"]
    refused(run(*args, target), f"{target}: not a folder; choose another --out")
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "capture.json").write_text("{}")
    refused(run(*args, folder), "capture.json exists; pass --force")


def test_missing_tools_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "missing_requirements", lambda: ["needs root", "needs `ab`"])
    path = tmp_path / "s.toml"
    path.write_text(GOOD)
    out = tmp_path / "out"
    refused(
        run("capture", "--scenario", "x", "--scenarios", path, "--out", out),
        "needs root; needs `ab`",
    )
