"""The Predictor protocol every model follows (README §4), in scikit-learn's manner.

* The constructor only stores keyword parameters; `get_params` reads them back by name.
* `fit(train, valid=valid, seed=..., targets=...)` learns; fitted state ends in `_`. `targets`
  (optional for a submitted class) asks for a subset of the model's targets; see `Predictor.fit`.
* `predict(runs, positions)` predicts the task and delta of each position `p` from rows `< p`.
* `online(history)` gives a batch-1 streaming predictor: `predict_next()` then `update(row)`.
* `forecast(runs, origins, horizon)` predicts the next `horizon` runs from each origin (issue 14);
  by default the free run of `online()` (`free_run`).
* `tags` say what kind of model it is (`TAGS`); `stochastic` ones are evaluated over several seeds.
"""

from __future__ import annotations

import abc
import copy
import inspect
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np

from benchmark.data.dataset import Runs

# Forecast is part of the protocol (models/ may import only this module, README §2)
from benchmark.running.forecast import Forecast, LastRuns, check_origins

TASK = "task"
DELTA = "delta"
TARGETS = frozenset({TASK, DELTA})

# What a class may declare in `tags` (README §4, §6):
#   reference  - a simple predictor every learned model must beat (its own board rows);
#   neural     - a network (torch): heavy to import, slow to fit;
#   stochastic - fitted by a seeded random procedure: evaluated over several seeds.
TAGS = frozenset({"reference", "neural", "stochastic"})


class Reporter(Protocol):
    """Called by iterative models after each epoch / boosting round with a validation score,
    so that a tuner can prune (it may raise to stop the fit): `report(step, value, target=t)`.

    `step` counts the rounds of the head that `value` scores (from 0 or 1, below the tuner's
    `STEP_STRIDE`); `target` names the target the score is about (a model with two heads reports
    each head's score with its own target and its own round numbers; the tuner of a study of
    one target drops the other's). `target=None` (a model written before targets were named)
    means "the study's target". Which way is better is said per target in `report_metric`.
    """

    def __call__(self, step: int, value: float, *, target: str | None = None) -> None: ...


class NotFittedError(RuntimeError):
    """`predict` or `online` was called before `fit`."""


@dataclass(frozen=True)
class Prediction:
    """Predictions for a list of positions.

    task_proba: float32[n, V], rows sum to 1, columns in vocabulary order (None: no task target)
    delta_us:   float64[n] predicted run length in microseconds (None: no delta target)
    """

    task_proba: np.ndarray | None
    delta_us: np.ndarray | None


class RunRow(NamedTuple):
    """One observed run, as fed to an online predictor after it ends."""

    task: int
    comm: int
    delta_us: float
    end_state: int
    prio: int
    pid: int
    t_ns: int


def row_at(runs: Runs, index: int) -> RunRow:
    """Row `index` (full-trace index) of `runs` as a `RunRow`."""
    i = index - runs.start
    return RunRow(
        int(runs.task[i]),
        int(runs.comm[i]),
        float(runs.delta_us[i]),
        int(runs.end_state[i]),
        int(runs.prio[i]),
        int(runs.pid[i]),
        int(runs.t_ns[i]),
    )


class OnlinePredictor(abc.ABC):
    """Batch-1 streaming predictor: what a scheduler would call at each switch."""

    @abc.abstractmethod
    def predict_next(self) -> tuple[np.ndarray | None, float | None]:
        """Task probabilities (float32[V] or None) and delta_us (or None) of the next run."""

    @abc.abstractmethod
    def update(self, row: RunRow) -> None:
        """Append the run that just ended."""

    def fork(self, shared: dict[int, Any] | None = None) -> OnlinePredictor:
        """An independent stream in this one's state, for one branch of a free run: updates to
        either must never reach the other. The default deep-copies the stream, sharing the
        objects in `shared` (id -> object: the fitted model, which a stream must not change).
        A stream whose state is a few arrays overrides it to copy only those (a free run forks
        at every origin); the conformance rule `fork_is_independent` checks it."""
        return deep_fork(self, shared)


