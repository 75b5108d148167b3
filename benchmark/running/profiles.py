"""Evaluation profiles (README §6): full, quick and holdout, each decided here and only here.

A `Profile` fixes the data a run reads, the folder its results go to, the time limit per run,
how many seeds a stochastic model gets, and whether learned models use their `fast_params`:

* full: the shipped data (`data/`), results in `leaderboard/`, 1800 s per run, 3 seeds, and
  a default-parameters row (`<model>.default`, seed 0) beside every tuned learned model;
* quick (CI): excerpts of the first trace (its first 12,000 runs, split by the fixed rule) in
  `build/leaderboard-quick/data/`, results beside them, 150 s per run, 1 seed, `fast_params`
  for learned models, a short online-latency measurement;
* holdout: a private data folder `DIR` (the layout of `data/`), results in `DIR/leaderboard/`,
  outside the repository, so private numbers never land in the public board.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.core.paths import REPO_ROOT, leaderboard_dir
from benchmark.results.store import holdout_out
from benchmark.running.harness import DEFAULT_TIMEOUT_S, HORIZON_ORIGINS, ONLINE_STEPS

FULL, QUICK, HOLDOUT = "full", "quick", "holdout"
STOCHASTIC_SEEDS = 3
QUICK_TRACES = 1
QUICK_RUNS = 12_000
QUICK_ONLINE_STEPS = 200
QUICK_HORIZON_ORIGINS = 200
QUICK_TIMEOUT_S = 150.0
QUICK_OUT = REPO_ROOT / "build" / "leaderboard-quick"


@dataclass(frozen=True)
class Profile:
    """Where a set of runs reads and writes, and how each is run."""

    name: str  # FULL, QUICK or HOLDOUT
    source_root: Path | None  # the data the traces come from (None: data/)
    out: Path  # the folder holding results/ (and the board built from it)
    timeout_s: float  # per run
    seeds: int  # seeds of a stochastic model; every other model gets one
    fast_params: bool  # learned models use their fast_params (reference models keep theirs)
    online_steps: int = ONLINE_STEPS
    max_test_positions: int | None = None
    excerpt_traces: int | None = None  # quick: the first k traces ...
    excerpt_runs: int | None = None  # ... cut to their first n runs
    default_rows: bool = False  # tuned learned models also run on their defaults (seed 0)
    horizon_origins: int = HORIZON_ORIGINS  # forecast origins of the horizon track per run

    @property
    def data_root(self) -> Path | None:
        """The data the runs read: the excerpts for quick, else the source."""
        return self.out / "data" if self.excerpt_runs else self.source_root


def check_timeout(timeout_s: float | None) -> float | None:
    """A time limit per run must be a positive, finite number of seconds."""
    if timeout_s is not None and not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"--timeout {timeout_s:g}: give a positive number of seconds per run")
    return timeout_s


def make_profile(
    *,
    quick: bool = False,
    holdout: Path | None = None,
    out: Path | None = None,
    timeout_s: float | None = None,
    seeds: int | None = None,
    max_test_positions: int | None = None,
) -> Profile:
    """The profile the options name: holdout if a holdout folder is given, quick, else full;
    `out`, `timeout_s` and `seeds` override the profile's own values."""
    check_timeout(timeout_s)
    if seeds is not None and seeds < 1:
        raise ValueError(f"--seeds {seeds}: give at least 1")
    if holdout is not None and quick:
        raise ValueError("--quick and --holdout exclude each other: quick runs on shipped data")
    if holdout is not None:
        if not (holdout / "manifest.json").is_file():
            raise FileNotFoundError(f"--holdout {holdout}: no manifest.json (layout of data/)")
        return Profile(
            HOLDOUT,
            holdout,
            out or holdout_out(holdout),
            timeout_s or DEFAULT_TIMEOUT_S,
            seeds or STOCHASTIC_SEEDS,
            False,
            max_test_positions=max_test_positions,
        )
    if quick:
        return Profile(
            QUICK,
            None,
            out or QUICK_OUT,
            timeout_s or QUICK_TIMEOUT_S,
            seeds or 1,
            True,
            QUICK_ONLINE_STEPS,
            max_test_positions,
            QUICK_TRACES,
            QUICK_RUNS,
            horizon_origins=QUICK_HORIZON_ORIGINS,
        )
    return Profile(
        FULL,
        None,
        out or leaderboard_dir(),
        timeout_s or DEFAULT_TIMEOUT_S,
        seeds or STOCHASTIC_SEEDS,
        False,
        max_test_positions=max_test_positions,
        default_rows=True,
    )


def prepare_data(profile: Profile, traces: Sequence[str] | None) -> tuple[Path | None, list[str]]:
    """(data root, trace names) of the runs; for quick, the excerpts are written first."""
    from benchmark.data.manifest import trace_names

    known = trace_names(profile.source_root)
    names = list(traces) if traces else known
    unknown = [t for t in names if t not in known]
    if unknown:
        raise KeyError(f"unknown trace(s) {', '.join(unknown)}; available: {', '.join(known)}")
    if not profile.excerpt_runs:
        return profile.data_root, names
    if not traces and profile.excerpt_traces:
        names = names[: profile.excerpt_traces]
    root = make_quick_data(profile.source_root, profile.out / "data", names, profile.excerpt_runs)
    return root, names


def make_quick_data(
    source_root: Path | None, dest_root: Path, traces: Sequence[str], runs: int = QUICK_RUNS
) -> Path:
    """Excerpts (first `runs` runs) of `traces`, with their own split and manifest, in `dest_root`.

    The excerpt's parquet is rewritten only when its content changes, so result files of an
    earlier quick run stay valid for the same excerpt.
    """
    import pandas as pd

    from benchmark.core.atomic import write_json
    from benchmark.data.manifest import MANIFEST_VERSION, read_run_table, sha256_file
    from benchmark.data.splits import compute_split, write_splits

    files: dict[str, str] = {}
    entries: dict[str, Any] = {}
    splits = {}
    for name in traces:
        frame = read_run_table(name, source_root).iloc[:runs].reset_index(drop=True)
        path = dest_root / "traces" / f"{name}.parquet"
        old = pd.read_parquet(path) if path.exists() else None
        if old is None or not old.equals(frame):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, path)
        files[f"traces/{name}.parquet"] = sha256_file(path)
        entries[name] = {"runs": len(frame), "excerpt_of": name, "excerpt_runs": runs}
        splits[name] = compute_split(frame)
    write_splits(dest_root / "splits.json", splits)
    files["splits.json"] = sha256_file(dest_root / "splits.json")  # loading verifies it too
    write_json(
        dest_root / "manifest.json",
        {"version": MANIFEST_VERSION, "files": files, "traces": entries, "quick": True},
    )
    return dest_root
