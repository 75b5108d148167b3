"""Dataset access: verified loading, encoded arrays, slices that know where they start."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from benchmark.core.paths import data_dir
from benchmark.data.dataset import END_STATES, load_trace
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