def deep_fork(stream: Any, shared: dict[int, Any] | None = None) -> Any:
    """`OnlinePredictor.fork`'s default: a deep copy sharing `shared` (id -> object)."""
    return copy.deepcopy(stream, dict(shared or {}))


def fork_stream(stream: Any, shared: dict[int, Any] | None = None) -> Any:
    """`stream.fork(shared)`, or `deep_fork` for a stream that does not subclass
    OnlinePredictor and has no `fork` (a submitted class may duck-type the stream)."""
    fork = getattr(stream, "fork", None)
    return fork(shared) if callable(fork) else deep_fork(stream, shared)


class Predictor(abc.ABC):
    """Base class of every model. Subclasses set `name`, `targets` and keyword-only `__init__`."""

    name: ClassVar[str] = ""
    targets: ClassVar[frozenset[str]] = TARGETS
    tags: ClassVar[frozenset[str]] = frozenset()  # a subset of TAGS
    # Rows of history a prediction depends on (None: unbounded). The default `online()` keeps
    # only this many rows, so models with a short context stream cheaply without overriding it.
    context: ClassVar[int | None] = None
    # Whether `fit` trains on the valid rows too (the model card says so).
    trains_on_valid: ClassVar[bool] = False
    # The validation scores a `Reporter` receives, if the model reports any: per target,
    # {target: (name, higher_is_better)}. A plain (name, higher_is_better) (older classes) is
    # taken to describe the score of every target.
    report_metric: ClassVar[dict[str, tuple[str, bool]] | tuple[str, bool] | None] = None
    # Parameters that make a fit quick (few epochs, small nets) for the conformance suite.
    fast_params: ClassVar[dict[str, Any]] = {}

    # -- parameters (scikit-learn's contract) --------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's named parameters; `*args` / `**kwargs` are refused (as scikit-learn
        does), since `get_params` and `clone` could not read such parameters back."""
        if cls.__init__ is object.__init__:
            return []
        params = list(inspect.signature(cls.__init__).parameters.values())
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                stars = "*" if p.kind is p.VAR_POSITIONAL else "**"
                raise TypeError(
                    f"{cls.__name__}.__init__ takes {stars}{p.name}: a Predictor's constructor "
                    "takes named keyword parameters only (README §4); list each one"
                )
        return [p.name for p in params[1:] if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, read back from the attributes of the same names."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Predictor:
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}; its parameters: "
                    f"{', '.join(sorted(valid)) or '(none)'}"
                )
            setattr(self, key, value)
        return self

    def clone(self) -> Predictor:
        """An unfitted copy with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- the protocol ------------------------------------------------------------------------
    @abc.abstractmethod
    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> Predictor:
        """Learn from `train` (rows [0, a)); `valid` (rows [a, b)) follows it directly.

        `targets`: the targets to fit, a non-empty subset of the class's `targets` (None: all
        of them). A model with a separate head per target trains only the asked heads (a tree
        per target, a loss term per target), and `predict` / `online` then return None for a
        target it was not asked to fit; a model with one shared computation may fit
        everything and return every target. `resolve_targets` checks the argument. A class
        whose `fit` has no `targets` parameter is still accepted: the harness and the tuner
        pass it only where `accepts_targets` says so, and otherwise fit every target.
        """

    @abc.abstractmethod
    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        """Predict each position `p` (full-trace row index) from rows `< p` of `runs` only."""

    def online(self, history: Runs) -> OnlinePredictor:
        """A streaming predictor primed with `history`. Default: re-predict over a buffer."""
        self.check_fitted()
        return BufferedOnline(self, history)

    def forecast(self, runs: Runs, origins: np.ndarray, horizon: int) -> Forecast:
        """The next `horizon` tasks and run lengths from each origin, from rows `< origin` only
        (the horizon track). Default: the free run of `online()` (`free_run`); a model may
        override it (a direct multi-step head, a beam search), and its card says so."""
        return free_run(self, runs, origins, horizon)

    @classmethod
    def search_space(cls, trial: Any, target: str | None = None) -> dict[str, Any]:
        """Hyperparameters for an Optuna trial of a study of `target` (None: a model fitted on
        all its targets): suggest only the parameters that matter for that target. The default
        model has nothing to tune. A class whose `search_space` takes only `trial` is still
        tuned (`search_space_for`)."""
        return {}

    # -- helpers for subclasses --------------------------------------------------------------
    def check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted: call fit(train, valid=valid) before "
                "predict() or online()"
            )

    def check_positions(self, runs: Runs, positions: np.ndarray) -> np.ndarray:
        """Positions as int64 full-trace indices, each with its history inside `runs`."""
        self.check_fitted()
        positions = np.asarray(positions, dtype=np.int64)
        if positions.ndim != 1:
            raise ValueError(f"positions must be one-dimensional, got shape {positions.shape}")
        if len(positions) and (
            positions.min() < runs.start or positions.max() > runs.start + len(runs)
        ):
            raise IndexError(
                f"positions must lie in [{runs.start}, {runs.start + len(runs)}] for these runs; "
                f"got [{positions.min()}, {positions.max()}]"
            )
        return positions


