"""A CPU bandwidth limit on nginx for a capture (`nginx_cpu_limit` in a scenario, README §3).

The scenario's nginx master and workers are moved into a cgroup of their own whose CPU
bandwidth is `limit` of one CPU per `PERIOD_US` (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us`
and `cpu.cfs_period_us`): once nginx has used its quota in a period it is throttled until the
next one, and ab waits. The group is named after this process, created when the capture starts
and removed when it ends (after every process in it has been stopped), also on an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from benchmark.data.capture.errors import CaptureError

PERIOD_US = 10_000  # 10 ms: several throttled periods per second of recording
CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_folder(root: Path = CGROUP_ROOT) -> tuple[Path, str] | None:
    """(the folder new CPU cgroups go in, "v2" or "v1"), or None when neither is available."""
    if (root / "cgroup.controllers").is_file():
        return root, "v2"
    if (root / "cpu" / "cpu.cfs_quota_us").is_file():
        return root / "cpu", "v1"
    return None


class CpuLimit:
    """A cgroup limiting its processes to `limit` of one CPU; a context manager."""

    def __init__(self, limit: float, root: Path = CGROUP_ROOT) -> None:
        found = cgroup_folder(root)
        if found is None:
            raise CaptureError(
                f"nginx_cpu_limit needs the cgroup CPU controller under {root} (v2 cpu.max or "
                "v1 cpu.cfs_quota_us); none is mounted here"
            )
        self.parent, self.version = found
        self.limit = limit
        self.path = self.parent / f"kernel-oracle-capture-{os.getpid()}"

    def __enter__(self) -> CpuLimit:
        quota = max(1000, round(self.limit * PERIOD_US))
        try:
            self.path.mkdir()
            if self.version == "v2":
                (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}\n")
            else:
                (self.path / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
                (self.path / "cpu.cfs_quota_us").write_text(f"{quota}\n")
        except OSError as exc:
            self._remove()
            raise CaptureError(f"cannot set up the CPU limit in {self.path}: {exc}") from exc
        return self

    def add(self, pid: int) -> None:
        """Move process `pid` into the limited group."""
        try:
            (self.path / "cgroup.procs").write_text(f"{pid}\n")
        except OSError as exc:
            raise CaptureError(f"cannot move process {pid} into {self.path}: {exc}") from exc

    def settings(self) -> dict[str, object]:
        """What `capture.json` records about the limit."""
        return {
            "cgroup": self.version,
            "path": str(self.path),
            "limit": self.limit,
            "period_us": PERIOD_US,
            "quota_us": max(1000, round(self.limit * PERIOD_US)),
        }

    def _remove(self) -> None:
        if not self.path.exists():
            return
        procs = self.path / "cgroup.procs"
        try:  # whatever is left (nothing, normally) goes back to the parent group first
            for pid in procs.read_text().split() if procs.exists() else []:
                (self.parent / "cgroup.procs").write_text(f"{pid}\n")
            self.path.rmdir()
        except OSError:
            pass  # a group that cannot be removed is left behind, never a failed capture

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._remove()
