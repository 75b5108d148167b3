"""The Predictor contract: parameters stored, clear errors, the default online path."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.running.protocol import BufferedOnline, NotFittedError, Predictor, row_at
from models.reference import Markov


def test_parameters_are_stored_and_cloned():
    model = Markov(order=3, alpha=0.2)
    assert model.get_params() == {"order": 3, "alpha": 0.2, "min_count": 1}
    assert model.clone().get_params() == model.get_params()
    with pytest.raises(ValueError, match=r"no parameter 'ordr'.*order"):
        model.set_params(ordr=2)


def test_predict_before_fit_says_to_fit(excerpt):
    with pytest.raises(NotFittedError, match=r"call fit\(train, valid=valid\)"):
        Markov().predict(excerpt, np.array([2500]))


def test_positions_outside_the_runs_are_refused(excerpt):
    model = Markov().fit(excerpt.train(), valid=excerpt.valid())
    with pytest.raises(IndexError, match="positions must lie in"):
        model.predict(excerpt.train(), np.array([len(excerpt)]))


def test_the_default_buffered_online_path_equals_predict(excerpt):
    model = Markov(order=2).fit(excerpt.train(), valid=excerpt.valid())
    start = excerpt.split.test[0]
    stream = BufferedOnline(model, excerpt.rows(0, start))
    batch = model.predict(excerpt, np.arange(start, start + 20))
    for k in range(20):
        proba, delta = stream.predict_next()
        assert np.allclose(proba, batch.task_proba[k])
        assert delta == pytest.approx(batch.delta_us[k])
        stream.update(row_at(excerpt, start + k))


class _Star(Predictor):
    name = "star"

    def __init__(self, *args, alpha: float = 1.0) -> None:
        self.args, self.alpha = args, alpha

    def fit(self, train, *, valid=None, seed=0, report=None):
        return self

    def predict(self, runs, positions):
        raise NotImplementedError


def test_a_constructor_with_varargs_is_refused_as_scikit_learn_does():
    with pytest.raises(TypeError, match=r"_Star.__init__ takes \*args: .*keyword parameters only"):
        _Star(alpha=2.0).get_params()


def test_a_class_without_a_constructor_has_no_parameters():
    class Bare(_Star):
        __init__ = object.__init__  # type: ignore[assignment]

    assert Bare().get_params() == {}
