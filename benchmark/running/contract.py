"""The conformance suite's contract checks and the `Context` they share (README §4).

Each check enforces one rule, named by its function (`check_<rule>`) and stated by its
docstring's first line; it raises `AssertionError` saying what is wrong and how to fix it. The
checks of one model share a `Context` (one real trace excerpt, the seed-0 fit and its
big-batch predictions), so a learned model is fitted a handful of times, not once per check.
The leak searches are in `benchmark.running.leaks`; `benchmark.running.conformance` runs all.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import replace
from functools import cached_property
from typing import Any

import numpy as np

from benchmark.data.dataset import COLUMNS, Runs
from benchmark.results.store import check_name
from benchmark.running.protocol import (
    DELTA,
    TAGS,
    TARGETS,
    TASK,
    Prediction,
    Predictor,
    accepts_targets,
)
from benchmark.running.verify import ModelOutputError, check_prediction

# Tolerances for "the same prediction" where two different computations should agree (a
# shorter history, another batch): far below any difference a leak could exploit.
PROBA_ATOL = 1e-5
DELTA_RTOL, DELTA_ATOL = 1e-5, 1e-3


class Context:
    """One model (unfitted) and one excerpt, with what several checks share, computed once.

    A failure while fitting or predicting is kept and raised again by every check that needs
    it, so a broken `fit` costs one call, not one per check.
    """

    def __init__(self, model: Predictor, runs: Runs) -> None:
        self.model = model
        self._runs = runs
        self._fit: Predictor | BaseException | None = None
        self._batch: Prediction | BaseException | None = None

    @property
    def runs(self) -> Runs:
        """The excerpt, as a new `Runs` over the same read-only arrays on every access, so a
        model that replaces an attribute of the object it is handed changes no other check."""
        return replace(self._runs)

    def fresh(self) -> Predictor:
        """A new unfitted copy of the model."""
        return copy.deepcopy(self.model)

    def fit(self, model: Predictor | None = None, seed: int = 0) -> Predictor:
        """`model` (default: a fresh copy) fitted on the excerpt's train rows with valid."""
        model = self.fresh() if model is None else model
        try:
            out = model.fit(self.runs.train(), valid=self.runs.valid(), seed=seed)
        except Exception as error:
            raise AssertionError(f"fit() raised {_describe(error)}") from error
        if out is not model:
            raise AssertionError("fit() must return self")
        return model

    def fitted(self) -> Predictor:
        """A copy of the seed-0 fit (fitted once per context)."""
        if self._fit is None:
            try:
                self._fit = self.fit()
            except AssertionError as error:
                self._fit = error
        if isinstance(self._fit, BaseException):
            raise AssertionError(str(self._fit)) from self._fit
        return copy.deepcopy(self._fit)

    @cached_property
    def window(self) -> np.ndarray:
        """The positions the leak searches compare: every row of the excerpt's second half
        (the tail of train, valid and test), each with half the excerpt before it."""
        start, end = self._runs.start, self._runs.start + len(self._runs)
        return np.arange(start + len(self._runs) // 2, end, dtype=np.int64)

    def batch(self) -> Prediction:
        """The seed-0 fit's predictions at every position of `window`, in one call."""
        if self._batch is None:
            try:
                self._batch = predict_checked(self.fitted(), self.runs, self.window)
            except Exception as error:
                self._batch = error
        if isinstance(self._batch, AssertionError):  # an output the protocol refuses
            raise AssertionError(str(self._batch)) from self._batch
        if isinstance(self._batch, BaseException):
            raise AssertionError(f"predict() raised {_describe(self._batch)}") from self._batch
        return self._batch

    def batch_at(self, positions: np.ndarray) -> Prediction:
        """The big-batch predictions restricted to `positions` (all inside `window`)."""
        return take(self.batch(), positions - self.window[0])


def _describe(error: BaseException) -> str:
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first[:300]}"


def take(pred: Prediction, index: np.ndarray) -> Prediction:
    """Rows `index` of a prediction."""
    return Prediction(
        None if pred.task_proba is None else pred.task_proba[index],
        None if pred.delta_us is None else pred.delta_us[index],
    )


def predict_checked(model: Predictor, runs: Runs, positions: np.ndarray) -> Prediction:
    """`model.predict`, its output checked as the harness checks it (`verify.check_prediction`:
    a Prediction, shapes, run lengths finite in [0, MAX_DELTA_US]) and more strictly than the
    metrics need (dtypes, probabilities finite, non-negative and summing to 1, None for a
    target it does not declare); raises AssertionError."""
    pred = model.predict(runs, positions)
    check_output(pred, len(positions), runs.n_tasks, type(model).targets)
    return pred


