"""Process supervision for a capture: every process started is stopped by its PID (README §3).

A `ProcessGroup` starts each command in its own session, remembers it by PID and start time (a
reused PID is never mistaken for ours), adopts children such as nginx's workers, and on leaving
its `with` block sends SIGTERM, then SIGKILL to what is left, also on an error or Ctrl-C.
Nothing is ever stopped by name.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


@dataclass(frozen=True)
class ProcessRef:
    """A process this capture started (or nginx started for it), named by PID and start time."""

    pid: int
    start_time: int | None
    label: str

    def running(self) -> bool:
        """True while the same process (not a reused PID, not a zombie) still exists."""
        if self.start_time is None or proc_start_time(self.pid) != self.start_time:
            return False
        return _proc_state(self.pid) not in (None, "Z", "X")


def children(pid: int) -> list[int]:
    """PIDs of the direct children of `pid` (from /proc/PID/task/*/children)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(out))


class ProcessGroup:
    """Starts processes and stops every one of them by PID when the `with` block ends."""

    def __init__(self, log: Callable[[str], None] = lambda _: None) -> None:
        self.log = log
        self.popens: list[tuple[subprocess.Popen, ProcessRef]] = []
        self.extra: list[ProcessRef] = []  # grandchildren, e.g. nginx workers
        self.commands: list[str] = []

    def start(self, label: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Start `argv` in its own session (Ctrl-C reaches only us) and remember it."""
        self.commands.append(shlex.join(argv))
        proc = subprocess.Popen(list(argv), start_new_session=True, **kwargs)
        self.popens.append((proc, ProcessRef(proc.pid, proc_start_time(proc.pid), label)))
        return proc

    def adopt_children(self, proc: subprocess.Popen, label: str) -> list[ProcessRef]:
        """Remember the current children of `proc` (nginx's workers) so they are stopped too."""
        refs = [ProcessRef(p, proc_start_time(p), label) for p in children(proc.pid)]
        self.extra += refs
        return refs

    @property
    def refs(self) -> list[ProcessRef]:
        """Every process started, children included."""
        return [ref for _, ref in self.popens] + self.extra

    def stop_all(self, grace: float = 3.0) -> None:
        """SIGTERM each started process (newest first), wait, then SIGKILL what is left.

        Children of the started processes (nginx's workers, also ones respawned since) are
        remembered first, so that they are checked and stopped by PID too."""
        known = {ref.pid for ref in self.extra}
        for proc, ref in self.popens:
            if proc.poll() is None:
                for pid in set(children(proc.pid)) - known:
                    label = f"{ref.label} child"
                    self.extra.append(ProcessRef(pid, proc_start_time(pid), label))
        for proc, ref in reversed(self.popens):
            if proc.poll() is None and ref.running():
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc, ref in reversed(self.popens):
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{ref.label} (pid {ref.pid}) ignored SIGTERM; sending SIGKILL")
                proc.kill()
                proc.wait(timeout=5)
        for ref in self.extra:
            end = time.monotonic() + grace
            while ref.running() and time.monotonic() < end:
                time.sleep(0.05)
            if ref.running():
                self.log(f"{ref.label} (pid {ref.pid}) still running; sending SIGKILL")
                os.kill(ref.pid, signal.SIGKILL)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so `finally` blocks stop the processes."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def set_process_affinity(cpus: set[int]) -> None:
    """Pin every thread of this process to `cpus` (sched_setaffinity(0) moves one thread)."""
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except (ProcessLookupError, ValueError):
            continue  # a thread that just ended


def other_cpus(cpu: int) -> str | None:
    """The CPUs other than `cpu` this process may use (where perf itself runs), or None."""
    others = sorted(os.sched_getaffinity(0) - {cpu})
    return ",".join(map(str, others)) if others else None
