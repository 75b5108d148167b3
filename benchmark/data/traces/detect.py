"""Tell the two trace formats apart from the first lines of a file."""

from __future__ import annotations

from pathlib import Path

from benchmark.data.traces import perf_script, sched_map
from benchmark.data.traces.reading import TraceFormatError, sniff

FORMATS = ("perf-script", "sched-map")
SNIFF_LINES = 2000


def detect_format(path: Path) -> str:
    """`perf-script` or `sched-map`, decided by the first line that is either; else an error."""
    raw = sniff(path)
    if b"\r" in raw and b"\n" not in raw:
        raise TraceFormatError(
            f"{path}: lines end in CR only; convert them first (`tr '\\r' '\\n' < FILE > NEW`)"
        )
    head = raw.decode("utf-8", errors="replace")
    lines = [ln for ln in head.split("\n")[:SNIFF_LINES] if ln.strip()]
    for line in lines:
        if line.lstrip().startswith("#"):
            continue
        if perf_script.looks_like(line):
            return "perf-script"
        if sched_map.looks_like(line):
            return "sched-map"
    first = lines[0][:80] if lines else ""
    raise TraceFormatError(
        f"{path}: not a trace: no `perf script` event line or `perf sched map` row in the first "
        f"{len(lines)} lines (line 1: {first!r}); expected the output of `perf script --ns -F "
        "comm,tid,cpu,time,event,trace` or `perf sched map` on a sched:sched_switch recording"
    )
