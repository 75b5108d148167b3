"""Dataset access: a verified trace as encoded arrays (`Runs`) with its fixed split.

Models never see strings or DataFrames: `Runs` holds one numpy array per column, with tasks and
comms encoded in the vocabularies fixed in `data/splits.json`. Slicing keeps track of where the
slice starts in the full trace, so a model (and the harness) always knows which rows are past.

Every array of a `Runs` is a read-only copy that owns exactly its rows (README §4): a slice never
reaches the rest of the trace through `.base`, and the memory is an immutable `bytes`, so
`flags.writeable = True` is refused too. A model cannot read the future of a slice it is handed,
nor write into the arrays the harness scores against.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.paths import data_dir
from benchmark.data.manifest import DataIntegrityError, load_manifest, read_run_table, verify_file
from benchmark.data.splits import OTHER, TraceSplit, compute_split, read_splits

# prev_state values of sched_switch, encoded; "<none>" where the format has none (sched map).
END_STATES: tuple[str, ...] = ("<none>", "R", "R+", "S", "D", "T", "t", "X", "Z", "P", "I", OTHER)
COLUMNS = ("t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state")


@dataclass(frozen=True, eq=False)
class Runs:
    """Rows `[start, start + len)` of one trace, encoded.

    `task` holds vocabulary ids (0 = `<other>`), `comm` comm-vocabulary ids, `end_state` ids into
    `END_STATES`, `prio` the kernel priority or -1 where unknown.
    """

    name: str
    t_ns: np.ndarray
    task: np.ndarray
    comm: np.ndarray
    pid: np.ndarray
    prio: np.ndarray
    delta_us: np.ndarray
    end_state: np.ndarray
    split: TraceSplit
    start: int = 0

    def __post_init__(self) -> None:
        for col in COLUMNS:
            object.__setattr__(self, col, frozen(getattr(self, col)))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Unpickled arrays would be writable: rebuild through __init__, which freezes them.
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))

    # -- vocabularies (fixed per trace by the split) --------------------------------------
    @property
    def vocabulary(self) -> tuple[str, ...]:
        return self.split.vocabulary

    @property
    def comm_vocabulary(self) -> tuple[str, ...]:
        return self.split.comm_vocabulary

    @property
    def n_tasks(self) -> int:
        return len(self.split.vocabulary)

    @property
    def n_comms(self) -> int:
        return len(self.split.comm_vocabulary)

    @property
    def sigma_us(self) -> float:
        return self.split.sigma_us

    @property
    def task_comm(self) -> np.ndarray:
        """Comm id of each vocabulary task (`<other>` maps to comm `<other>`)."""
        return task_comm_ids(self.split)

    # -- slicing ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.task)

    def rows(self, start: int, stop: int) -> Runs:
        """Rows `[start, stop)` given in full-trace indices (they must lie inside this slice)."""
        lo, hi = start - self.start, stop - self.start
        if not 0 <= lo <= hi <= len(self):
            raise IndexError(
                f"rows [{start}, {stop}) lie outside this slice "
                f"[{self.start}, {self.start + len(self)}) of trace {self.name!r}"
            )
        return replace(
            self,
            start=start,
            **{col: getattr(self, col)[lo:hi] for col in COLUMNS},
        )

    def train(self) -> Runs:
        return self.rows(*self.split.train)

    def valid(self) -> Runs:
        return self.rows(*self.split.valid)

    def through_valid(self) -> Runs:
        """Train and valid rows together: the history of the first test position."""
        return self.rows(self.split.train[0], self.split.valid[1])

    def test_positions(self) -> np.ndarray:
        """Full-trace row indices of the scored test positions."""
        return np.arange(*self.split.test, dtype=np.int64)

    def concat(self, later: Runs) -> Runs:
        """This slice followed by the slice that starts where it ends (e.g. train + valid)."""
        if later.start != self.start + len(self) or later.split is not self.split:
            raise ValueError(
                f"cannot join rows [{self.start}, {self.start + len(self)}) with rows starting "
                f"at {later.start}: slices of one trace must be adjacent"
            )
        return replace(
            self,
            **{col: np.concatenate([getattr(self, col), getattr(later, col)]) for col in COLUMNS},
        )


def frozen(values: Any) -> np.ndarray:
    """A read-only one-dimensional array that owns exactly its elements (README §4).

    An array this function returned is returned as is; anything else (a view, a writable
    array) is copied once into an immutable `bytes`, so the result has no `.base` reaching a
    larger array and cannot be made writable again."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"Runs columns are one-dimensional, got shape {values.shape}")
    base = values.base
    if isinstance(base, bytes) and len(base) == values.nbytes and not values.flags.writeable:
        return values
    return np.frombuffer(np.ascontiguousarray(values).tobytes(), dtype=values.dtype)