def check_output(
    pred: Any,
    n: int,
    n_tasks: int,
    required: frozenset[str],
    optional: frozenset[str] = frozenset(),
) -> None:
    """`predict_checked`'s rules on `pred`: every `required` target present and valid, every
    `optional` one None or valid, every other target None; raises AssertionError."""
    present = set(required) | {
        t
        for t, value in (
            (TASK, getattr(pred, "task_proba", None)),
            (DELTA, getattr(pred, "delta_us", None)),
        )
        if t in optional and value is not None
    }
    try:
        check_prediction(pred, n, n_tasks, sorted(present))
    except ModelOutputError as error:
        raise AssertionError(str(error)) from None
    proba, delta = pred.task_proba, pred.delta_us
    if TASK in present:
        assert proba.dtype == np.float32, f"task_proba dtype {proba.dtype}, expected float32"
        bad = ~(np.isfinite(proba) & (proba >= 0)).all(axis=1)
        assert not bad.any(), f"task_proba row {int(np.argmax(bad))} has NaN, inf or negatives"
        sums = proba.sum(axis=1, dtype=np.float64)
        worst = int(np.argmax(np.abs(sums - 1))) if n else 0
        assert np.allclose(sums, 1.0, atol=1e-4), f"task_proba row {worst} sums to {sums[worst]}"
    elif TASK not in optional:
        assert proba is None, "task is not among the targets but task_proba is set"
    if DELTA in present:
        assert delta.dtype == np.float64, f"delta_us dtype {delta.dtype}, expected float64"
    elif DELTA not in optional:
        assert delta is None, "delta is not among the targets but delta_us is set"


def differences(a: Prediction, b: Prediction, exact: bool = False) -> np.ndarray:
    """Indices of the rows where two predictions differ (beyond the tolerances, or at all;
    NaN equals NaN here, so that a NaN is reported by the output rule, not as a difference)."""
    bad = np.zeros(len(a.task_proba if a.task_proba is not None else a.delta_us), dtype=bool)
    for x, y, rtol, atol in (
        (a.task_proba, b.task_proba, 0.0, PROBA_ATOL),
        (a.delta_us, b.delta_us, DELTA_RTOL, DELTA_ATOL),
    ):
        if x is None or y is None:
            bad |= (x is None) != (y is None)
            continue
        rtol, atol = (0.0, 0.0) if exact else (rtol, atol)
        same = np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
        bad |= ~same.reshape(len(x), -1).all(axis=1)
    return np.flatnonzero(bad)


def assert_same(
    a: Prediction, b: Prediction, what: str, positions: np.ndarray, exact: bool = False
) -> None:
    """Raise naming the first position (and how many) where `b` differs from `a`."""
    diff = differences(a, b, exact)
    if len(diff):
        raise AssertionError(
            f"{what}: the prediction differs at {len(diff)} of {len(positions)} positions "
            f"(first: position {int(positions[diff[0]])})"
        )


