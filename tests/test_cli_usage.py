"""Usage errors of the real entry point: one line on stderr, exit 2 (README §3-§7 commands)."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENTRY = "import sys; from benchmark.cli import main; sys.argv[0] = 'kernel-oracle'; main()"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("prepare", "--cpu", "one"), "--cpu"),
        (("nosuch",), "nosuch"),
        (("evaluate", "--timeout", "soon"), "--timeout"),
        (("score",), "file"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_option(args, named):
    done = _run(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert named in lines[0] and "--help" in lines[0]
    assert "Traceback" not in done.stderr and "╭" not in done.stderr


def test_no_arguments_prints_the_help_and_succeeds():
    done = _run()
    assert done.returncode == 0
    assert "Usage: kernel-oracle" in done.stdout
