"""The split rule (README §3) pinned by hand: boundaries, vocabulary threshold, sigma_us, version.

Every expected number here is written out by hand or computed in the test with exact integer
(`fractions.Fraction`) or plain numpy/pandas arithmetic, never taken from `benchmark.data.splits`.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from benchmark.core.paths import data_dir
from benchmark.data.manifest import read_run_table, trace_names
from benchmark.data.splits import TraceSplit, compute_split, read_splits, write_splits


def table(n: int, tasks: list[str] | None = None, delta: list[float] | None = None) -> pd.DataFrame:
    """A hand-made run table of `n` rows: t_ns = 1000 i + 5, one task unless given."""
    tasks = tasks if tasks is not None else ["a:1"] * n
    return pd.DataFrame(
        {
            "t_ns": np.arange(n, dtype=np.int64) * 1000 + 5,
            "task": tasks,
            "comm": [t.rsplit(":", 1)[0] for t in tasks],
            "delta_us": delta if delta is not None else np.ones(n),
        }
    )


# (n, train end, valid end), by hand: floor(0.7 n) and floor(0.8 n). The float rule of split
# version 1 gave valid end 7 for n = 10, 15 for n = 20, train end 62 for n = 90 and valid end
# 184611 for n = 230765.
BOUNDARIES = [(10, 7, 8), (20, 14, 16), (90, 63, 72), (230_765, 161_535, 184_612)]


@pytest.mark.parametrize(("n", "train_end", "valid_end"), BOUNDARIES)
def test_boundaries_of_hand_made_tables(n: int, train_end: int, valid_end: int) -> None:
    split = compute_split(table(n))
    assert split.runs == n
    assert split.train == (0, train_end)
    assert split.valid == (train_end, valid_end)
    assert split.test == (valid_end, n)
    assert split.boundary_t_ns == (train_end * 1000 + 5, valid_end * 1000 + 5)


def test_every_size_up_to_200_cuts_at_the_exact_floor() -> None:
    # version 1's float rule was wrong for 23 of these sizes (valid), 3 (train: 90, 170, 180)
    for n in range(10, 201):
        split = compute_split(table(n))
        assert split.train[1] == math.floor(Fraction(7, 10) * n), n
        assert split.valid[1] == math.floor(Fraction(8, 10) * n), n


def test_too_short_a_table_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 10 runs"):
        compute_split(table(9))


def test_vocabulary_is_tasks_seen_at_least_twice_in_train_and_valid() -> None:
    # n = 10: rows 0..7 are train+valid, rows 8 and 9 are test.
    tasks = ["b:2", "a:1", "c:3", "a:1", "b:2", "a:1", "d:4", "d:4", "e:5", "e:5"]
    split = compute_split(table(10, tasks))
    # a three times, b and d twice (ties by name), c once, e only in test.
    assert split.vocabulary == ("<other>", "a:1", "b:2", "d:4")
    assert split.comm_vocabulary == ("<other>", "a", "b", "d")


def test_sigma_us_is_the_population_std_over_train_and_valid() -> None:
    delta = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 1000.0, -1000.0]
    split = compute_split(table(10, delta=delta))
    # mean 4.5, squared deviations 12.25 + 6.25 + 2.25 + 0.25 (twice each) = 42 over 8 rows:
    # sqrt(5.25) (ddof=0); ddof=1 would give sqrt(6) = 2.449..., the test rows would give more.
    assert split.sigma_us == pytest.approx(2.29128784747792, abs=1e-12)


def test_write_and_read_round_trip_and_version(tmp_path) -> None:
    split = compute_split(table(20, delta=[float(i) for i in range(20)]))
    path = tmp_path / "splits.json"
    write_splits(path, {"t": split})
    obj = json.loads(path.read_text())
    assert obj["version"] == 2
    assert obj["fractions"] == {"train": 0.7, "valid": 0.1, "test": 0.2}
    assert obj["min_count"] == 2
    assert read_splits(path) == {"t": split}
    obj["version"] = 1
    path.write_text(json.dumps(obj))
    stale = "split version 1, this code reads 2; regenerate it with `kernel-oracle prepare`"
    with pytest.raises(ValueError, match=stale):
        read_splits(path)
    with pytest.raises(FileNotFoundError, match="no split file"):
        read_splits(tmp_path / "absent.json")


@pytest.mark.parametrize("name", trace_names())
def test_shipped_split_matches_the_rule(name: str) -> None:
    """splits.json of every shipped trace, recomputed from the parquet with plain pandas."""
    frame = read_run_table(name)
    shipped = json.loads((data_dir() / "splits.json").read_text())
    assert shipped["version"] == 2
    split = shipped["traces"][name]
    n = len(frame)
    train_end = math.floor(Fraction(7, 10) * n)
    valid_end = math.floor(Fraction(8, 10) * n)
    assert split["runs"] == n
    assert split["train"] == [0, train_end]
    assert split["valid"] == [train_end, valid_end]
    assert split["test"] == [valid_end, n]
    t_ns = frame["t_ns"].to_numpy()
    assert split["boundary_t_ns"] == [int(t_ns[train_end]), int(t_ns[valid_end])]
    seen = frame.iloc[:valid_end]
    for column, key in (("task", "vocabulary"), ("comm", "comm_vocabulary")):
        counts = seen[column].value_counts()
        frequent = sorted(counts[counts >= 2].items(), key=lambda kv: (-kv[1], kv[0]))
        assert split[key] == ["<other>", *(name for name, _ in frequent)], key
    assert split["sigma_us"] == pytest.approx(float(np.std(seen["delta_us"].to_numpy())), rel=1e-12)
    assert compute_split(frame) == TraceSplit.from_json(split)
