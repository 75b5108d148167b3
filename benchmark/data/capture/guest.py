"""The guest half of `kernel-oracle capture` for a `vm = true` scenario (README "CFS track").

The guest's init (`GUEST_INIT` in `benchmark/data/capture/vm.py`) runs
`python3 -m benchmark.data.capture.guest /job` from the job disk and then powers the guest off.
This reads `/job/job.json` (the scenario's name and options) and `/job/scenarios.toml`, records
the guest scheduler's settings, and runs the host capture's own recording (`capture(raw=True)`:
nginx, ab and perf exactly as on the host) on the guest's only CPU; the host compresses and
summarizes what it leaves in `/job/out`. Any error is written to `/job/out/error.txt` in one
line, for the host to report.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import traceback
from pathlib import Path
from typing import Any

from benchmark.core.atomic import write_json
from benchmark.data.capture.driver import capture
from benchmark.data.capture.scenario import load_scenario, with_overrides
from benchmark.data.capturemeta import scheduler_of

# CFS's tunables in Linux 6.1 (debugfs; before 5.13 they were sysctls under /proc/sys/kernel)
SCHED_DEBUG = Path("/sys/kernel/debug/sched")
SCHED_KNOBS = ("latency_ns", "min_granularity_ns", "wakeup_granularity_ns", "base_slice_ns")
GUEST_FACTS = "guest.json"
GUEST_AB_SLACK_S = 30.0  # perf record takes seconds to start under emulation
# Under -icount the guest's clock follows instructions: perf's start and stop take more guest
# seconds (a 5 s icount capture outlived a 30 s slack), so ab gets more.
ICOUNT_AB_SLACK_S = 120.0
ERROR_FILE = "error.txt"


def scheduler_facts() -> dict[str, Any]:
    """The guest kernel, its scheduler's name and the CFS tunables it runs with."""
    release = platform.release()
    knobs = {}
    for name in SCHED_KNOBS:
        try:
            knobs[name] = int((SCHED_DEBUG / name).read_text().strip())
        except (OSError, ValueError):
            continue
    return {
        "kernel": release,
        "scheduler": scheduler_of(release),
        "sched_tunables": knobs,
        "cpu_count": os.cpu_count(),
    }


def run_job(job_dir: Path) -> int:
    """Run the job in `job_dir`; 0 on success, 1 with `out/error.txt` written."""
    out = job_dir / "out"
    out.mkdir(parents=True, exist_ok=True)
    try:
        job = json.loads((job_dir / "job.json").read_text())
        scenario = load_scenario(job["scenario"], job_dir / "scenarios.toml")
        scenario = with_overrides(scenario, seconds=job.get("seconds"), cpu=0)
        write_json(out / GUEST_FACTS, scheduler_facts())
        capture(scenario, out, log=lambda m: print(m, flush=True), force=True,
                max_busy=float(job.get("max_busy", 1.0)), raw=True,
                ab_slack_s=float(job.get("ab_slack_s", GUEST_AB_SLACK_S)))  # fmt: skip
    except BaseException as error:  # the host needs every failure, in one line
        lines = [x.strip() for x in f"{type(error).__name__}: {error}".splitlines() if x.strip()]
        (out / ERROR_FILE).write_text(" / ".join(lines)[:1000] + "\n")
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_job(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/job")))
