"""The conformance suite: checks every model must pass (README §4), as scikit-learn's
`check_estimator`. Run it with `kernel-oracle check FILE.py:Class` or `check_predictor(...)`.

Each check takes a fresh, unfitted model and a small real trace excerpt and raises
`AssertionError` with a message that says what went wrong and how to fix it.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import DELTA, TARGETS, TASK, Prediction, Predictor, row_at

Check = Callable[[Predictor, Runs], None]


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    message: str = ""


def _fit(model: Predictor, runs: Runs, seed: int = 0) -> Predictor:
    return model.clone().fit(runs.train(), valid=runs.valid(), seed=seed)


def _positions(runs: Runs, count: int = 200) -> np.ndarray:
    """Up to `count` positions spread over the excerpt's test rows."""
    test = runs.test_positions()
    return test[np.linspace(0, len(test) - 1, min(count, len(test))).astype(np.int64)]


def _assert_same(a: Prediction, b: Prediction, what: str, atol: float = 0.0) -> None:
    for field in ("task_proba", "delta_us"):
        x, y = getattr(a, field), getattr(b, field)
        if x is None and y is None:
            continue
        assert x is not None and y is not None, f"{what}: {field} is None in only one output"
        same = np.array_equal(x, y) if atol == 0.0 else np.allclose(x, y, atol=atol, rtol=0)
        if not same:
            diff = np.flatnonzero(~np.isclose(x, y, atol=atol, rtol=0).reshape(len(x), -1).all(1))
            raise AssertionError(
                f"{what}: {field} differs at {len(diff)} of {len(x)} positions (first: index "
                f"{diff[0] if len(diff) else '?'})"
            )


def check_targets_declared(model: Predictor, runs: Runs) -> None:
    """`name` and `targets` are set, and targets is a non-empty subset of {task, delta}."""
    assert type(model).name, f"{type(model).__name__}.name is empty: set a class attribute name"
    targets = type(model).targets
    assert targets and set(targets) <= TARGETS, (
        f"{type(model).__name__}.targets = {targets!r}; use a non-empty subset of {set(TARGETS)}"
    )


def check_params_stored(model: Predictor, runs: Runs) -> None:
    """The constructor stores its parameters unchanged and `clone` copies them."""
    params = model.get_params()
    twin = model.clone()
    assert twin.get_params() == params, "clone() changed the parameters: store them as given"
    assert not getattr(twin, "fitted_", False), "a fresh model claims to be fitted"


def check_predict_before_fit(model: Predictor, runs: Runs) -> None:
    """`predict` before `fit` raises a clear error that says to call fit."""
    try:
        model.clone().predict(runs, _positions(runs, 5))
    except Exception as error:
        assert "fit" in str(error).lower(), (
            f"predict() before fit() raised {type(error).__name__}: {error!s:.200}; "
            "say that fit() must come first"
        )
    else:
        raise AssertionError("predict() before fit() returned instead of raising")


def check_output_shapes(model: Predictor, runs: Runs) -> None:
    """Shapes, dtypes, probabilities summing to 1, finite non-negative deltas; fit returns self."""
    fresh = model.clone()
    returned = fresh.fit(runs.train(), valid=runs.valid(), seed=0)
    assert returned is fresh, "fit() must return self"
    positions = _positions(runs)
    pred = fresh.predict(runs, positions)
    assert isinstance(pred, Prediction), f"predict() returned {type(pred).__name__}, not Prediction"
    targets = type(model).targets
    if TASK in targets:
        proba = pred.task_proba
        assert proba is not None, "the model predicts the task but task_proba is None"
        assert proba.dtype == np.float32, f"task_proba dtype {proba.dtype}, expected float32"
        assert proba.shape == (len(positions), runs.n_tasks), (
            f"task_proba shape {proba.shape}, expected {(len(positions), runs.n_tasks)}"
        )
        assert np.isfinite(proba).all() and (proba >= 0).all(), "task_proba has NaN/inf/negatives"
        sums = proba.sum(axis=1, dtype=np.float64)
        worst = int(np.argmax(np.abs(sums - 1)))
        assert np.allclose(sums, 1.0, atol=1e-4), (
            f"task_proba row {worst} sums to {sums[worst]:.6f}, not 1"
        )
    else:
        assert pred.task_proba is None, "task is not among targets but task_proba is set"
    if DELTA in targets:
        delta = pred.delta_us
        assert delta is not None, "the model predicts the delta but delta_us is None"
        assert delta.dtype == np.float64, f"delta_us dtype {delta.dtype}, expected float64"
        assert delta.shape == (len(positions),), f"delta_us shape {delta.shape}"
        assert np.isfinite(delta).all(), "delta_us has NaN or inf"
    else:
        assert pred.delta_us is None, "delta is not among targets but delta_us is set"


def check_same_seed_same_output(model: Predictor, runs: Runs) -> None:
    """Two fits with the same seed give identical predictions."""
    positions = _positions(runs)
    first = _fit(model, runs, seed=3).predict(runs, positions)
    second = _fit(model, runs, seed=3).predict(runs, positions)
    _assert_same(first, second, "same seed, two fits")


