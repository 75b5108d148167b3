"""Dataset access: verified loading, encoded arrays, slices that know where they start."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

from benchmark.core.paths import data_dir
from benchmark.data.dataset import COLUMNS, END_STATES, load_splits, load_trace
from benchmark.data.manifest import DataIntegrityError, read_run_table, trace_names


@pytest.fixture(scope="module")
def trace():
    return load_trace(trace_names()[0])


def test_split_is_chronological_and_covers_every_run(trace):
    split = trace.split
    assert split.train[0] == 0 and split.train[1] == split.valid[0]
    assert split.valid[1] == split.test[0] and split.test[1] == len(trace)
    t = trace.t_ns
    assert np.all(np.diff(t) >= 0)
    assert split.boundary_t_ns == (int(t[split.valid[0]]), int(t[split.test[0]]))


def test_encoding_round_trips_to_the_run_table(trace):
    frame = read_run_table(trace.name)
    names = np.array(trace.vocabulary, dtype=object)[trace.task]
    known = names != "<other>"
    assert (frame["task"].to_numpy()[known] == names[known]).all()
    assert set(frame["task"][~known]).isdisjoint(trace.vocabulary)
    assert np.array_equal(frame["delta_us"].to_numpy(), trace.delta_us)
    assert trace.end_state.max() < len(END_STATES)


def test_slices_keep_their_offsets_and_join_only_when_adjacent(trace):
    train, valid = trace.train(), trace.valid()
    assert valid.start == len(train)
    joined = train.concat(valid)
    assert len(joined) == trace.split.valid[1]
    assert np.array_equal(joined.task, trace.through_valid().task)
    with pytest.raises(ValueError, match="adjacent"):
        valid.concat(train)
    with pytest.raises(IndexError, match="outside this slice"):
        valid.rows(0, 10)


def test_an_altered_trace_is_refused_with_the_file_named(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(data_dir(), copy, ignore=shutil.ignore_patterns("raw"))
    name = trace_names()[0]
    parquet = copy / "traces" / f"{name}.parquet"
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))
    with pytest.raises(DataIntegrityError, match=str(parquet)):
        load_trace(name, copy)


def _data_copy(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(data_dir(), copy, ignore=shutil.ignore_patterns("raw"))
    return copy


@pytest.mark.parametrize("part", ["train", "valid", "through_valid", "rows"])
def test_slices_are_read_only_copies_that_reach_no_other_row(trace, part):
    piece = trace.rows(10, 20) if part == "rows" else getattr(trace, part)()
    for col in COLUMNS:
        values = getattr(piece, col)
        assert not np.shares_memory(values, getattr(trace, col)), f"{part}.{col} is a view"
        # the memory behind the array holds this slice's rows and nothing more
        assert len(values.base) == values.nbytes == len(piece) * values.itemsize
        with pytest.raises(ValueError, match="read-only"):
            values[0] = values[0]
        with pytest.raises(ValueError, match="WRITEABLE"):
            values.flags.writeable = True


def test_the_full_trace_and_its_unpickled_copy_are_read_only(trace):
    restored = pickle.loads(pickle.dumps(trace))
    for runs in (trace, restored):
        with pytest.raises(ValueError, match="read-only"):
            runs.task[-1] = 0
    assert np.array_equal(restored.task, trace.task) and restored.start == trace.start


def _edit_split(root, edit) -> str:
    path = root / "splits.json"
    obj = json.loads(path.read_text())
    name = sorted(obj["traces"])[0]
    edit(obj["traces"][name])
    path.write_text(json.dumps(obj))
    return name


def _move_test_start(split: dict) -> None:
    split["valid"][1] += 1000
    split["test"][0] += 1000


def _scale_sigma(split: dict) -> None:
    split["sigma_us"] *= 100.0


@pytest.mark.parametrize("edit", [_move_test_start, _scale_sigma])
def test_an_edited_splits_json_is_refused_naming_the_file_and_the_fix(tmp_path, edit):
    root = _data_copy(tmp_path)
    name = _edit_split(root, edit)
    for load in (lambda: load_splits(root), lambda: load_trace(name, root)):
        with pytest.raises(DataIntegrityError) as error:
            load()
        message = str(error.value)
        assert str(root / "splits.json") in message and "kernel-oracle prepare" in message
        assert "\n" not in message


def test_a_splits_json_the_manifest_does_not_list_is_refused(tmp_path):
    root = _data_copy(tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["files"]["splits.json"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataIntegrityError, match=r"splits\.json: its sha256 is not recorded"):
        load_splits(root)


def test_the_shipped_splits_load_and_match_the_file(tmp_path):
    shipped = json.loads((data_dir() / "splits.json").read_text())["traces"]
    loaded = load_splits()
    assert sorted(loaded) == sorted(shipped)
    for name, split in loaded.items():
        assert list(split.test) == shipped[name]["test"]
        assert split.sigma_us == shipped[name]["sigma_us"]
