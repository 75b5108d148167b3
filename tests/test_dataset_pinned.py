"""Dataset behaviours pinned on hand-made tables (issue 17: mutants of benchmark/data/dataset.py).

Every expected value here is written out by hand from the tiny tables below, never taken from
the module's own constants or outputs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.data.dataset import frozen, load_splits, load_trace, runs_from_frame
from benchmark.data.manifest import DataIntegrityError
from benchmark.data.splits import TraceSplit

# Ten runs: "a:1" six times, "b:2" three times, "c:3" once (row 9).
TASKS = ["a:1", "b:2", "a:1", "a:1", "b:2", "a:1", "a:1", "b:2", "a:1", "c:3"]


def _frame(**columns) -> pd.DataFrame:
    """The ten-run table, with any column replaced by `columns`."""
    base = {
        "t_ns": np.arange(10, dtype=np.int64) * 1000 + 5,
        "task": TASKS,
        "comm": [t.split(":")[0] for t in TASKS],
        "pid": [int(t.split(":")[1]) for t in TASKS],
        "prio": np.full(10, 120, dtype=np.int16),
        "delta_us": np.arange(1, 11, dtype=np.float64) / 2,
        "end_state": ["S"] * 10,
    }
    base.update(columns)
    return pd.DataFrame(base)


def _split(runs: int = 10, **fields) -> TraceSplit:
    """A hand-made split of the ten-run table (not the one the fixed rule would compute)."""
    values = {
        "runs": runs,
        "train": (0, 5),
        "valid": (5, 8),
        "test": (8, runs),
        "vocabulary": ("<other>", "c:3", "a:1"),
        "comm_vocabulary": ("<other>", "b", "a"),
        "sigma_us": 7.5,
        "boundary_t_ns": (5005, 8005),
    }
    values.update(fields)
    return TraceSplit(**values)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tiny_root(tmp_path: Path, *, list_splits: bool = True, split_traces=("tiny",)) -> Path:
    """A data folder with traces `tiny` and `spare` (the ten-run table) and a hand-made split."""
    root = tmp_path / "data"
    (root / "traces").mkdir(parents=True)
    files = {}
    for name in ("tiny", "spare"):
        path = root / "traces" / f"{name}.parquet"
        _frame().to_parquet(path, index=False)
        files[f"traces/{name}.parquet"] = _sha256(path)
    split = _split().to_json()
    splits = {"version": 2, "traces": {name: split for name in split_traces}}
    (root / "splits.json").write_text(json.dumps(splits))
    if list_splits:
        files["splits.json"] = _sha256(root / "splits.json")
    manifest = {"version": 1, "files": files, "traces": {"tiny": {}, "spare": {}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


# -- runs_from_frame -------------------------------------------------------------------------


def test_columns_get_the_documented_dtypes_whatever_the_input_dtypes() -> None:
    """t_ns int64, task/comm/pid int32, prio int16, delta_us float64, end_state int8."""
    frame = _frame(
        t_ns=np.arange(10, dtype=np.int32) * 1000,
        pid=np.arange(10, dtype=np.int64),
        prio=pd.Series([120] * 9 + [pd.NA], dtype=object),
        delta_us=np.arange(10, dtype=np.float32) / 2,
    )
    runs = runs_from_frame(frame, "tiny", _split())
    columns = ("t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state")
    assert {col: getattr(runs, col).dtype for col in columns} == {
        "t_ns": np.dtype(np.int64),
        "task": np.dtype(np.int32),
        "comm": np.dtype(np.int32),
        "pid": np.dtype(np.int32),
        "prio": np.dtype(np.int16),
        "delta_us": np.dtype(np.float64),
        "end_state": np.dtype(np.int8),
    }
    assert runs.t_ns[3] == 3000 and runs.pid[7] == 7 and runs.delta_us[3] == 1.5


@pytest.mark.parametrize(
    "prio",
    [
        pd.array([120, None, 0, 99, None, 1, 2, 3, 4, 5], dtype="Int16"),
        pd.Series([120, pd.NA, 0, 99, pd.NA, 1, 2, 3, 4, 5], dtype=object),
        [120.0, np.nan, 0.0, 99.0, np.nan, 1.0, 2.0, 3.0, 4.0, 5.0],
    ],
    ids=["Int16", "object-pd.NA", "float-nan"],
)
def test_an_unknown_prio_is_encoded_as_minus_one(prio) -> None:
    """A missing priority (NA, NaN) becomes -1; known ones are kept."""
    runs = runs_from_frame(_frame(prio=prio), "tiny", _split())
    assert runs.prio.tolist() == [120, -1, 0, 99, -1, 1, 2, 3, 4, 5]


def test_tasks_comms_and_end_states_are_encoded_by_position_in_their_vocabularies() -> None:
    """Ids are vocabulary positions; unknown names and a missing end state become id 0."""
    states = ["S", None, "R", "D", "X", "I", "Q", "R+", "<none>", "t"]
    runs = runs_from_frame(_frame(end_state=states), "tiny", _split())
    # vocabulary ("<other>", "c:3", "a:1"): a:1 -> 2, c:3 -> 1, b:2 (not listed) -> 0
    assert runs.task.tolist() == [2, 0, 2, 2, 0, 2, 2, 0, 2, 1]
    # comm vocabulary ("<other>", "b", "a"); "c" is not listed
    assert runs.comm.tolist() == [2, 1, 2, 2, 1, 2, 2, 1, 2, 0]
    # prev_state order: <none> R R+ S D T t X Z P I <other>; "Q" is unknown -> 0
    assert runs.end_state.tolist() == [3, 0, 1, 4, 7, 10, 0, 2, 0, 6]


def test_the_trace_name_is_kept() -> None:
    """The `name` given is the name the encoded trace carries."""
    assert runs_from_frame(_frame(), "tiny", _split()).name == "tiny"


def test_the_frame_index_is_discarded_whatever_it_is_named() -> None:
    """An index named like a column (or not starting at 0) does not disturb encoding."""
    frame = _frame().set_index("t_ns", drop=False)
    frame.index = frame.index + 100
    runs = runs_from_frame(frame, "tiny", _split())
    assert runs.t_ns.tolist() == [5, 1005, 2005, 3005, 4005, 5005, 6005, 7005, 8005, 9005]
    assert runs.task.tolist() == [2, 0, 2, 2, 0, 2, 2, 0, 2, 1]


def test_a_table_lacking_a_column_is_refused_naming_it() -> None:
    """The error names the trace and the missing column."""
    frame = _frame().drop(columns=["prio"])
    with pytest.raises(ValueError, match=r"run table of 'tiny' lacks columns \['prio'\]"):
        runs_from_frame(frame, "tiny", _split())


def test_a_split_of_another_length_is_refused_with_both_counts_and_the_fix() -> None:
    """12 rows against a split of 10: the message gives both counts and says to re-prepare."""
    frame = pd.concat([_frame(), _frame().iloc[:2]])
    with pytest.raises(ValueError) as error:
        runs_from_frame(frame, "tiny", _split(runs=10))
    message = str(error.value)
    assert "trace 'tiny' has 12 runs but its split records 10" in message
    assert message.endswith("; re-run `kernel-oracle prepare`")


# -- task_comm -------------------------------------------------------------------------------


def test_task_comm_splits_the_pid_off_the_right_and_unknown_comms_are_zero() -> None:
    """A task's comm is its name without the last `:pid`; a comm outside the vocabulary is 0."""
    split = _split(
        vocabulary=("<other>", "<idle>", "nginx:12", "a:b:7", "ghost:9"),
        comm_vocabulary=("<other>", "nginx", "<idle>", "a:b"),
    )
    runs = runs_from_frame(_frame(), "tiny", split)
    assert runs.task_comm.tolist() == [0, 2, 1, 3, 0]


