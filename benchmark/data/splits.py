"""The fixed chronological split and the label vocabulary: one rule, used by `prepare` (README §3).

Per trace of `n` runs: train = rows [0, floor(7n/10)), valid = [floor(7n/10), floor(8n/10)),
test = the rest; never shuffled. The cuts are computed in integers: in floats
`int(n * (0.7 + 0.1))` lands one row short whenever 0.8 n is whole (`0.7 + 0.1 < 0.8`), which
was split version 1's bug.
The label vocabulary is every task seen at least twice in train+valid, plus `<other>` (id 0);
`sigma_us` is the standard deviation of `delta_us` over train+valid, the scale of `mse_z`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

SPLIT_VERSION = 2
TENTHS = {"train": 7, "valid": 1, "test": 2}  # the rule, in exact integers
FRACTIONS = {part: tenths / 10 for part, tenths in TENTHS.items()}  # as written in splits.json
OTHER = "<other>"
MIN_COUNT = 2


@dataclass(frozen=True)
class TraceSplit:
    """Boundaries (half-open row ranges), vocabularies and delta scale of one trace."""

    runs: int
    train: tuple[int, int]
    valid: tuple[int, int]
    test: tuple[int, int]
    vocabulary: tuple[str, ...]
    comm_vocabulary: tuple[str, ...]
    sigma_us: float
    boundary_t_ns: tuple[int, int]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("train", "valid", "test", "vocabulary", "comm_vocabulary", "boundary_t_ns"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TraceSplit:
        return cls(
            runs=int(obj["runs"]),
            train=tuple(obj["train"]),
            valid=tuple(obj["valid"]),
            test=tuple(obj["test"]),
            vocabulary=tuple(obj["vocabulary"]),
            comm_vocabulary=tuple(obj["comm_vocabulary"]),
            sigma_us=float(obj["sigma_us"]),
            boundary_t_ns=tuple(obj["boundary_t_ns"]),
        )


def _frequent(values: pd.Series, min_count: int) -> list[str]:
    """Values seen at least `min_count` times, most frequent first, ties by name."""
    counts = values.value_counts()
    counts = counts[counts >= min_count]
    frame = pd.DataFrame({"value": counts.index.astype(str), "count": counts.to_numpy()})
    frame = frame.sort_values(["count", "value"], ascending=[False, True])  # values are unique
    return [v for v in frame["value"] if v != OTHER]


def compute_split(runs: pd.DataFrame) -> TraceSplit:
    """The split of one run table (rows in time order), by the fixed 70/10/20 rule."""
    n = len(runs)
    if n < 10:
        raise ValueError(f"a trace needs at least 10 runs to be split, got {n}")
    train_end = n * TENTHS["train"] // 10
    valid_end = n * (TENTHS["train"] + TENTHS["valid"]) // 10
    seen = runs.iloc[:valid_end]
    t_ns = runs["t_ns"].to_numpy()
    return TraceSplit(
        runs=n,
        train=(0, train_end),
        valid=(train_end, valid_end),
        test=(valid_end, n),
        vocabulary=(OTHER, *_frequent(seen["task"], MIN_COUNT)),
        comm_vocabulary=(OTHER, *_frequent(seen["comm"], MIN_COUNT)),
        sigma_us=float(seen["delta_us"].std(ddof=0)),
        boundary_t_ns=(int(t_ns[train_end]), int(t_ns[valid_end])),
    )


def write_splits(path: Path, splits: dict[str, TraceSplit]) -> None:
    """Write `splits.json` (atomically) with the version and fractions."""
    from benchmark.core.atomic import write_json

    write_json(
        path,
        {
            "version": SPLIT_VERSION,
            "fractions": FRACTIONS,
            "min_count": MIN_COUNT,
            "traces": {name: split.to_json() for name, split in sorted(splits.items())},
        },
    )


def read_splits(path: Path) -> dict[str, TraceSplit]:
    """Read `splits.json`; a missing file or another version is a clear error."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no split file; run `kernel-oracle prepare` first")
    obj = json.loads(path.read_text())
    if obj.get("version") != SPLIT_VERSION:
        raise ValueError(
            f"{path}: split version {obj.get('version')!r}, this code reads {SPLIT_VERSION}; "
            "regenerate it with `kernel-oracle prepare`"
        )
    return {name: TraceSplit.from_json(s) for name, s in obj["traces"].items()}
