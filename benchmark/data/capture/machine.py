"""Facts about the capturing machine, what a capture needs of it, and a quiet CPU (README §3).

`capture.json` records the kernel, the perf/nginx/ab versions, the CPU model and count, and
HZ (CONFIG_HZ where the kernel config is readable, else USER_HZ, labelled). Before recording,
the capture waits until other work leaves the traced CPU quiet, since everything that runs on
it becomes part of the trace.
"""

from __future__ import annotations

import gzip
import os
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.core.machine import cpu_model
from benchmark.data.capture.errors import CaptureError

# Requirement -> how to get it.
REQUIREMENTS = {
    "perf": "apt-get install linux-perf (Debian) or linux-tools-$(uname -r) (Ubuntu)",
    "nginx": "apt-get install nginx-light",
    "ab": "apt-get install apache2-utils",
    "taskset": "apt-get install util-linux",
}


def missing_requirements() -> list[str]:
    """One line per missing piece (root, perf, nginx, ab, taskset), saying how to get it."""
    problems = []
    if os.geteuid() != 0:
        problems.append(
            "capture needs root (perf records kernel tracepoints): run it as root or with sudo"
        )
    for tool, how in REQUIREMENTS.items():
        if shutil.which(tool) is None:
            problems.append(f"capture needs `{tool}`, which is not on PATH: {how}")
    return problems


def read_kernel_hz() -> dict[str, Any]:
    """CONFIG_HZ from the kernel config if readable, else USER_HZ from getconf (labelled)."""
    release = platform.release()
    for path in (Path(f"/boot/config-{release}"), Path("/proc/config.gz")):
        try:
            raw = path.read_bytes()
            text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
        except (OSError, EOFError, UnicodeDecodeError):
            continue
        match = re.search(r"^CONFIG_HZ=(\d+)$", text, re.MULTILINE)
        if match:
            return {"hz": int(match.group(1)), "hz_source": f"CONFIG_HZ in {path}"}
    try:
        ticks = subprocess.run(["getconf", "CLK_TCK"], capture_output=True, text=True).stdout
        return {"hz": int(ticks), "hz_source": "USER_HZ from `getconf CLK_TCK` (not CONFIG_HZ)"}
    except (OSError, ValueError):
        return {"hz": None, "hz_source": "unreadable"}


def tool_version(argv: list[str]) -> str:
    """The first line a tool prints for its version flag, or "unknown"."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (proc.stdout + proc.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def machine_facts() -> dict[str, Any]:
    """Kernel release, perf/nginx/ab versions, CPU model and count, HZ."""
    return {
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "machine": platform.machine(),
        "perf": tool_version(["perf", "--version"]),
        "nginx": tool_version(["nginx", "-v"]),
        "ab": tool_version(["ab", "-V"]),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        # 1: each process the capture starts (each in its own session) is its own scheduling
        # group, so nice matters only inside it; a trace depends on this setting
        "sched_autogroup": _read_int(Path("/proc/sys/kernel/sched_autogroup_enabled")),
        **read_kernel_hz(),
    }


def _read_int(path: Path) -> int | None:
    """The integer in a /proc file, None when it is absent or unreadable."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _cpu_times(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one CPU from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
            return sum(values) - idle, sum(values)
    raise CaptureError(f"CPU {cpu} is not in /proc/stat")


def cpu_busy(cpu: int, seconds: float = 2.0) -> float:
    """The fraction of the last `seconds` that `cpu` spent running something."""
    busy0, total0 = _cpu_times(cpu)
    time.sleep(seconds)
    busy1, total1 = _cpu_times(cpu)
    return (busy1 - busy0) / max(total1 - total0, 1)


def wait_until_quiet(
    cpu: int, max_busy: float, timeout: float, log: Callable[[str], None]
) -> float:
    """Wait until other work leaves `cpu` at most `max_busy` busy; returns the last reading.

    A capture records everything that runs on the CPU, so other heavy work there (a test run,
    a build) would become part of the trace. Raises CaptureError after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        busy = cpu_busy(cpu)
        if busy <= max_busy:
            return busy
        if time.monotonic() > end:
            raise CaptureError(
                f"CPU {cpu} stayed {busy:.0%} busy with other work for {timeout:.0f} s (limit "
                f"{max_busy:.0%}); move that work to other CPUs (`taskset -c 0 ...`), or pass "
                "--max-busy 1 to record anyway"
            )
        log(f"CPU {cpu} is {busy:.0%} busy with other work; waiting for it to be quiet")
