"""Damage found while parsing a trace: counted per kind, with the first line numbers of each.

Damage is never silently turned into data: every kind below is counted and reported with line
numbers (1-based, in the decompressed text) so that a user can look at the lines themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Kinds that mean the text does not describe the CPU's switches exactly.
DAMAGE_KINDS: dict[str, str] = {
    "truncated": "a line cut short (an incomplete sched_switch line or map row, or a last line "
    "without its newline that does not parse); skipped",
    "unknown": "a line that is neither a trace event, a map row nor a comment; skipped",
    "lost": "a switch whose prev_pid is not the task that was running (events were lost "
    "before it), or a LOST record; the switch is kept, the run before it is too long",
    "backwards": "a switch earlier than the switches before it on the same CPU; dropped",
    "duplicate": "a switch recorded twice (the same time and fields as the one before; in a "
    "map, the same µs and task); the copy is dropped",
    "unnamed": "a map short name used before any `=>` line named it; kept as task <unknown>",
    "ambiguous": "a map row without `=>` whose short name perf had given to more than one "
    "task (plain maps reuse short names after 260 tasks); attributed to the latest",
    "jump": "a switch later than the switches after it (its time jumped forward); dropped, so "
    "that one bad time costs one row, not the rest of the trace",
    "overlong": "a line longer than 65,536 bytes (no trace line is); skipped unread",
    "non_utf8": "a line with bytes that are not UTF-8 (a comm perf printed raw); kept, the "
    "bytes written as \\xNN escapes (so two such comms stay distinct)",
}
# Kinds that are counted for information only: nothing is wrong with the text.
NOTE_KINDS: dict[str, str] = {
    "other_events": "events other than sched_switch (sched_wakeup, ...); read past",
    "comments": "comment or header lines; read past",
    "other_cpu": "switches on CPUs other than the chosen one; read past",
    "hidden_rows": "map rows without a time (a CPU hidden with `perf sched map --cpus`)",
    "filtered": "map rows `*-`: a task hidden by `perf sched map --task-name`; kept as <filtered>",
    "nameless": "switch-ins of tasks perf knew no comm for (`:pid:pid` in the map)",
}
MAX_LINES = 20


@dataclass
class Damage:
    """Counts per kind and the first `MAX_LINES` line numbers of each kind."""

    counts: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)
    lost_after: dict[str, int] = field(default_factory=dict)  # comm running before a lost event

    def add(self, kind: str, lineno: int | None, n: int = 1) -> None:
        """Count `n` occurrences of `kind` found at `lineno`."""
        if kind not in DAMAGE_KINDS and kind not in NOTE_KINDS:
            raise KeyError(f"unknown damage kind {kind!r}")
        self.counts[kind] = self.counts.get(kind, 0) + n
        where = self.lines.setdefault(kind, [])
        if lineno is not None and len(where) < MAX_LINES:
            where.append(lineno)

    def count(self, kind: str) -> int:
        """How often `kind` occurred (0 when never)."""
        return self.counts.get(kind, 0)

    @property
    def total(self) -> int:
        """The number of damage occurrences (notes not included)."""
        return sum(n for kind, n in self.counts.items() if kind in DAMAGE_KINDS)

    def summary(self, path: object = "") -> str:
        """One line: `path: 2 lost (lines 10, 57); 1 truncated (line 300)` or `no damage`."""
        parts = []
        for kind in DAMAGE_KINDS:
            n = self.count(kind)
            if n:
                where = self.lines.get(kind, [])
                more = ", ..." if n > len(where) else ""
                label = "line" if len(where) == 1 else "lines"
                parts.append(f"{n} {kind} ({label} {', '.join(map(str, where))}{more})")
        text = "; ".join(parts) if parts else "no damage"
        return f"{path}: {text}" if path else text

    def to_json(self) -> dict[str, Any]:
        """Counts of every kind (0 included) and the recorded line numbers of the damage kinds."""
        return {
            "damage": {kind: self.count(kind) for kind in DAMAGE_KINDS},
            "notes": {kind: self.count(kind) for kind in NOTE_KINDS},
            "lines": {kind: list(self.lines[kind]) for kind in DAMAGE_KINDS if kind in self.lines},
            "lost_after": dict(sorted(self.lost_after.items())),
        }
