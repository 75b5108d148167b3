"""Build the run table (README §3) from the switches of one CPU.

Switch `j` puts a task on the CPU at time `t[j]`; that task's run lasts until switch `j+1`, whose
`prev_state` says how it ended. So the table has one row per switch except the last (whose run
has no end). Task naming, the same for every format:

- idle (pid 0, `swapper/N` or the map's `.`) is the task `<idle>` with comm `<idle>`;
- any other thread is `comm:pid` (`nginx:4909`); a thread perf knew no comm for (the map's
  `:pid:pid`) has comm "" and is the task `:pid`;
- a map short name that no `=>` line named is the task `<unknown>` (pid -1), a map row hidden by
  `--task-name` (`*-`) is `<filtered>` (pid -1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

IDLE = "<idle>"
UNKNOWN = "<unknown>"
FILTERED = "<filtered>"
SPECIAL_PIDS = {UNKNOWN: -1, FILTERED: -1}
COLUMNS = ("t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state")


@dataclass
class Switches:
    """The accepted switches of one CPU, in time order (parallel lists)."""

    t_ns: list[int] = field(default_factory=list)
    comm: list[str] = field(default_factory=list)
    pid: list[int] = field(default_factory=list)
    prio: list[int | None] = field(default_factory=list)
    prev_state: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t_ns)

    def append(
        self, t_ns: int, comm: str, pid: int, prio: int | None, prev_state: str | None
    ) -> None:
        """Add one switch: `comm`/`pid` is the task switched in, `prev_state` how the last ended."""
        self.t_ns.append(t_ns)
        self.comm.append(comm)
        self.pid.append(pid)
        self.prio.append(prio)
        self.prev_state.append(prev_state)


def task_name(comm: str, pid: int) -> tuple[str, str]:
    """(task, comm) of a switched-in thread, by the naming rule of this module."""
    if pid == 0:
        return IDLE, IDLE
    if comm in SPECIAL_PIDS and pid < 0:
        return comm, comm
    return f"{comm}:{pid}", comm


def build_run_table(switches: Switches, *, with_prio: bool) -> pd.DataFrame:
    """The run table of these switches (the last switch only ends the last run)."""
    n = max(len(switches) - 1, 0)
    t = np.asarray(switches.t_ns, dtype=np.int64)
    names = [task_name(c, p) for c, p in zip(switches.comm[:n], switches.pid[:n], strict=True)]
    frame = pd.DataFrame(
        {
            "t_ns": t[:n],
            "task": pd.Series([a for a, _ in names], dtype="str"),
            "comm": pd.Series([b for _, b in names], dtype="str"),
            "pid": np.asarray(switches.pid[:n], dtype=np.int32),
            "prio": (
                np.asarray(switches.prio[:n], dtype=np.int16)
                if with_prio
                else pd.array([None] * n, dtype="Int16")
            ),
            "delta_us": np.diff(t).astype(np.float64) / 1000.0 if n else np.zeros(0),
            "end_state": pd.Series(switches.prev_state[1 : n + 1], dtype="str"),
        }
    )
    return frame[list(COLUMNS)]