def sample(positions: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` positions spread evenly over `positions` (first and last included)."""
    index = np.unique(np.linspace(0, len(positions) - 1, min(count, len(positions))).round())
    return positions[index.astype(np.int64)]


# -- the contract ---------------------------------------------------------------------------
def check_targets_declared(ctx: Context) -> None:
    """`name` is a safe folder name; `targets` is a non-empty subset of {task, delta}; `tags`
    a subset of TAGS."""
    cls = type(ctx.model)
    assert cls.name, f"{cls.__name__}.name is empty: set a class attribute name"
    try:
        check_name(cls.name)
    except ValueError as error:
        raise AssertionError(str(error)) from None
    assert cls.targets and set(cls.targets) <= TARGETS, (
        f"{cls.__name__}.targets = {cls.targets!r}; use a non-empty subset of {sorted(TARGETS)}"
    )
    assert set(cls.tags) <= TAGS, f"unknown tags {sorted(set(cls.tags) - TAGS)}; use {sorted(TAGS)}"


def check_init_sets_only_params(ctx: Context) -> None:
    """`__init__` stores each keyword parameter as given and sets nothing else."""
    params = ctx.model.get_params()
    twin = type(ctx.model)(**params)
    extra = sorted(set(vars(twin)) - set(params))
    assert not extra, (
        f"__init__ sets {extra}, which are not parameters: compute them in fit() (names "
        "ending in _)"
    )
    for name, value in params.items():
        assert getattr(twin, name) is value, (
            f"__init__ changed parameter {name!r} (given {value!r}, stored "
            f"{getattr(twin, name)!r}): store it as given and validate it in fit()"
        )
    assert not getattr(twin, "fitted_", False), "a fresh model claims to be fitted"


def check_predict_before_fit(ctx: Context) -> None:
    """`predict` before `fit` raises an error that says to call fit."""
    try:
        ctx.fresh().predict(ctx.runs, ctx.window[:5])
    except Exception as error:
        assert "fit" in str(error).lower(), (
            f"predict() before fit() raised {_describe(error)}; say that fit() must come first"
        )
    else:
        raise AssertionError("predict() before fit() returned instead of raising")


def check_output_shapes(ctx: Context) -> None:
    """Shapes, dtypes, probabilities summing to 1, finite non-negative deltas; fit returns self."""
    ctx.batch()
    single = predict_checked(ctx.fitted(), ctx.runs, ctx.window[:1])
    assert single is not None


def _same_value(a: Any, b: Any) -> bool:
    try:
        return pickle.dumps(a) == pickle.dumps(b)
    except Exception:
        return a is b


def check_fit_changes_no_parameter(ctx: Context) -> None:
    """`fit` changes no parameter, and what it learns goes into attributes ending in `_`."""
    model = ctx.fresh()
    before = {k: copy.deepcopy(v) for k, v in model.get_params().items()}
    attrs = set(vars(model))
    ctx.fit(model)
    changed = sorted(k for k, v in model.get_params().items() if not _same_value(v, before[k]))
    assert not changed, f"fit() changed parameters {changed}: keep fitted values in name_ fields"
    public = sorted(a for a in set(vars(model)) - attrs if not a.endswith("_") and a[0] != "_")
    assert not public, f"fit() set {public}: name fitted state with a trailing _ (as in fitted_)"


def check_same_seed_same_output(ctx: Context) -> None:
    """Two fits with the same seed give identical predictions."""
    positions = sample(ctx.window, 200)
    first = ctx.fit(seed=3).predict(ctx.runs, positions)
    second = ctx.fit(seed=3).predict(ctx.runs, positions)
    assert_same(first, second, "same seed, two fits", positions, exact=True)


def check_fit_idempotent(ctx: Context) -> None:
    """Fitting a model twice gives the predictions of fitting it once."""
    positions = sample(ctx.window, 200)
    assert_same(
        ctx.fitted().predict(ctx.runs, positions),
        ctx.fit(ctx.fit()).predict(ctx.runs, positions),
        "fitted twice vs once",
        positions,
    )


def _snapshot(runs: Runs) -> dict[str, tuple[int, np.ndarray]]:
    return {col: (id(getattr(runs, col)), getattr(runs, col).copy()) for col in COLUMNS}


def check_inputs_not_mutated(ctx: Context) -> None:
    """fit, predict and online leave the arrays they are handed unchanged (and in place)."""
    runs = ctx.runs
    train, valid, history = runs.train(), runs.valid(), runs.rows(runs.start, int(ctx.window[0]))
    inputs = {"train": train, "valid": valid, "runs": runs, "history": history}
    before = {label: _snapshot(r) for label, r in inputs.items()}
    model = ctx.fresh().fit(train, valid=valid, seed=0)
    model.predict(runs, ctx.window)
    model.online(history).predict_next()
    for label, snap in before.items():
        for col, (ident, values) in snap.items():
            now = getattr(inputs[label], col)
            assert id(now) == ident, f"{label}.{col} was replaced: never change the inputs"
            assert np.array_equal(values, now), f"{label}.{col} was modified in place"


def check_pickle_round_trip(ctx: Context) -> None:
    """A fitted model pickles and predicts the same after loading."""
    positions = sample(ctx.window, 50)
    fitted = ctx.fitted()
    restored = pickle.loads(pickle.dumps(fitted))
    assert_same(
        fitted.predict(ctx.runs, positions),
        restored.predict(ctx.runs, positions),
        "after a pickle round-trip",
        positions,
    )


def check_single_target_fit(ctx: Context) -> None:
    """A `fit` that takes `targets` fits what it is asked: after `fit(..., targets=[t])` the
    predictions hold `t`, valid (shape, finite, probabilities summing to 1); the other target
    is None or valid. (Passes for a class whose `fit` has no `targets`: it fits every target.)"""
    cls = type(ctx.model)
    if not accepts_targets(cls):
        return
    positions = sample(ctx.window, 50)
    for target in sorted(cls.targets):
        model = ctx.fresh()
        runs = ctx.runs
        try:
            out = model.fit(runs.train(), valid=runs.valid(), seed=0, targets=[target])
        except Exception as error:
            raise AssertionError(f"fit(targets=[{target!r}]) raised {_describe(error)}") from error
        assert out is model, f"fit(targets=[{target!r}]) must return self"
        pred = model.predict(runs, positions)
        try:
            check_output(
                pred, len(positions), runs.n_tasks, frozenset({target}), cls.targets - {target}
            )
        except AssertionError as error:
            raise AssertionError(f"after fit(targets=[{target!r}]): {error}") from None


def check_too_short_trace(ctx: Context) -> None:
    """A two-run training trace gives a clear ValueError, or a model that still predicts."""
    tiny = ctx.runs.rows(ctx.runs.start, ctx.runs.start + 2)
    try:
        model = ctx.fresh().fit(tiny, valid=None, seed=0)
    except ValueError as error:
        assert str(error), "the ValueError for a too-short trace has no message"
        return
    # Fitting two rows may be legitimate (e.g. a constant model); then it must predict.
    predict_checked(model, tiny, np.array([tiny.start + 2]))