def _snapshot(runs: Runs) -> dict[str, np.ndarray]:
    return {
        f: getattr(runs, f).copy()
        for f in ("t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state")
    }


def check_inputs_not_mutated(model: Predictor, runs: Runs) -> None:
    """fit and predict leave their input arrays unchanged."""
    train, valid = runs.train(), runs.valid()
    before = [_snapshot(r) for r in (train, valid, runs)]
    fitted = model.clone().fit(train, valid=valid, seed=0)
    fitted.predict(runs, _positions(runs))
    for label, snap, now in zip(
        ("train", "valid", "runs"), before, (train, valid, runs), strict=True
    ):
        for field, values in snap.items():
            assert np.array_equal(values, getattr(now, field)), (
                f"{label}.{field} was modified in place; copy arrays before changing them"
            )


def check_pickle_round_trip(model: Predictor, runs: Runs) -> None:
    """A fitted model pickles and predicts the same after loading."""
    fitted = _fit(model, runs)
    positions = _positions(runs, 50)
    restored = pickle.loads(pickle.dumps(fitted))
    _assert_same(
        fitted.predict(runs, positions),
        restored.predict(runs, positions),
        "after a pickle round-trip",
    )


def check_too_short_trace(model: Predictor, runs: Runs) -> None:
    """A two-run training trace gives a clear ValueError, not a crash inside a library."""
    tiny = runs.rows(runs.start, runs.start + 2)
    try:
        model.clone().fit(tiny, valid=None, seed=0)
    except ValueError as error:
        assert str(error), "the ValueError for a too-short trace has no message"
    else:
        # Fitting two rows may be legitimate (e.g. a constant model); then it must predict.
        pred = model.clone().fit(tiny, valid=None, seed=0).predict(tiny, np.array([2]))
        assert pred is not None


def _scrambled_from(runs: Runs, cut: int, seed: int = 0) -> Runs:
    """`runs` with every column of rows >= `cut` replaced by other rows' values, shuffled."""
    rng = np.random.default_rng(seed)
    local = cut - runs.start
    fields = {}
    for name in ("t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state"):
        values = getattr(runs, name).copy()
        tail = values[local:]
        values[local:] = rng.permutation(values)[: len(tail)]
        fields[name] = values
    fields["task"][local:] = rng.integers(0, runs.n_tasks, len(runs) - local)
    fields["delta_us"][local:] = rng.exponential(1000.0, len(runs) - local)
    return replace(runs, **fields)


def check_causality(model: Predictor, runs: Runs) -> None:
    """Scrambling rows >= c changes no prediction at positions <= c."""
    fitted = _fit(model, runs)
    test = runs.test_positions()
    cut = int(test[len(test) // 2])
    positions = np.concatenate([test[test < cut][-60:], [cut]])
    original = fitted.predict(runs, positions)
    scrambled = fitted.predict(_scrambled_from(runs, cut), positions)
    _assert_same(original, scrambled, f"after scrambling rows >= {cut} (a look-ahead leak)")


def check_online_matches_batch(model: Predictor, runs: Runs) -> None:
    """Streaming with `online()` predicts what `predict()` does, step by step."""
    fitted = _fit(model, runs)
    start = runs.split.test[0]
    history = runs.rows(runs.start, start)
    stream = fitted.online(history)
    steps = min(30, runs.split.test[1] - start)
    positions = np.arange(start, start + steps)
    batch = fitted.predict(runs, positions)
    for k, position in enumerate(positions):
        proba, delta = stream.predict_next()
        if batch.task_proba is not None:
            assert proba is not None and np.allclose(proba, batch.task_proba[k], atol=1e-4), (
                f"online task probabilities differ from predict() at position {position}"
            )
        if batch.delta_us is not None:
            assert delta is not None and np.isclose(
                delta, batch.delta_us[k], rtol=1e-4, atol=1e-3
            ), (
                f"online delta {delta} differs from predict()'s {batch.delta_us[k]} at "
                f"position {position}"
            )
        stream.update(row_at(runs, int(position)))


CHECKS: tuple[Check, ...] = (
    check_targets_declared,
    check_params_stored,
    check_predict_before_fit,
    check_output_shapes,
    check_same_seed_same_output,
    check_inputs_not_mutated,
    check_pickle_round_trip,
    check_too_short_trace,
    check_causality,
    check_online_matches_batch,
)


def iter_checks() -> Iterator[Check]:
    yield from CHECKS


def check_predictor(model: Predictor, runs: Runs) -> list[CheckResult]:
    """Run every check on a copy of `model`; never raises for a failing check."""
    results = []
    for check in CHECKS:
        try:
            check(copy.deepcopy(model), runs)
        except Exception as error:
            results.append(CheckResult(check.__name__, False, f"{type(error).__name__}: {error}"))
        else:
            results.append(CheckResult(check.__name__, True))
    return results
