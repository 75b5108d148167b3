"""Loose numbers in a submission file are refused, naming the line (issue 9 items 6 and 13).

Python's `float()` and `int()` take `1_000`, `181_978` and other scripts' digits, and a finite
1e308 overflowed the squared error into an interval that excluded its own value. Each is now a
one-line refusal (exit 2) naming the line and the rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import benchmark.cli.submit  # noqa: F401  (registers the commands)
from benchmark.cli.app import app

TRACE = "single-worker"
runner = CliRunner()


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> list[str]:
    path = tmp_path_factory.mktemp("sub") / "sample.csv"
    done = runner.invoke(app, ["sample-submission", "--trace", TRACE, "--out", str(path)])
    assert done.exit_code == 0, done.output
    return path.read_text().splitlines()


def _with_row(tmp_path: Path, sample: list[str], position: str, delta: str) -> Path:
    rows = list(sample)
    _, task, _ = rows[1].split(",")
    rows[1] = f"{position},{task},{delta}"
    path = tmp_path / "sub.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("position", "delta", "said"),
    [
        (None, "1_000", "delta_us '1_000' is not a plain decimal number"),
        (None, "\u0661\u0662", "is not a plain decimal number"),  # Arabic-Indic 12
        (None, "1e308", "delta_us 1e308 is above 1e+12 microseconds"),
        ("UNDERSCORE", None, "is not an integer row index"),
        ("ARABIC", None, "is not an integer row index"),
    ],
)
def test_loose_numbers_are_refused_naming_the_line(tmp_path, sample, position, delta, said):
    first, _, value = sample[1].split(",")
    if position == "UNDERSCORE":
        position = f"{first[:3]}_{first[3:]}"
    elif position == "ARABIC":
        position = "".join(chr(0x0660 + int(c)) for c in first)
    path = _with_row(tmp_path, sample, position or first, delta or value)
    done = runner.invoke(app, ["score", str(path), "--trace", TRACE, "--json"])
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and "line 2:" in lines[0] and said in lines[0], done.output


def test_the_largest_allowed_delta_scores_with_standard_json(tmp_path, sample):
    first, _, _ = sample[1].split(",")
    path = _with_row(tmp_path, sample, first, "1e12")
    done = runner.invoke(app, ["score", str(path), "--trace", TRACE, "--json"])
    assert done.exit_code == 0, done.output
    assert "Infinity" not in done.stdout and "NaN" not in done.stdout
    metrics = json.loads(done.stdout)["metrics"]
    mse = metrics["mse_z"]
    sigma = 1e12 - float(sample[1].split(",")[2])  # the one error, in microseconds
    assert mse["value"] > 0 and all(
        isinstance(mse[k], float) and mse[k] < 1e30 for k in ("value", "low", "high")
    )  # finite (no overflow), and dominated by the one huge error
    assert mse["value"] > (sigma / 1e6) ** 2 / len(sample)
