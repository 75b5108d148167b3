"""Record a real single-CPU scheduler trace under an nginx + ab load (`kernel-oracle capture`).

One capture (README §3): a generated nginx config on 127.0.0.1 and a free port, the scenario's
background loads, ab with `-t` before `-n`, all pinned to one CPU with `taskset`; after a short
warm-up `perf record` takes the sched_switch and sched_wakeup events of that CPU for the
scenario's seconds. Every process it started is stopped by its PID (never by name), also on an
error or Ctrl-C. The recording is exported as `perf script --ns` text and `perf sched map` text,
both xz-compressed, next to `capture.json` (the machine, the tools, the scenario, ab's
throughput, lost events, the exact commands and a summary of the trace).

One job per module: `scenario` (data/scenarios.toml), `processes` (supervision by PID),
`workload` (nginx, background loads, ab), `machine` (facts, requirements, a quiet CPU),
`record` (perf record and the exports), `driver` (the `capture()` sequence).
"""

from __future__ import annotations

from benchmark.data.capture.driver import CaptureResult, capture, summarize, write_capture
from benchmark.data.capture.errors import CaptureError, ScenarioError
from benchmark.data.capture.machine import machine_facts, missing_requirements
from benchmark.data.capture.processes import ProcessGroup, ProcessRef
from benchmark.data.capture.record import parse_lost, perf_can_record
from benchmark.data.capture.scenario import (
    Background,
    Client,
    Scenario,
    load_scenario,
    load_scenarios,
    with_overrides,
)
from benchmark.data.capture.workload import ab_argv, background_argv, nginx_config, parse_ab_output
from benchmark.data.rawfiles import CAPTURE_JSON, PERF_SCRIPT_FILE, SCHED_MAP_FILE

__all__ = [
    "CAPTURE_JSON",
    "PERF_SCRIPT_FILE",
    "SCHED_MAP_FILE",
    "Background",
    "CaptureError",
    "CaptureResult",
    "Client",
    "ProcessGroup",
    "ProcessRef",
    "Scenario",
    "ScenarioError",
    "ab_argv",
    "background_argv",
    "capture",
    "load_scenario",
    "load_scenarios",
    "machine_facts",
    "missing_requirements",
    "nginx_config",
    "parse_ab_output",
    "parse_lost",
    "perf_can_record",
    "summarize",
    "with_overrides",
    "write_capture",
]
