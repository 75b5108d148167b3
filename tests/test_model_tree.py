"""decision_tree: learns for real on a real excerpt, beats majority, is deterministic, and its
online tree walk is scikit-learn's `apply`."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.running.protocol import row_at
from models.fast.trees import Forest, apply
from models.reference import Majority
from models.tree import NegiDecisionTree


def scores(model, runs):
    pos = runs.test_positions()
    pred = model.predict(runs, pos)
    out = {}
    if pred.task_proba is not None:
        out["acc"] = float((pred.task_proba.argmax(axis=1) == runs.task[pos]).mean())
    if pred.delta_us is not None:
        out["mse_z"] = float(np.mean(((pred.delta_us - runs.delta_us[pos]) / runs.sigma_us) ** 2))
    return out


@pytest.fixture(scope="module")
def fitted(excerpt):
    return NegiDecisionTree().fit(excerpt.train(), valid=excerpt.valid(), seed=0)


def test_beats_majority(fitted, excerpt):
    majority = Majority().fit(excerpt.train(), valid=excerpt.valid())
    mine, base = scores(fitted, excerpt), scores(majority, excerpt)
    assert mine["acc"] > base["acc"] + 0.05, (mine, base)
    assert mine["mse_z"] < base["mse_z"], (mine, base)


def test_criterion_and_probabilities(fitted, excerpt):
    assert fitted.classifier_.criterion == "entropy"
    proba = fitted.predict(excerpt, excerpt.test_positions()).task_proba
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    unseen = np.bincount(excerpt.train().task[1:], minlength=excerpt.n_tasks) == 0
    assert (proba[:, unseen] == 0).all()


def test_same_seed_same_predictions(fitted, excerpt):
    again = NegiDecisionTree().fit(excerpt.train(), valid=excerpt.valid(), seed=0)
    pos = excerpt.test_positions()
    a, b = fitted.predict(excerpt, pos), again.predict(excerpt, pos)
    assert np.array_equal(a.task_proba, b.task_proba)
    assert np.array_equal(a.delta_us, b.delta_us)


def test_compiled_walk_is_sklearn_apply(fitted, excerpt):
    """The compiled walk over the flat arrays lands in scikit-learn's leaf, for every row of
    train and test, in both trees (the regressor's leaf ids follow the classifier's)."""
    rows = np.arange(excerpt.start + 1, excerpt.start + len(excerpt))
    x = fitted.features_.transform(excerpt, rows)
    leaves = apply(x, *fitted.online_forest().pack(x.shape[1]))
    assert np.array_equal(leaves[:, 0], fitted.classifier_.apply(x))
    offset = fitted.classifier_.tree_.node_count
    assert np.array_equal(leaves[:, 1] - offset, fitted.regressor_.apply(x))


def test_forest_of_a_single_leaf(excerpt):
    """A tree that is one leaf (a constant target) walks to leaf 0."""
    from sklearn.tree import DecisionTreeRegressor

    x = np.zeros((5, 3), dtype=np.float32)
    tree = DecisionTreeRegressor().fit(x, np.ones(5))
    assert apply(x, *Forest.from_sklearn(tree).pack(3)).tolist() == [[0]] * 5


def test_online_compiles_outside_the_steps(fitted, excerpt):
    stream = fitted.online(excerpt.rows(excerpt.start, excerpt.split.test[0]))
    assert isinstance(stream.compile_s, float) and stream.compile_s >= 0.0
    forest = fitted.online_forest()
    assert stream.state_bytes >= 16 * len(forest.feature)  # 4 int32 per node, at least


def test_online_equals_batch_exactly(fitted, excerpt):
    start = excerpt.split.test[0]
    stream = fitted.online(excerpt.rows(excerpt.start, start))
    pos = np.arange(start, start + 300)
    batch = fitted.predict(excerpt, pos)
    for k, p in enumerate(pos):
        proba, delta = stream.predict_next()
        assert np.array_equal(proba, batch.task_proba[k]) and delta == batch.delta_us[k]
        assert not proba.flags.writeable  # a leaf's stored row: callers cannot alter it
        stream.update(row_at(excerpt, int(p)))


def test_bad_trace_is_a_clear_error(excerpt):
    with pytest.raises(ValueError, match="needs at least"):
        NegiDecisionTree().fit(excerpt.rows(0, 3))
