"""distilled_tree: decision_tree's trees fitted to lightgbm's labels; the compiled online path
equals the batch path; decision_tree itself is unchanged by the shared fit."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.running.protocol import row_at
from models.distilled import DistilledTree
from models.lgbm import LightGBM
from models.tree import NegiDecisionTree

TEACHER = {"teacher_n_estimators": 20, "teacher_delta_n_estimators": 40}


@pytest.fixture(scope="module")
def fitted(excerpt):
    return DistilledTree(**TEACHER).fit(excerpt.train(), valid=excerpt.valid(), seed=0)


def test_follows_its_teacher_more_closely_than_decision_tree(fitted, excerpt):
    teacher = LightGBM(n_estimators=20, delta_n_estimators=40).fit(
        excerpt.train(), valid=excerpt.valid(), seed=0
    )
    plain = NegiDecisionTree().fit(excerpt.train(), valid=excerpt.valid(), seed=0)
    pos = excerpt.test_positions()
    said = teacher.predict(excerpt, pos).task_proba.argmax(axis=1)
    agree = {
        name: float((m.predict(excerpt, pos).task_proba.argmax(axis=1) == said).mean())
        for name, m in (("distilled", fitted), ("plain", plain))
    }
    assert agree["distilled"] >= agree["plain"], agree
    top = fitted.predict(excerpt, pos).task_proba.argmax(axis=1)
    acc = float((top == excerpt.task[pos - excerpt.start]).mean())
    assert acc > 0.9  # single-worker's excerpt: markov is ~0.99, majority ~0.5


def test_delta_labels_are_never_negative(fitted):
    assert (fitted.node_delta_ >= 0).all()


def test_label_valid_decides_the_rows_learned(excerpt):
    both = DistilledTree(**TEACHER).fit(excerpt.train(), valid=excerpt.valid())
    train_only = DistilledTree(**TEACHER, label_valid=False).fit(
        excerpt.train(), valid=excerpt.valid()
    )
    n_train = len(excerpt.train()) - 1
    assert train_only.regressor_.tree_.n_node_samples[0] == n_train
    assert both.regressor_.tree_.n_node_samples[0] == n_train + len(excerpt.valid())
    assert DistilledTree.trains_on_valid


def test_online_equals_batch_exactly(fitted, excerpt):
    start = excerpt.split.test[0]
    stream = fitted.online(excerpt.rows(excerpt.start, start))
    pos = np.arange(start, start + 300)
    batch = fitted.predict(excerpt, pos)
    for k, p in enumerate(pos):
        proba, delta = stream.predict_next()
        assert np.array_equal(proba, batch.task_proba[k]) and delta == batch.delta_us[k]
        stream.update(row_at(excerpt, int(p)))


def test_params_are_the_trees_and_the_teachers():
    params = DistilledTree().get_params()
    assert set(NegiDecisionTree().get_params()) < set(params)
    assert {"teacher_n_estimators", "teacher_delta_n_estimators", "label_valid"} <= set(params)