# -- frozen ----------------------------------------------------------------------------------


def test_an_already_frozen_array_is_returned_as_is() -> None:
    """Freezing a frozen array is the identity (no second copy)."""
    once = frozen(np.array([3, 1, 4], dtype=np.int64))
    assert frozen(once) is once


def test_a_read_only_view_of_larger_bytes_is_copied_to_own_only_its_elements() -> None:
    """An array over a bigger `bytes` is copied: its memory is its two elements only."""
    big = np.arange(10, dtype=np.int64).tobytes()
    view = np.frombuffer(big, dtype=np.int64, count=2, offset=8)
    out = frozen(view)
    assert out is not view and out.tolist() == [1, 2]
    assert len(out.base) == 16


def test_a_two_dimensional_column_is_refused_with_its_shape() -> None:
    """The error says columns are one-dimensional and gives the shape received."""
    with pytest.raises(ValueError, match=r"one-dimensional, got shape \(2, 3\)"):
        frozen(np.zeros((2, 3)))


# -- slices ----------------------------------------------------------------------------------


def test_rows_outside_a_slice_are_refused_naming_the_slice_range() -> None:
    """valid = rows [5, 8): asking for [0, 9) names both ranges and the trace."""
    valid = runs_from_frame(_frame(), "tiny", _split()).valid()
    with pytest.raises(IndexError) as error:
        valid.rows(0, 9)
    assert str(error.value) == "rows [0, 9) lie outside this slice [5, 8) of trace 'tiny'"


def test_joining_slices_that_are_not_adjacent_names_the_first_range() -> None:
    """valid [5, 8) followed by train (starting at 0) is refused with both positions."""
    runs = runs_from_frame(_frame(), "tiny", _split())
    with pytest.raises(ValueError) as error:
        runs.valid().concat(runs.train())
    assert str(error.value).startswith("cannot join rows [5, 8) with rows starting at 0:")


# -- loading ---------------------------------------------------------------------------------


def test_load_trace_uses_the_recorded_split_and_keeps_the_name(tmp_path: Path) -> None:
    """The split comes from splits.json (not recomputed) and the Runs carries the trace name."""
    runs = load_trace("tiny", _tiny_root(tmp_path))
    assert runs.name == "tiny"
    assert (runs.split.train, runs.split.valid, runs.split.test) == ((0, 5), (5, 8), (8, 10))
    assert runs.sigma_us == 7.5
    assert runs.task.tolist() == [2, 0, 2, 2, 0, 2, 2, 0, 2, 1]


def test_load_trace_of_a_trace_without_a_split_names_it_and_the_fix(tmp_path: Path) -> None:
    """A listed trace absent from splits.json is a KeyError naming it and `prepare`."""
    root = _tiny_root(tmp_path)
    with pytest.raises(KeyError) as error:
        load_trace("spare", root)
    assert error.value.args == (
        "trace 'spare' has no split in splits.json; re-run `kernel-oracle prepare`",
    )


def test_a_splits_json_missing_from_the_manifest_gives_the_full_explanation(
    tmp_path: Path,
) -> None:
    """The refusal names both files, says why, and how a hand-built folder is fixed."""
    root = _tiny_root(tmp_path, list_splits=False)
    with pytest.raises(DataIntegrityError) as error:
        load_splits(root)
    message = str(error.value)
    assert message.startswith(
        f"{root / 'splits.json'}: its sha256 is not recorded in {root / 'manifest.json'}, so "
        "the split cannot be verified; re-run `kernel-oracle prepare` (a data folder built "
        "by hand must list splits.json"
    )
    assert message.endswith(" in the manifest's files)")