def task_comm_ids(split: TraceSplit) -> np.ndarray:
    """Comm id of each vocabulary task: the task name with its `:pid` split off the right."""
    comm_index = {c: i for i, c in enumerate(split.comm_vocabulary)}
    out = np.zeros(len(split.vocabulary), dtype=np.int32)
    for i, task in enumerate(split.vocabulary):
        comm = task if task in (OTHER, "<idle>") else task.rsplit(":", 1)[0]
        out[i] = comm_index.get(comm, 0)
    return out


def _encode(values: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Ids of `values` in `vocabulary`; anything not in it becomes 0 (`<other>`)."""
    codes = pd.Index(list(vocabulary)).get_indexer(values.astype(str))
    return np.where(codes < 0, 0, codes).astype(np.int32)


def runs_from_frame(frame: pd.DataFrame, name: str, split: TraceSplit | None = None) -> Runs:
    """Encode a run table (README §3 columns). Without `split`, it is computed by the fixed rule."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"run table of {name!r} lacks columns {missing}; expected {COLUMNS}")
    frame = frame.reset_index(drop=True)
    split = split or compute_split(frame)
    if split.runs != len(frame):
        raise ValueError(
            f"trace {name!r} has {len(frame)} runs but its split records {split.runs}; "
            "re-run `kernel-oracle prepare`"
        )
    end_state = frame["end_state"].astype("string").fillna("<none>")
    return Runs(
        name=name,
        t_ns=frame["t_ns"].to_numpy(np.int64),
        task=_encode(frame["task"], split.vocabulary),
        comm=_encode(frame["comm"], split.comm_vocabulary),
        pid=frame["pid"].to_numpy(np.int32),
        prio=frame["prio"].astype("Float64").fillna(-1).to_numpy(np.int16),
        delta_us=frame["delta_us"].to_numpy(np.float64),
        end_state=_encode(end_state, END_STATES).astype(np.int8),
        split=split,
    )


def load_splits(root: Path | None = None) -> dict[str, TraceSplit]:
    """The fixed splits of every shipped trace, verified against the sha256 that
    `data/manifest.json` records for `splits.json` (an edited split is refused, README §3)."""
    root = root or data_dir()
    manifest = load_manifest(root)
    if "splits.json" not in manifest.get("files", {}):
        raise DataIntegrityError(
            f"{root / 'splits.json'}: its sha256 is not recorded in {root / 'manifest.json'}, so "
            "the split cannot be verified; re-run `kernel-oracle prepare` (a data folder built "
            "by hand must list splits.json in the manifest's files)"
        )
    return read_splits(verify_file("splits.json", root, manifest))


def load_trace(name: str, root: Path | None = None) -> Runs:
    """The verified trace `name` (sha256 checked against the manifest), encoded."""
    frame = read_run_table(name, root)
    splits = load_splits(root)
    if name not in splits:
        raise KeyError(
            f"trace {name!r} has no split in splits.json; re-run `kernel-oracle prepare`"
        )
    return runs_from_frame(frame, name, splits[name])
