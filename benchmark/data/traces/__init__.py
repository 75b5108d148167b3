"""Scheduler trace parsing: `perf script` sched_switch text and `perf sched map` text.

    parsed = parse_trace("data/raw/single-worker/perf-script.txt.xz", cpu=1)
    parsed.runs        # the run table (README §3), one row per switch-in except the last
    parsed.damage      # counts and line numbers of damaged lines (see damage.DAMAGE_KINDS)

The format is detected from the text; plain, xz and gzip files are read (told apart by content).
A file that is empty, binary, cut or not a trace raises `TraceFormatError` naming it (README §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.data.traces.damage import DAMAGE_KINDS, NOTE_KINDS, Damage
from benchmark.data.traces.detect import FORMATS, detect_format
from benchmark.data.traces.perf_script import parse_perf_script
from benchmark.data.traces.reading import TraceFormatError
from benchmark.data.traces.runtable import COLUMNS, IDLE, build_run_table
from benchmark.data.traces.sched_map import parse_sched_map


@dataclass
class ParsedTrace:
    """A parsed trace file: its run table, damage report and what was learned on the way."""

    path: Path
    format: str
    cpu: int | None
    cpus: list[int]
    switches: int
    time_resolution_ns: int
    runs: pd.DataFrame
    damage: Damage


def parse_trace(path: str | Path, *, cpu: int | None = None, fmt: str | None = None) -> ParsedTrace:
    """Parse a trace file of either format (detected unless `fmt` is given) for one CPU."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown trace format {fmt!r}; known: {', '.join(FORMATS)}")
    detected = detect_format(path)  # also refuses empty, binary and cut files, naming them
    if fmt is not None and detected != fmt:
        raise TraceFormatError(f"{path}: holds `{detected}` text, expected `{fmt}` text")
    fmt = detected
    damage = Damage()
    if fmt == "perf-script":
        switches, facts = parse_perf_script(path, cpu, damage)
    else:
        switches, facts = parse_sched_map(path, cpu, damage)
    if len(switches) < 2:
        where = f" on CPU {facts['cpu']}" if facts["cpu"] is not None else ""
        raise TraceFormatError(
            f"{path}: only {len(switches)} switch(es){where}; a trace needs at least 2 "
            f"({damage.summary()})"
        )
    runs = build_run_table(switches, with_prio=fmt == "perf-script")
    return ParsedTrace(
        path=path,
        format=fmt,
        cpu=facts["cpu"],
        cpus=facts["cpus"],
        switches=len(switches),
        time_resolution_ns=facts["time_resolution_ns"],
        runs=runs,
        damage=damage,
    )


def compare_formats(script: pd.DataFrame, sched_map: pd.DataFrame) -> str | None:
    """None when a perf-script run table and a map run table of one recording agree, else why.

    They agree when they have the same rows, the same pid in every row and the same switch-in
    times at the map's resolution (the map prints µs, truncated). Task names are not compared:
    the map's comm comes from perf's thread table (`kworker/1:1-ev`, or none: `:70`), the
    script's from the tracepoint (`kworker/1:1`).
    """
    if len(script) != len(sched_map):
        return f"{len(script)} runs from perf script, {len(sched_map)} from the map"
    pids = script["pid"].to_numpy() != sched_map["pid"].to_numpy()
    times = (script["t_ns"].to_numpy() // 1000) != (sched_map["t_ns"].to_numpy() // 1000)
    bad = pids | times
    if bad.any():
        row = int(bad.argmax())
        return (
            f"{int(bad.sum())} rows differ; first at row {row}: "
            f"script {script['task'].iat[row]} at {script['t_ns'].iat[row]} ns, "
            f"map {sched_map['task'].iat[row]} at {sched_map['t_ns'].iat[row]} ns"
        )
    return None


__all__ = [
    "COLUMNS",
    "DAMAGE_KINDS",
    "FORMATS",
    "IDLE",
    "NOTE_KINDS",
    "Damage",
    "ParsedTrace",
    "TraceFormatError",
    "compare_formats",
    "detect_format",
    "parse_trace",
]
