"""`decision_tree`: a Negi-style decision tree (Negi and Kishore Kumar, TENCON 2005).

Negi and Kishore Kumar learned C4.5 trees over static and dynamic process attributes to
predict a process's next CPU burst and its scheduling. Here, on the causal features of
`models/features.py` (the last k tasks/comms/end states/run lengths, prio, kernel-thread flags
and per-candidate history), two scikit-learn CART trees:

* task: `DecisionTreeClassifier(criterion="entropy")`, the leaf's class distribution mapped to
  the vocabulary (tasks absent from the training rows get probability 0);
* delta: `DecisionTreeRegressor(criterion="squared_error")` on the raw run length in
  microseconds, so each leaf predicts the mean of its training rows: the L2-optimal constant,
  which is what `mse_z` (an L2 loss on delta / sigma) rewards.

Both are trained on the training rows only (`valid` is not used: tuning scores it);
`fit(..., targets=[t])` grows only the tree of `t`, and `predict` / `online` then return None
for the other target. The card
(models/cards/decision_tree.md) says where CART differs from C4.5.

`online()` is compiled (numba, models/fast/): one call per run updates the streaming features
and walks both fitted `tree_` arrays (`children_left/right`, `feature`, `threshold`) with
scikit-learn's rule, so online equals batch bit for bit; `predict_proba` + `predict` on one row
cost ~230 us for the two trees, mostly input validation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from benchmark.data.dataset import Runs
from benchmark.running.protocol import (
    DELTA,
    TASK,
    OnlinePredictor,
    Prediction,
    Predictor,
    Reporter,
    RunRow,
    check_fit_input,
    only_targets,
    resolve_targets,
)
from models.fast.online import WARM_UP_ROW, CompiledStream, compiled_entry
from models.fast.stream import FeatureStream
from models.fast.trees import Forest, tree_leaves, tree_step
from models.features import ClassMap, FeatureBuilder, feature_search_space

MIN_TRAIN_RUNS = 10


class NegiDecisionTree(Predictor):
    """C4.5-style trees (entropy splits) for the next task and the next run length."""

    name = "decision_tree"
    trains_on_valid = False
    fast_params: ClassVar[dict[str, Any]] = {"k": 2, "top_m": 4, "window": 16, "max_depth": 8}

    def __init__(
        self,
        *,
        k: int = 4,
        top_m: int = 8,
        window: int = 64,
        max_classes: int = 16,
        max_depth: int | None = 16,
        min_samples_leaf: int = 20,
        ccp_alpha: float = 0.0,
        delta_min_samples_leaf: int = 200,
        follow: tuple[int, ...] = (),
    ) -> None:
        self.k = k
        self.top_m = top_m
        self.window = window
        self.max_classes = max_classes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.ccp_alpha = ccp_alpha
        self.delta_min_samples_leaf = delta_min_samples_leaf
        self.follow = follow

    @classmethod
    def search_space(cls, trial: Any, target: str | None = None) -> dict[str, Any]:
        """The features and max_depth (both trees); min_samples_leaf and ccp_alpha only in a
        task study (the classifier's), delta_min_samples_leaf only in a delta study."""
        out = {
            **feature_search_space(trial, target),
            "max_depth": trial.suggest_int("max_depth", 4, 40, log=True),
        }
        if target != DELTA:
            out["min_samples_leaf"] = trial.suggest_int("min_samples_leaf", 1, 200, log=True)
            out["ccp_alpha"] = trial.suggest_float("ccp_alpha", 1e-7, 1e-3, log=True)
        if target != TASK:
            out["delta_min_samples_leaf"] = trial.suggest_int(
                "delta_min_samples_leaf", 5, 1000, log=True
            )
        return out

    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> NegiDecisionTree:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        fitting = resolve_targets(self, targets)
        check_fit_input(self, train, MIN_TRAIN_RUNS)
        self.fitted_targets_ = fitting
        self.features_ = FeatureBuilder.fit(
            train, k=self.k, top_m=self.top_m, window=self.window, follow=self.follow
        )
        rows, task_ids, delta = self._targets(train, valid, seed, fitting)
        positions = np.arange(rows.start + 1, rows.start + len(rows))
        x = self.features_.transform(rows, positions)
        self.classifier_ = self.regressor_ = None
        self.node_proba_ = np.zeros((0, train.n_tasks), dtype=np.float32)
        self.node_delta_ = np.zeros(0, dtype=np.float64)
        if TASK in fitting:
            self.classes_map_ = ClassMap.fit(task_ids, train.n_tasks, self.max_classes)
            task = self.classes_map_.labels(task_ids)
            self.classifier_ = DecisionTreeClassifier(
                criterion="entropy",
                max_depth=self.max_depth,
                min_samples_leaf=self.min_samples_leaf,
                ccp_alpha=self.ccp_alpha,
                random_state=seed,
            ).fit(x, task)
            # Leaf distributions in vocabulary order (rows sum to 1), one row per tree node.
            value = self.classifier_.tree_.value[:, 0, :].astype(np.float64)
            value /= value.sum(axis=1, keepdims=True)
            self.node_proba_ = self.classes_map_.to_vocabulary(value, self.classifier_.classes_)
        if DELTA in fitting:
            self.regressor_ = DecisionTreeRegressor(
                criterion="squared_error",
                max_depth=self.max_depth,
                min_samples_leaf=self.delta_min_samples_leaf,
                random_state=seed,
            ).fit(x, delta)
            self.node_delta_ = self.regressor_.tree_.value[:, 0, 0].astype(np.float64).copy()
        self.fitted_ = True
        return self

    def _targets(
        self, train: Runs, valid: Runs | None, seed: int, targets: frozenset[str]
    ) -> tuple[Runs, np.ndarray, np.ndarray]:
        """The rows the trees learn from and, for each row after the first, its task id and
        delta target (those of a target outside `targets` are not used): here the training
        rows' own (a distilled tree overrides this)."""
        return train, train.task[1:], np.asarray(train.delta_us[1:], dtype=np.float64)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        x = self.features_.transform(runs, positions)
        if len(positions) == 0:
            empty = Prediction(
                np.zeros((0, runs.n_tasks), dtype=np.float32), np.zeros(0, dtype=np.float64)
            )
            return only_targets(empty, self.fitted_targets_)
        clf, reg = self.classifier_, self.regressor_
        return Prediction(
            task_proba=None if clf is None else self.node_proba_[clf.apply(x)],
            delta_us=None if reg is None else self.node_delta_[reg.apply(x)],
        )

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        return _TreeOnline(self, history)

    def online_forest(self) -> Forest:
        """Both fitted trees as one flat forest (classifier tree 0, regressor tree 1), built
        once per fitted model and kept as `online_forest_`. After a single-target fit the one
        tree stands in both places (the compiled step walks two); the stream ignores the copy."""
        self.check_fitted()
        if getattr(self, "online_forest_", None) is None:
            clf, reg = self.classifier_, self.regressor_
            self.online_forest_ = Forest.concat(
                [
                    Forest.from_sklearn(clf if clf is not None else reg),
                    Forest.from_sklearn(reg if reg is not None else clf),
                ]
            )
        return self.online_forest_


class _TreeOnline(CompiledStream):
    """Compiled streaming: one numba call per `update` appends the run and walks both trees
    (models/fast/trees.py); `predict_next` returns the leaves' stored rows."""

    state_arrays = ("ints", "floats")  # a step writes these

    def __init__(self, model: NegiDecisionTree, history: Runs) -> None:
        stream = FeatureStream(model.features_, history)
        t0 = time.perf_counter()  # compile_s: flattening the trees (once per model), compiling
        stream.attach(*model.online_forest().pack(model.features_.n_features))
        table = model.node_proba_.copy()
        table.flags.writeable = False
        # leaf ids are forest-wide: tree 1's follow tree 0's node ids; a target that was not
        # fitted reads None (its tree's place is held by the other target's tree)
        forest = model.online_forest()
        n_first, n_second = int(forest.roots[1]), len(forest.feature) - int(forest.roots[1])
        # read-only views, one per node
        self.rows: list[Any] = list(table) if model.classifier_ is not None else [None] * n_first
        self.deltas: list[Any] = [math.nan] * n_first + (
            model.node_delta_.tolist() if model.regressor_ is not None else [None] * n_second
        )
        # compile (or load the cached kernel) now, on copies, outside any timing
        self.step = compiled_entry(
            tree_step, stream.ints.copy(), stream.floats.copy(), *WARM_UP_ROW[:5], WARM_UP_ROW.t_ns
        )
        self.ints, self.floats = stream.ints, stream.floats
        c, d = tree_leaves(self.ints, self.floats)
        self.next = self.rows[c], self.deltas[d]
        self.compile_s = time.perf_counter() - t0
        # the compiled path's memory: its state and model arrays
        self.state_bytes = int(self.ints.nbytes + self.floats.nbytes)

    def predict_next(self) -> tuple[np.ndarray | None, float | None]:
        return self.next

    def update(self, row: RunRow) -> None:
        c, d = self.step(self.ints, self.floats, row[0], row[1], row[2], row[3], row[4], row[6])
        self.next = self.rows[c], self.deltas[d]
