"""Parse `perf sched map` text (the KernelOracle paper's format).

One row per switch on any CPU: a cell per CPU column (` A0 `, `*B0 ` for the CPU that just
switched, ` .  ` for idle, `-` for a task hidden by `--task-name`), the time in µs, and, when a
short name is (re)assigned, `B0 => comm:tid`:

      *B0     422.345770 secs B0 => ab:4910
      *.      422.345800 secs .  => swapper:0
   .  *C0     211.717999 secs C0 => :68:68

Columns are four characters wide, so the `*` at position p marks column p // 4 (perf's default
layout: column k is CPU k; with `--cpus`/`--compact` the columns are the shown CPUs in order).
Short names are reused after Z9 and re-mapped at every `=>`; comms may hold spaces or colons
(`memfd:sealed-91:2316`, `kworker/0:1H-ev:44`), so the tid is split off the right.
A thread perf knew no comm for prints as `:tid:tid` and becomes comm "" (task `:tid`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from benchmark.data.traces.damage import Damage
from benchmark.data.traces.order import out_of_order
from benchmark.data.traces.perf_script import choose_cpu
from benchmark.data.traces.reading import iter_lines
from benchmark.data.traces.runtable import FILTERED, UNKNOWN, Switches

# Bounded widths and a greedy name (stripped afterwards) keep every match linear in the line.
ROW = re.compile(
    r"^(?P<cells>.*?)\s(?P<sec>\d{1,9})\.(?P<usec>\d{6}) secs\b"
    r"(?:\s+(?P<short>\S{1,8})\s+=> (?P<name>.*)|\s*)$"
)
CELLS_ONLY = re.compile(r"^[\sA-Za-z0-9.*-]*$")
NAMELESS = re.compile(r":\d+")


def looks_like(line: str) -> bool:
    """True when `line` is a perf sched map row (used to detect the format)."""
    match = ROW.match(line)
    return bool(match) and "*" in match.group("cells")


def split_name(name: str) -> tuple[str, int] | None:
    """`comm:tid` -> (comm, tid), the tid split off the right; None when there is no tid."""
    comm, sep, tid = name.rpartition(":")
    if not sep or not tid.isdigit():
        return None
    if NAMELESS.fullmatch(comm):
        comm = ""  # perf's placeholder `:tid` for a thread whose comm it never saw
    return comm, int(tid)


def read_rows(path: Path, damage: Damage) -> dict[int, list[tuple]]:
    """Every row of the map per column: (t_ns, comm, pid, lineno), short names resolved."""
    names: dict[str, tuple[str, int]] = {}
    owners: dict[str, set[int]] = defaultdict(set)  # every tid a short name was given to
    per_cpu: dict[int, list[tuple]] = defaultdict(list)
    for lineno, line, had_newline in iter_lines(path, damage):
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            damage.add("comments", lineno)
            continue
        match = ROW.match(line)
        if match is None:
            if "*" not in line and CELLS_ONLY.match(line) and had_newline:
                damage.add("hidden_rows", lineno)
            else:
                damage.add("unknown" if had_newline else "truncated", lineno)
            continue
        cells = match.group("cells")
        star = cells.find("*")
        if star < 0:
            damage.add("hidden_rows", lineno)
            continue
        short = cells[star + 1 : star + 3].strip()
        if match.group("name") is not None:
            parsed = split_name(match.group("name").rstrip())
            if parsed is None or match.group("short") != short:
                damage.add("truncated" if not had_newline else "unknown", lineno)
                continue
            names[short] = parsed
            owners[short].add(parsed[1])
        elif len(owners.get(short, ())) > 1:
            damage.add("ambiguous", lineno)
        t_ns = int(match.group("sec")) * 1_000_000_000 + int(match.group("usec")) * 1000
        if short == ".":
            comm, pid = "swapper", 0
        elif short == "-":
            comm, pid = FILTERED, -1
            damage.add("filtered", lineno)
        elif short in names:
            comm, pid = names[short]
        else:
            comm, pid = UNKNOWN, -1
            damage.add("unnamed", lineno)
        if comm == "" and pid > 0:
            damage.add("nameless", lineno)
        per_cpu[star // 4].append((t_ns, comm, pid, lineno))
    return per_cpu


def parse_sched_map(path: Path, cpu: int | None, damage: Damage) -> tuple[Switches, dict]:
    """The switches of one map column, and facts (cpu, cpus, resolution)."""
    per_cpu = read_rows(path, damage)
    chosen = choose_cpu(per_cpu, cpu, path, what="map")
    for other, rows in per_cpu.items():
        if other != chosen:
            damage.add("other_cpu", rows[0][-1], len(rows))
    unique: list[tuple] = []
    last_row: tuple = ()
    for row in per_cpu[chosen]:
        t_ns, _comm, pid, lineno = row
        if pid >= 0 and (t_ns, pid) == last_row:
            damage.add("duplicate", lineno)
            continue
        last_row = (t_ns, pid)
        unique.append(row)
    dropped = out_of_order([row[0] for row in unique])
    out = Switches()
    for i, (t_ns, comm, pid, lineno) in enumerate(unique):
        if i in dropped:
            damage.add(dropped[i], lineno)
            continue
        out.append(t_ns, comm, pid, None, None)
    facts = {"cpu": chosen, "cpus": sorted(per_cpu), "time_resolution_ns": 1000}
    return out, facts