def check_fit_input(model: Predictor, train: Runs, minimum: int) -> None:
    """A too-short training trace is a clear error, not a crash deep inside a library."""
    if len(train) < minimum:
        raise ValueError(
            f"{type(model).__name__} needs at least {minimum} training runs, got {len(train)} "
            f"(trace {train.name!r}); use a longer trace or a shorter context"
        )


def accepts_targets(model: Predictor | type[Predictor]) -> bool:
    """Whether `fit` takes `targets` (a submitted class written before it may not)."""
    cls = model if isinstance(model, type) else type(model)
    params = inspect.signature(cls.fit).parameters.values()
    return any(p.name == "targets" or p.kind is p.VAR_KEYWORD for p in params)


def resolve_targets(model: Predictor, targets: Iterable[str] | None) -> frozenset[str]:
    """The targets a `fit(..., targets=targets)` must fit: all of the class's for None, else
    the given ones, which must be a non-empty subset of them (else a ValueError)."""
    declared = frozenset(type(model).targets)
    if targets is None:
        return declared
    asked = frozenset([targets] if isinstance(targets, str) else targets)
    if not asked or not asked <= declared:
        raise ValueError(
            f"{type(model).__name__}.fit(targets={sorted(asked)}): give a non-empty subset of "
            f"its targets {sorted(declared)} (or None for all)"
        )
    return asked


def only_targets(pred: Prediction, targets: frozenset[str]) -> Prediction:
    """`pred` with None for every target outside `targets` (those not fitted)."""
    return Prediction(
        pred.task_proba if TASK in targets else None, pred.delta_us if DELTA in targets else None
    )


def search_space_for(cls: type[Predictor], trial: Any, target: str | None) -> dict[str, Any]:
    """`cls.search_space(trial, target)`, or `cls.search_space(trial)` for a class whose
    `search_space` takes only the trial (written before targets were passed)."""
    params = list(inspect.signature(cls.search_space).parameters.values())
    if any(p.name == "target" for p in params):
        return cls.search_space(trial, target=target)
    if len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params):
        return cls.search_space(trial, target)
    return cls.search_space(trial)


