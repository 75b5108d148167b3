"""The compiled recurrent step (models/fast/cells.py): its tanh, and online = batch for the
lstm and gru models with one and two layers."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from benchmark.running.protocol import row_at
from models.fast.cells import _sigmoid, _tanh
from models.rnn import RNNPredictor

FAST = {"hidden_size": 16, "task_dim": 4, "comm_dim": 4, "end_dim": 2, "window": 32,
        "batch_size": 16, "max_epochs": 1}  # fmt: skip


@njit
def _both(x):
    t = np.empty_like(x)
    s = np.empty_like(x)
    for i in range(x.size):
        t[i] = _tanh(x[i])
        s[i] = _sigmoid(x[i])
    return t, s


def test_tanh_and_sigmoid_are_within_3e_7():
    x = np.concatenate([np.linspace(-40, 40, 400_001), [0.0, -0.0, 1e-30, -1e-30, 7.9, -7.9]])
    t, s = _both(x)
    assert np.abs(t - np.tanh(x)).max() < 3e-7
    assert np.abs(s - 1 / (1 + np.exp(-x))).max() < 2e-7
    assert (t[x == 0] == 0).all() and np.all(np.abs(t) <= 1.0)


@pytest.mark.parametrize("cell,layers", [("lstm", 1), ("gru", 1), ("lstm", 2), ("gru", 2)])
def test_compiled_online_equals_batch(excerpt, cell, layers):
    model = RNNPredictor(cell=cell, num_layers=layers, **FAST).fit(
        excerpt.train(), valid=excerpt.valid(), seed=0
    )
    start = excerpt.split.test[0]
    stream = model.online(excerpt.rows(excerpt.start, start))
    assert isinstance(stream.compile_s, float) and stream.compile_s >= 0.0
    positions = np.arange(start, excerpt.start + len(excerpt))
    batch = model.predict(excerpt, positions)
    for k, position in enumerate(positions):
        proba, delta = stream.predict_next()
        assert proba.dtype == np.float32
        assert np.allclose(proba, batch.task_proba[k], atol=2e-6), position
        assert delta == pytest.approx(batch.delta_us[k], rel=1e-4, abs=1e-3), position
        stream.update(row_at(excerpt, int(position)))
