"""Parse `perf script` text of sched_switch events (key=value form, with or without `--ns`).

A switch line looks like (the leading fields depend on `-F`; comm may hold spaces):

    nginx  4909 [001]   422.346112095: sched:sched_switch: prev_comm=ab prev_pid=4910
        prev_prio=120 prev_state=S ==> next_comm=nginx next_pid=4909 next_prio=120

(one line). Comms may contain spaces (`prev_comm=Web Content prev_pid=...`), so each field is
anchored on the key that follows it. sched_wakeup and other event lines are read past.
Every number in the patterns has a bounded width, so a line of digits costs linear time, not
quadratic (a 40,000-digit line once took seconds per line).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from benchmark.data.traces.damage import Damage
from benchmark.data.traces.order import out_of_order
from benchmark.data.traces.reading import TraceFormatError, iter_lines
from benchmark.data.traces.runtable import Switches

# The lead (comm, tid, [cpu]) is free text; the time ends it: "<sec>.<frac>: <event>: ".
# Widths are bounded (a comm is at most 15 bytes, 60 characters when escaped).
LEAD = r"^(?P<lead>.{0,512}?)"
TIME = r"(?<!\d)(?P<sec>\d{1,9})\.(?P<frac>\d{1,9}):"  # seconds < 1e9: ns fit int64
EVENT = re.compile(LEAD + TIME + r"\s+(?P<event>[\w:.-]{1,200}?):(?:\s|$)")
SWITCH_FIELDS = re.compile(
    r"prev_comm=(?P<pc>.{0,64}?) prev_pid=(?P<pp>-?\d{1,10}) prev_prio=(?P<ppr>-?\d{1,10}) "
    r"prev_state=(?P<ps>\S{1,64}) ==> next_comm=(?P<nc>.{0,64}?) next_pid=(?P<np>-?\d{1,10}) "
    r"next_prio=(?P<npr>-?\d{1,10})\s*$"
)
CPU_FIELD = re.compile(r"\[(\d{1,10})\]")
LOST = re.compile(r"\bLOST\b\D{0,64}(\d{1,20})")
# A whole switch line in one match (the fast path: most lines of a trace are switches).
SWITCH = re.compile(LEAD + TIME + r"\s+(?:[\w.-]{1,200}:)?sched_switch:\s+" + SWITCH_FIELDS.pattern)


def looks_like(line: str) -> bool:
    """True when `line` is a perf script event line (used to detect the format)."""
    match = EVENT.match(line)
    return bool(match) and ("sched_" in match.group("event") or "=" in line)


def read_events(path: Path, damage: Damage) -> tuple[dict[int | None, list[tuple]], int]:
    """Every sched_switch of the file, per CPU (None when lines carry no CPU), and the finest
    time resolution seen in ns (1 with `--ns`, 1000 without)."""
    per_cpu: dict[int | None, list[tuple]] = defaultdict(list)
    resolution = 1000
    other_events = 0
    switch_match = SWITCH.match
    for lineno, line, had_newline in iter_lines(path, damage):
        if "sched_switch" in line:
            m = switch_match(line)
            if m is not None:
                lead, sec, frac, _pc, pp, _ppr, ps, nc, np_, npr = m.groups()
                if len(frac) > 6:
                    resolution = 1
                bracket = lead.rfind("[")
                cpu = None
                if bracket >= 0:
                    cpus = CPU_FIELD.findall(lead)
                    cpu = int(cpus[-1]) if cpus else None
                t_ns = int(sec) * 1_000_000_000 + int(frac.ljust(9, "0"))
                per_cpu[cpu].append((t_ns, int(pp), ps, nc, int(np_), int(npr), lineno))
                continue
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            damage.add("comments", lineno)
            continue
        match = EVENT.match(line)
        if match is None:
            lost = LOST.search(line)
            if lost:
                damage.add("lost", lineno, int(lost.group(1)))
            else:
                damage.add("unknown" if had_newline else "truncated", lineno)
        elif match.group("event").endswith("sched_switch"):
            damage.add("truncated", lineno)  # a switch line whose fields are cut or garbled
        else:
            other_events += 1
    if other_events:
        damage.add("other_events", None, other_events)
    return per_cpu, resolution


def choose_cpu(
    per_cpu: dict, cpu: int | None, path: Path, what: str = "sched_switch"
) -> int | None:
    """The CPU whose switches to use: the asked one, or the only one in the file."""
    present = sorted(k for k in per_cpu if k is not None)
    if not per_cpu:
        raise TraceFormatError(f"{path}: no {what} events in the file")
    if set(per_cpu) == {None}:
        return None  # lines carry no CPU field: the file is one CPU's
    if cpu is None:
        if len(present) > 1:
            raise TraceFormatError(
                f"{path}: switches on CPUs {', '.join(map(str, present))}; choose one with --cpu"
            )
        return present[0]
    if cpu not in per_cpu:
        raise TraceFormatError(
            f"{path}: no switches on CPU {cpu}; the file has CPUs {', '.join(map(str, present))}"
        )
    return cpu


def switches_of(events: list[tuple], damage: Damage) -> Switches:
    """Walk one CPU's switches in order: drop duplicates and switches out of time order (see
    `order.py`), flag lost events."""
    unique: list[tuple] = []
    last_event: tuple = ()
    for event in events:
        if event[:-1] == last_event:
            damage.add("duplicate", event[-1])
            continue
        last_event = event[:-1]
        unique.append(event)
    dropped = out_of_order([event[0] for event in unique])
    out = Switches()
    running: int | None = None
    for i, event in enumerate(unique):
        t_ns, prev_pid, prev_state, next_comm, next_pid, next_prio, lineno = event
        if i in dropped:
            damage.add(dropped[i], lineno)
            continue
        if running is not None and prev_pid != running:
            damage.add("lost", lineno)
            comm = out.comm[-1]
            damage.lost_after[comm] = damage.lost_after.get(comm, 0) + 1
        out.append(t_ns, next_comm, next_pid, next_prio, prev_state)
        running = next_pid
    return out


def parse_perf_script(path: Path, cpu: int | None, damage: Damage) -> tuple[Switches, dict]:
    """The switches of one CPU of a perf script file, and facts (cpu, cpus, resolution)."""
    per_cpu, resolution = read_events(path, damage)
    chosen = choose_cpu(per_cpu, cpu, path)
    for other, events in per_cpu.items():
        if other != chosen:
            damage.add("other_cpu", events[0][-1], len(events))
    switches = switches_of(per_cpu[chosen], damage)
    facts = {
        "cpu": chosen,
        "cpus": sorted(k for k in per_cpu if k is not None),
        "time_resolution_ns": resolution,
    }
    return switches, facts
