"""The LSTM / GRU baselines: real training on a trace excerpt, determinism, streaming, internals."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from benchmark.running.protocol import row_at
from benchmark.running.registry import build_model, get_model_class, model_defaults
from models.reference import Majority
from models.rnn import (
    BUDGET_HIDDEN_SIZES,
    BUDGET_TWO_LAYERS_UP_TO,
    CELLS,
    RNNPredictor,
    _Net,
)
from models.rnn_inference import GRUScan

# Small but real: a few epochs over the excerpt's 2,100 training runs (a few seconds each).
SMALL = {"hidden_size": 32, "window": 32, "batch_size": 16, "max_epochs": 20}


def _scores(model, runs):
    positions = runs.test_positions()
    pred = model.predict(runs, positions)
    acc = float((pred.task_proba.argmax(axis=1) == runs.task[positions]).mean())
    mse_z = float((((pred.delta_us - runs.delta_us[positions]) / runs.sigma_us) ** 2).mean())
    return acc, mse_z


@pytest.fixture(scope="module")
def majority_scores(excerpt):
    return _scores(Majority().fit(excerpt.train(), valid=excerpt.valid()), excerpt)


@pytest.fixture(scope="module", params=CELLS)
def fitted(request, excerpt):
    return RNNPredictor(cell=request.param, **SMALL).fit(excerpt.train(), valid=excerpt.valid())


def test_beats_majority_on_both_targets(fitted, excerpt, majority_scores):
    acc, mse_z = _scores(fitted, excerpt)
    majority_acc, majority_mse_z = majority_scores
    assert acc > majority_acc, f"{fitted.cell}: acc {acc:.3f} <= majority {majority_acc:.3f}"
    assert mse_z < majority_mse_z, (
        f"{fitted.cell}: mse_z {mse_z:.3f} >= majority {majority_mse_z:.3f}"
    )


def test_training_curve_recorded(fitted, excerpt):
    """One entry per epoch; valid_loss is valid_ce + delta_weight * valid_mse_z, and the kept
    (best) epoch's valid_ce is the cross-entropy of the model's own valid-row predictions."""
    curve = fitted.training_curve_
    n = len(curve["epoch"])
    assert n >= 2
    assert curve["epoch"] == list(range(1, n + 1))
    for key in ("train_loss", "valid_loss", "valid_ce", "valid_mse_z"):
        assert len(curve[key]) == n and np.isfinite(curve[key]).all(), key
    assert curve["train_loss"][-1] < curve["train_loss"][0], "training did not reduce its loss"
    # early stopping keeps the best epoch's weights
    assert fitted.best_epoch_ == curve["epoch"][int(np.argmin(curve["valid_loss"]))]
    weight = fitted.get_params()["delta_weight"]
    np.testing.assert_allclose(
        curve["valid_loss"],
        np.add(curve["valid_ce"], weight * np.asarray(curve["valid_mse_z"])),
        rtol=1e-12,
    )
    valid = excerpt.valid()
    positions = np.arange(valid.start, valid.start + len(valid))
    proba = fitted.predict(excerpt, positions).task_proba.astype(np.float64)
    cross_entropy = -np.mean(np.log(proba[np.arange(len(positions)), valid.task]))
    kept = curve["valid_ce"][fitted.best_epoch_ - 1]
    assert kept == pytest.approx(cross_entropy, rel=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_same_seed_same_predictions(cell, excerpt):
    params = {**SMALL, "max_epochs": 3}
    positions = excerpt.test_positions()
    train, valid = excerpt.train(), excerpt.valid()
    fits = [RNNPredictor(cell=cell, **params).fit(train, valid=valid, seed=s) for s in (7, 7, 8)]
    runs = [fit.predict(excerpt, positions) for fit in fits]
    assert np.array_equal(runs[0].task_proba, runs[1].task_proba)
    assert np.array_equal(runs[0].delta_us, runs[1].delta_us)
    assert not np.array_equal(runs[0].delta_us, runs[2].delta_us), "the seed changes nothing"


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_online_steps_match_predict(cell, layers, excerpt):
    """One numpy cell step per run reproduces the batch pass, over many steps, 1 or 2 layers."""
    model = RNNPredictor(cell=cell, num_layers=layers, **{**SMALL, "max_epochs": 2})
    model.fit(excerpt.train(), valid=excerpt.valid(), seed=1)
    start = excerpt.split.test[0]
    positions = np.arange(start, start + 300)
    batch = model.predict(excerpt, positions)
    stream = model.online(excerpt.rows(excerpt.start, start))
    for k, position in enumerate(positions):
        proba, delta = stream.predict_next()
        assert proba.dtype == np.float32 and abs(proba.sum() - 1) < 1e-5
        np.testing.assert_allclose(proba, batch.task_proba[k], atol=1e-5)
        assert delta == pytest.approx(batch.delta_us[k], rel=1e-4, abs=1e-3)
        stream.update(row_at(excerpt, int(position)))


def test_online_from_empty_history_matches_first_position(excerpt):
    model = RNNPredictor(cell="gru", **{**SMALL, "max_epochs": 1})
    model.fit(excerpt.train(), valid=excerpt.valid())
    first = model.predict(excerpt, np.array([excerpt.start, excerpt.start + 1]))
    stream = model.online(excerpt.rows(excerpt.start, excerpt.start))
    proba, delta = stream.predict_next()
    np.testing.assert_allclose(proba, first.task_proba[0], atol=1e-6)
    assert delta == pytest.approx(first.delta_us[0], rel=1e-5)
    stream.update(row_at(excerpt, excerpt.start))
    proba, _ = stream.predict_next()
    np.testing.assert_allclose(proba, first.task_proba[1], atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2])
def test_numpy_gru_scan_matches_torch(layers):
    torch.manual_seed(0)
    net = _Net(
        cell="gru",
        n_tasks=5,
        n_comms=4,
        hidden_size=24,
        num_layers=layers,
        task_dim=3,
        comm_dim=3,
        end_dim=2,
        dropout=0.0,
    ).eval()
    x = torch.randn(700, net.rnn.input_size)
    h0 = torch.randn(layers, 1, 24) * 0.5
    with torch.no_grad():
        expected, h_n = net.rnn(x[None], h0)
    scan = GRUScan(net)
    first, state = scan(x[:300].numpy(), [h0[k, 0].numpy() for k in range(layers)])
    second, state = scan(x[300:].numpy(), state)  # the state carries across chunks
    np.testing.assert_allclose(np.vstack([first, second]), expected[0].numpy(), atol=2e-5)
    for k in range(layers):
        np.testing.assert_allclose(state[k], h_n[k, 0].numpy(), atol=2e-5)


def test_predict_is_causal_and_chunked(excerpt, monkeypatch):
    """Chunking the pass changes nothing; a prediction at p ignores row p and later rows."""
    import models.rnn as rnn

    model = RNNPredictor(cell="lstm", **{**SMALL, "max_epochs": 1})
    model.fit(excerpt.train(), valid=excerpt.valid())
    positions = np.array([excerpt.start, excerpt.start + 5, 2500, 2999])
    whole = model.predict(excerpt, positions)
    monkeypatch.setattr(rnn, "PREDICT_CHUNK", 97)
    chunked = model.predict(excerpt, positions)
    np.testing.assert_allclose(chunked.task_proba, whole.task_proba, atol=1e-6)
    np.testing.assert_allclose(chunked.delta_us, whole.delta_us, rtol=1e-5)
    cut = excerpt.rows(excerpt.start, 2500)
    np.testing.assert_allclose(
        model.predict(cut, np.array([2500])).delta_us, whole.delta_us[2:3], rtol=1e-5
    )


def test_lstm_and_gru_are_presets_of_one_class():
    """One class; the registry's presets fix the cell (darts' RNNModel(model=...))."""
    assert get_model_class("lstm") is get_model_class("gru") is RNNPredictor
    assert build_model("lstm").cell == "lstm" and build_model("gru").cell == "gru"
    assert model_defaults("gru")["cell"] == "gru" and model_defaults("gru")["hidden_size"] == 64
    gru = build_model("gru", {"hidden_size": 48, "lr": 0.002})
    params = gru.get_params()
    assert params["cell"] == "gru" and params["hidden_size"] == 48 and params["lr"] == 0.002
    assert gru.clone().get_params() == params
    with pytest.raises(ValueError, match=r"fixes cell='gru'"):
        build_model("gru", {"cell": "lstm"})


def test_the_cell_has_no_silent_default():
    with pytest.raises(TypeError, match="cell"):
        RNNPredictor(hidden_size=32)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        RNNPredictor("lstm")  # type: ignore[misc]  # keyword-only
    with pytest.raises(ValueError, match="cell"):
        RNNPredictor(cell="rnn").fit(None)  # type: ignore[arg-type]


def test_pickle_keeps_predictions_and_online(excerpt):
    model = RNNPredictor(cell="gru", **{**SMALL, "max_epochs": 1})
    model.fit(excerpt.train(), valid=excerpt.valid())
    restored = pickle.loads(pickle.dumps(model))
    start = excerpt.split.test[0]
    a = model.online(excerpt.rows(excerpt.start, start)).predict_next()
    b = restored.online(excerpt.rows(excerpt.start, start)).predict_next()
    np.testing.assert_array_equal(a[0], b[0])


def test_search_space_samples():
    optuna = pytest.importorskip("optuna")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        params = RNNPredictor.search_space(study.ask())
        model = build_model("lstm", params)
        got = model.get_params()
        assert got["hidden_size"] in BUDGET_HIDDEN_SIZES
        # the latency budget: a second layer only up to hidden BUDGET_TWO_LAYERS_UP_TO
        assert got["num_layers"] == 1 or got["hidden_size"] <= BUDGET_TWO_LAYERS_UP_TO
