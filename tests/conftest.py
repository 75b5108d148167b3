"""Shared fixtures: a small excerpt cut from a real shipped trace."""

from __future__ import annotations

import os

import pytest

from benchmark.data.dataset import Runs, runs_from_frame
from benchmark.data.manifest import read_run_table, trace_names

EXCERPT_RUNS = 3000


def excerpt_trace_name() -> str:
    """The trace excerpts are cut from: `$KERNEL_ORACLE_TEST_TRACE`, else single-worker."""
    names = trace_names()
    wanted = os.environ.get("KERNEL_ORACLE_TEST_TRACE", "single-worker")
    return wanted if wanted in names else names[0]


@pytest.fixture(scope="session")
def excerpt() -> Runs:
    """The first 3,000 runs of a real trace, with its own 70/10/20 split by the fixed rule."""
    name = excerpt_trace_name()
    frame = read_run_table(name).iloc[:EXCERPT_RUNS]
    return runs_from_frame(frame, f"{name}-excerpt")
