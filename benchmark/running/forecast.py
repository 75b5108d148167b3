"""The horizon track's forecast type and the causal bookkeeping of a free run (issue 14).

`Forecast` is what `Predictor.forecast(runs, origins, horizon)` returns: per origin, the next H
tasks (top-1 vocabulary ids) and run lengths, predicted from rows `< origin` only.

The default forecast, `free_run` (the paper's free run through the model's online predictor),
lives in `benchmark/running/protocol.py` beside `BufferedOnline`, the default `online()`: it
builds `RunRow`s, and this module may not import the protocol, which imports it (README §2
and tests/test_architecture.py: no import circle, lazy imports included; models/ may import
only the protocol, which re-exports `Forecast`). This module holds what the free run needs
apart from rows: the origin checks and, per task, the fields of its most recent run before an
origin (`LastRuns`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.data.dataset import Runs


@dataclass(frozen=True, eq=False)  # arrays: compare fields, not forecasts
class Forecast:
    """Multi-step predictions from fixed origins.

    origins:  int64[n] full-trace row indices, strictly increasing; row k of `task` and
              `delta_us` predicts rows origins[k], ..., origins[k] + horizon - 1 from rows
              `< origins[k]` only
    horizon:  H >= 1, the number of steps
    task:     int64[n, H] top-1 vocabulary ids (None: no task head, e.g. arima)
    delta_us: float64[n, H] predicted run lengths in microseconds (None: no delta head)
    """

    origins: np.ndarray
    horizon: int
    task: np.ndarray | None
    delta_us: np.ndarray | None

    def validate(self, n_tasks: int) -> Forecast:
        """`self` if every field has its documented shape, dtype and range, else a ValueError
        naming the bad field (a scorer must not index the truth with a malformed forecast)."""
        o, h = np.asarray(self.origins), self.horizon
        if o.ndim != 1 or not np.issubdtype(o.dtype, np.integer) or np.any(np.diff(o) <= 0):
            raise ValueError("Forecast.origins must be a strictly increasing 1-d integer array")
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
            raise ValueError(f"Forecast.horizon must be an int >= 1, got {h!r}")
        if self.task is None and self.delta_us is None:
            raise ValueError("Forecast has neither task nor delta_us: nothing was forecast")
        if self.task is not None:
            t = np.asarray(self.task)
            if t.shape != (len(o), h) or not np.issubdtype(t.dtype, np.integer):
                raise ValueError(
                    f"Forecast.task must be int[{len(o)}, {h}] or None, got {t.dtype}{t.shape}"
                )
            if t.size and (t.min() < 0 or t.max() >= n_tasks):
                raise ValueError(f"Forecast.task holds ids outside the vocabulary [0, {n_tasks})")
        if self.delta_us is not None:
            d = np.asarray(self.delta_us)
            if d.shape != (len(o), h) or not np.issubdtype(d.dtype, np.floating):
                raise ValueError(
                    f"Forecast.delta_us must be float[{len(o)}, {h}] or None, got "
                    f"{d.dtype}{d.shape}"
                )
            if not np.all(np.isfinite(d)):
                raise ValueError("Forecast.delta_us holds a value that is not finite")
        return self


def check_origins(runs: Runs, origins: Any, horizon: int) -> np.ndarray:
    """Origins as int64: strictly increasing, each with at least one row of history and at
    most the end of `runs` (only rows `< origin` are read); a ValueError otherwise."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be an int >= 1, got {horizon!r}")
    arr = np.asarray(origins)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"origins must be a 1-d integer array, got {arr.dtype}{arr.shape}")
    arr = arr.astype(np.int64)
    if np.any(np.diff(arr) <= 0):
        raise ValueError("origins must be strictly increasing")
    lo, hi = runs.start + 1, runs.start + len(runs)
    if arr.size and (arr[0] < lo or arr[-1] > hi):
        raise ValueError(
            f"origins must lie in [{lo}, {hi}] for these runs, got [{arr[0]}, {arr[-1]}]"
        )
    return arr


class LastRuns:
    """Per task, the fields of its most recent run among the rows of `runs` before `stop`:
    what a free run fills in for the fields a model does not predict (causal by construction,
    `advance` only moves forward)."""

    NAMES = ("comm", "delta_us", "end_state", "prio", "pid")

    def __init__(self, runs: Runs) -> None:
        self.runs, self.stop = runs, runs.start
        self.seen = np.zeros(runs.n_tasks, dtype=bool)
        self.values = {k: np.zeros(runs.n_tasks, getattr(runs, k).dtype) for k in self.NAMES}
        self._fed: dict[int, tuple[Any, ...]] = {}  # task -> row_fields' fields, until advance

    def advance(self, stop: int) -> None:
        """Take in the rows [self.stop, stop)."""
        if stop < self.stop:
            raise ValueError(f"LastRuns moves forward only: {stop} < {self.stop}")
        a, b = self.stop - self.runs.start, stop - self.runs.start
        if b > a:  # the last occurrence of each task among rows [a, b)
            tasks, first = np.unique(self.runs.task[a:b][::-1], return_index=True)
            self.seen[tasks] = True
            for k in self.NAMES:
                self.values[k][tasks] = getattr(self.runs, k)[b - 1 - first]
        self.stop = stop
        self._fed = {}

    def field(self, task: int, name: str) -> Any:
        """`name` of `task`'s most recent run; if it has none: comm from `runs.task_comm`,
        the other fields those of the last row before `stop`."""
        if self.seen[task]:
            return self.values[name][task].item()
        if name == "comm":
            return int(self.runs.task_comm[task])
        return getattr(self.runs, name)[self.stop - 1 - self.runs.start].item()

    def row_fields(self, task: int, delta_us: float, t_ns: int) -> tuple[Any, ...]:
        """A fed-back run of `task`: (task, comm, delta_us, end_state, prio, pid, t_ns)."""
        fields = self._fed.get(task)
        if fields is None:  # a free run feeds back the same few tasks 64 times per origin
            fields = self._fed[task] = tuple(
                self.field(task, k) for k in ("comm", "end_state", "prio", "pid")
            )
        comm, end, prio, pid = fields
        return task, comm, delta_us, end, prio, pid, t_ns
