"""perf: the recording and its exports (README §3).

`perf record -e sched:sched_switch -e sched:sched_wakeup -C <cpu>` runs on the other CPUs (so
perf's own threads stay off the traced one) with a 16 MiB ring buffer; the recording is then
exported as `perf script --ns` text and `perf sched map -v` text, and perf's lost-event
reports are counted. The texts are xz-compressed (preset 9) into the capture folder.
"""

from __future__ import annotations

import lzma
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmark.core.atomic import write_bytes
from benchmark.data.capture.errors import CaptureError
from benchmark.data.capture.machine import REQUIREMENTS
from benchmark.data.capture.processes import ProcessGroup, other_cpus

PERF_SCRIPT_FIELDS = "comm,tid,cpu,time,event,trace"
PERF_MMAP_PAGES = "4096"  # 16 MiB ring buffer per CPU: no lost events at 100k+ switches/s


def perf_can_record(cpu: int) -> str | None:
    """None when `perf record` of sched_switch on `cpu` works here, else perf's complaint."""
    if shutil.which("perf") is None:
        return "perf is not installed (" + REQUIREMENTS["perf"] + ")"
    with tempfile.TemporaryDirectory(prefix="kernel-oracle-probe-") as tmp:
        cmd = ["perf", "record", "-q", "-e", "sched:sched_switch", "-C", str(cpu)]
        cmd += ["-o", f"{tmp}/probe.data", "--", "sleep", "0.05"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{shlex.join(cmd)}` failed: {exc}"
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return f"`{shlex.join(cmd)}` exited {proc.returncode}: {' | '.join(lines[-3:])}"
    return None


def perf_record_argv(cpu: int, seconds: float, out: Path) -> list[str]:
    """The recording command: sched_switch and sched_wakeup of `cpu` for `seconds`."""
    argv = ["perf", "record", "-e", "sched:sched_switch", "-e", "sched:sched_wakeup"]
    argv += ["-C", str(cpu), "-m", PERF_MMAP_PAGES, "-o", str(out), "--", "sleep", f"{seconds:g}"]
    others = other_cpus(cpu)
    return ["taskset", "-c", others, *argv] if others else argv


def record(group: ProcessGroup, argv: list[str], seconds: float) -> tuple[str, str]:
    """Run the recording to its end inside `group`; returns perf's (stderr, stdout)."""
    perf = group.start("perf record", argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = perf.communicate(timeout=seconds + 120)
    stderr = err.decode(errors="replace")
    if perf.returncode != 0:
        raise CaptureError(f"perf record exited {perf.returncode}: {stderr.strip()[-500:]}")
    return stderr, out.decode(errors="replace")


def _run_export(argv: list[str], dst: Path, commands: list[str]) -> str:
    """Run a perf export command with stdout into `dst`; returns its stderr."""
    commands.append(shlex.join(argv) + f" > {dst.name}")
    with open(dst, "wb") as handle:
        proc = subprocess.run(argv, stdout=handle, stderr=subprocess.PIPE, text=False)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise CaptureError(f"`{shlex.join(argv)}` exited {proc.returncode}: {err.strip()[-500:]}")
    return err


def export(perf_data: Path, script_txt: Path, map_txt: Path, commands: list[str]) -> str:
    """Write the perf script and sched map texts of a recording; returns what perf printed
    (for `parse_lost`)."""
    err = _run_export(
        ["perf", "script", "-i", str(perf_data), "--ns", "-F", PERF_SCRIPT_FIELDS],
        script_txt,
        commands,
    )
    # -v: every row names its task (`=> comm:tid`); the plain map reuses short names after
    # 260 tasks and is then ambiguous. The parser reads both.
    err += _run_export(["perf", "sched", "map", "-v", "-i", str(perf_data)], map_txt, commands)
    stats = subprocess.run(
        ["perf", "report", "-i", str(perf_data), "--stats"], capture_output=True, text=True
    )
    commands.append(f"perf report -i {perf_data} --stats")
    return err + stats.stdout


def parse_lost(text: str) -> int:
    """Lost events reported by perf (`LOST n events`, `lost n chunks`, `--stats` LOST lines)."""
    total = 0
    for pattern in (
        r"LOST (\d+) events",
        r"lost (\d+) chunks",
        r"LOST(?:_SAMPLES)? events:\s+(\d+)",
    ):
        total += sum(int(n) for n in re.findall(pattern, text))
    return total


def compress_to(src: Path, dst: Path) -> int:
    """xz-compress (preset 9) `src` into `dst` atomically; returns the compressed size."""
    comp = lzma.LZMACompressor(preset=9)
    chunks = []
    with open(src, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            chunks.append(comp.compress(block))
    chunks.append(comp.flush())
    data = b"".join(chunks)
    write_bytes(dst, data)
    return len(data)