class BufferedOnline(OnlinePredictor):
    """Default streaming: keep the last `model.context` rows (all rows if unbounded) and call
    `model.predict` for the next position. Correct for every model; fast only for short contexts.
    """

    def __init__(self, model: Predictor, history: Runs) -> None:
        self.model = model
        self.keep = model.context
        self.runs = history if self.keep is None else _tail(history, self.keep)
        self._pending: list[RunRow] = []

    def predict_next(self) -> tuple[np.ndarray | None, float | None]:
        self._flush()
        end = self.runs.start + len(self.runs)
        pred = self.model.predict(self.runs, np.array([end]))
        proba = None if pred.task_proba is None else pred.task_proba[0]
        delta = None if pred.delta_us is None else float(pred.delta_us[0])
        return proba, delta

    def update(self, row: RunRow) -> None:
        self._pending.append(row)

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = self._pending
        self._pending = []
        fields = {name: np.array([getattr(r, name) for r in rows]) for name in RunRow._fields}
        grown = replace(
            self.runs,
            **{
                name: np.concatenate(
                    [getattr(self.runs, name), fields[name].astype(getattr(self.runs, name).dtype)]
                )
                for name in RunRow._fields
            },
        )
        self.runs = grown if self.keep is None else _tail(grown, self.keep)


def _tail(runs: Runs, keep: int) -> Runs:
    end = runs.start + len(runs)
    return runs.rows(max(runs.start, end - keep), end)


def free_run(model: Predictor, runs: Runs, origins: np.ndarray, horizon: int) -> Forecast:
    """The paper's free run (its Figures 7-11): the default `Predictor.forecast`.

    One stream `model.online(rows before the first origin)` is advanced with the true rows up
    to each origin; there a fork (`OnlinePredictor.fork`, sharing the model and its fitted
    attributes, which a stream must not change) calls `predict_next()` H times, feeding back a
    row of its top-1 task and predicted delta (without a delta head: the task's last run
    length; without a task head, e.g. arima: the last true task, and `Forecast.task` is None).
    The other fields come from rows before the origin (`LastRuns`); t_ns = the previous row's
    t_ns plus its run length (t_ns is when a run starts). Origins: see `check_origins`.
    """
    origins = check_origins(runs, origins, horizon)
    n, name = len(origins), type(model).__name__
    task = np.zeros((n, horizon), dtype=np.int64)
    delta = np.zeros((n, horizon), dtype=np.float64)
    if n == 0:
        return Forecast(origins, horizon, task, delta)
    last = LastRuns(runs)
    stream = model.online(runs.rows(runs.start, int(origins[0])))
    last.advance(int(origins[0]))
    shared = {id(model): model, **{id(v): v for v in getattr(model, "__dict__", {}).values()}}
    heads: set[tuple[bool, bool]] = set()
    for k, origin in enumerate(origins.tolist()):
        for i in range(last.stop, origin):
            stream.update(row_at(runs, i))
        last.advance(origin)
        fork = fork_stream(stream, shared)
        prev = row_at(runs, origin - 1)
        t_ns, prev_delta = prev.t_ns, prev.delta_us
        for h in range(horizon):
            proba, predicted = fork.predict_next()
            heads.add((proba is not None, predicted is not None))
            if proba is None and predicted is None:
                raise ValueError(f"{name}: predict_next gave neither a task nor a delta")
            nxt = prev.task if proba is None else int(np.argmax(proba))
            fed = float(last.field(nxt, "delta_us") if predicted is None else predicted)
            if not math.isfinite(fed * 1000.0):  # fed back as a time in ns: 1e308 us is none
                raise ValueError(
                    f"{name} predicted delta_us={fed} from origin {origin}: not a run length "
                    "a free run can feed back"
                )
            t_ns += round(prev_delta * 1000.0)
            task[k, h], delta[k, h], prev_delta = nxt, fed, fed
            if h + 1 < horizon:
                fork.update(RunRow(*last.row_fields(nxt, fed, t_ns)))
    if len(heads) > 1:
        raise ValueError(f"{name} predicted a task or a delta at some steps and None at others")
    has_task, has_delta = heads.pop() if heads else (True, True)
    return Forecast(origins, horizon, task if has_task else None, delta if has_delta else None)
