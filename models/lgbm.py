"""`lightgbm`: gradient-boosted trees (LightGBM) on the features of `models/features.py`.

* task: `LGBMClassifier` (multiclass softmax, multi_logloss) over the `max_classes` most
  frequent training tasks plus one residual class standing for every other task; the residual
  class's probability is spread over the other vocabulary tasks in proportion to their
  training frequency (tasks absent from the training rows get 0). One tree per class per round
  makes the cost linear in the class count: the cap keeps fit and single-row latency bounded on
  traces with 100+ tasks, and the residual class keeps the rows summing to 1.
* delta: `LGBMRegressor` with the L2 objective on the raw run length in microseconds.
  `mse_z` is L2 on delta / sigma_us with one sigma per trace, so the L2 optimum on raw
  microseconds is the `mse_z` optimum; the early-stopping metric (valid l2) is `mse_z` times
  sigma^2.

Both are built for the scheduler's budget (p50 <= 5 us a step): trees of depth <= `max_depth`
(6) and at most `max_trees` (128) trees walked per step per booster, so a classifier with C
classes boosts at most 128 // C rounds (`_capped`); both bounds are defaults, not tuned. 256
trees measured 4.8-4.9 us p50 in a fast phase of this machine kind and 7.3-7.4 us in a slow
one (`kernel-oracle perf`), no margin for the 5 us; 128 measured 3.4 us in a fast phase.

Both fit on the training rows and early-stop on the valid rows (`valid` rows are never fitted),
`n_jobs` = the CPUs this process may run on, `deterministic=True`, `force_row_wise=True` and
the seed as LightGBM's `seed`: the same seed gives the same model. Without valid rows, they run
`n_estimators` rounds.

`fit(..., targets=[t])` fits only the booster of `t` (the classifier for task, the regressor for
delta), and `predict` / `online` return None for the other target. `report(round, score,
target=t)` (Optuna pruning) gets, per classifier round (from 0), the valid multi_logloss with
target "task" and, per regressor round (from 0), the valid mse_z with target "delta"; both are
lower-is-better, and the tuner keeps the reports of its study's target only.

`online()` is compiled (numba, models/fast/boost.py): the kept trees of both boosters, from
`Booster.dump_model()`, become flat arrays, and one call per run updates the streaming features,
walks every tree with LightGBM's decision rules and applies its softmax, in the C++ predictor's
order of operations (online equals `Booster.predict`; tests check it). `Booster.predict` on one
row costs ~100s of microseconds of per-call Python and thread set-up.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from benchmark.core.threads import threads_per_run
from benchmark.data.dataset import Runs
from benchmark.running.protocol import (
    DELTA,
    TASK,
    BufferedOnline,
    OnlinePredictor,
    Prediction,
    Predictor,
    Reporter,
    RunRow,
    check_fit_input,
    only_targets,
    resolve_targets,
)
from models.fast.boost import boost_predict, boost_step, pack
from models.fast.online import WARM_UP_ROW, CompiledStream, compiled_entry
from models.fast.stream import FeatureStream
from models.fast.trees import Forest
from models.features import ClassMap, FeatureBuilder, feature_search_space

MIN_TRAIN_RUNS = 10
# the scheduler's budget (README "Latency"): a step walks at most this many trees per booster,
# none deeper than this; measured at p50 <= 5 us with the feature stream (`kernel-oracle perf`)
BUDGET_MAX_DEPTH = 6
BUDGET_MAX_TREES = 128
# parameters that only one booster reads (the others: the features and both boosters)
TASK_ONLY = ("n_estimators", "num_leaves")
DELTA_ONLY = ("delta_n_estimators", "delta_num_leaves")


class LightGBM(Predictor):
    """LGBMClassifier (next task) and LGBMRegressor (next run length, L2 on microseconds)."""

    name = "lightgbm"
    trains_on_valid = False  # valid rows only early-stop the boosting
    report_metric: ClassVar[dict[str, tuple[str, bool]]] = {
        TASK: ("valid multi_logloss per classifier round", False),
        DELTA: ("valid mse_z per regressor round", False),
    }
    fast_params: ClassVar[dict[str, Any]] = {
        "k": 2,
        "top_m": 4,
        "window": 16,
        "n_estimators": 20,
        "num_leaves": 7,
        "max_classes": 8,
    }

    def __init__(
        self,
        *,
        k: int = 4,
        top_m: int = 8,
        window: int = 64,
        max_classes: int = 12,
        n_estimators: int = 60,
        learning_rate: float = 0.2,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        min_child_weight: float = 10.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        delta_n_estimators: int = 300,
        delta_num_leaves: int = 31,
        max_depth: int = BUDGET_MAX_DEPTH,
        max_trees: int = BUDGET_MAX_TREES,
        early_stopping_rounds: int = 10,
        follow: tuple[int, ...] = (),
    ) -> None:
        self.k = k
        self.top_m = top_m
        self.window = window
        self.max_classes = max_classes
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.delta_n_estimators = delta_n_estimators
        self.delta_num_leaves = delta_num_leaves
        self.max_depth = max_depth
        self.max_trees = max_trees
        self.early_stopping_rounds = early_stopping_rounds
        self.follow = follow

    @classmethod
    def search_space(cls, trial: Any, target: str | None = None) -> dict[str, Any]:
        """A task study samples no regressor-only parameter, a delta study no classifier-only
        one (`TASK_ONLY`, `DELTA_ONLY`); None samples both."""
        out: dict[str, Any] = {**feature_search_space(trial, target)}
        if target != DELTA:
            out["n_estimators"] = trial.suggest_int("n_estimators", 20, 300, log=True)
            out["num_leaves"] = trial.suggest_int("num_leaves", 7, 2**BUDGET_MAX_DEPTH, log=True)
        if target != TASK:
            out["delta_n_estimators"] = trial.suggest_int("delta_n_estimators", 50, 1000, log=True)
            out["delta_num_leaves"] = trial.suggest_int(
                "delta_num_leaves", 7, 2**BUDGET_MAX_DEPTH, log=True
            )
        return {
            **out,
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.1, 100.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }

    # -- fit ---------------------------------------------------------------------------------
    def _common(self, seed: int) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1.0 else 0,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "random_state": seed,
            "n_jobs": threads_per_run(),
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }

    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> LightGBM:
        import lightgbm as lgb

        fitting = resolve_targets(self, targets)
        check_fit_input(self, train, MIN_TRAIN_RUNS)
        for label, rounds in (
            ("n_estimators", self.n_estimators),
            ("delta_n_estimators", self.delta_n_estimators),
        ):
            if rounds < 1:
                raise ValueError(f"{label} must be at least 1, got {rounds}")
        self.fitted_targets_ = fitting
        builder = FeatureBuilder.fit(
            train, k=self.k, top_m=self.top_m, window=self.window, follow=self.follow
        )
        self.features_ = builder
        n_tasks = train.n_tasks
        categorical = builder.categorical
        x = builder.transform(train, np.arange(train.start + 1, train.start + len(train)))
        x = _shift_categorical(x, categorical)
        task = train.task[1:].astype(np.int64)
        delta = np.asarray(train.delta_us[1:], dtype=np.float64)
        has_valid = valid is not None and len(valid) > 0
        if has_valid:
            seen = train.concat(valid)
            xv = builder.transform(seen, np.arange(valid.start, valid.start + len(valid)))
            xv = _shift_categorical(xv, categorical)
            task_v = valid.task.astype(np.int64)
            delta_v = np.asarray(valid.delta_us, dtype=np.float64)

        # classes: the most frequent training tasks, then one residual class for the others
        self.classes_map_ = ClassMap.fit(task, n_tasks, self.max_classes)
        y = self.classes_map_.labels(task)
        classes = np.unique(y)
        self.classes_ = classes
        common = self._common(seed)
        sigma2 = float(train.sigma_us) ** 2 or 1.0

        history: dict[str, dict[str, Any]] = {"task": {}, "delta": {}}

        def callbacks(target: str, scale: float, record: dict[str, Any]) -> list[Any]:
            out: list[Any] = [lgb.record_evaluation(record)]
            if has_valid and self.early_stopping_rounds > 0:
                out.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
            if report is not None and has_valid:

                def _report(env: Any) -> None:
                    for _, _, value, _ in env.evaluation_result_list:
                        report(env.iteration, float(value) / scale, target=target)
                        break

                _report.order = 5  # type: ignore[attr-defined]  # before early stopping
                out.append(_report)
            return out

        if len(classes) == 1 or TASK not in fitting:
            self.classifier_ = None  # a single class: constant prediction (or no task head)
        else:
            eval_args: dict[str, Any] = {}
            if has_valid:
                yv = self.classes_map_.labels(task_v)
                keep = np.isin(yv, classes)  # valid tasks never seen in training can't score
                if keep.any():
                    eval_args = _eval_args(lgb, xv[keep], yv[keep])
            per_round = len(classes) if len(classes) > 2 else 1
            rounds = {"n_estimators": _capped(self.n_estimators, per_round, self.max_trees)}
            self.classifier_ = lgb.LGBMClassifier(
                objective="multiclass" if len(classes) > 2 else "binary", **{**common, **rounds}
            ).fit(
                x,
                y,
                categorical_feature=categorical,
                callbacks=callbacks(TASK, 1.0, history["task"]) if eval_args else [],
                **eval_args,
            )
        delta_params = {
            **common,
            "n_estimators": _capped(self.delta_n_estimators, 1, self.max_trees),
            "num_leaves": self.delta_num_leaves,
        }
        self.regressor_ = None
        if DELTA in fitting:
            self.regressor_ = lgb.LGBMRegressor(objective="regression", **delta_params).fit(
                x,
                delta,
                categorical_feature=categorical,
                callbacks=callbacks(DELTA, sigma2, history["delta"]) if has_valid else [],
                **(_eval_args(lgb, xv, delta_v) if has_valid else {}),
            )
        self.training_curve_ = _curve(history, sigma2)
        self.fitted_ = True
        return self

    # -- predict -----------------------------------------------------------------------------
    def _best(self, model: Any) -> int:
        best = getattr(model, "best_iteration_", None)
        return int(best) if best else int(model.n_estimators)

    def _vocabulary_proba(self, class_proba: np.ndarray) -> np.ndarray:
        return self.classes_map_.to_vocabulary(class_proba, self.classes_)

    def _class_proba(self, x: np.ndarray) -> np.ndarray:
        if self.classifier_ is None:
            return np.ones((len(x), 1), dtype=np.float64)
        booster = self.classifier_.booster_
        raw = booster.predict(x, num_iteration=self._best(self.classifier_))
        return raw.reshape(len(x), -1) if len(self.classes_) > 2 else _binary(raw)

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        x = _shift_categorical(
            self.features_.transform(runs, positions), self.features_.categorical
        )
        fitted = self.fitted_targets_
        if len(positions) == 0:
            empty = Prediction(
                np.zeros((0, runs.n_tasks), dtype=np.float32), np.zeros(0, dtype=np.float64)
            )
            return only_targets(empty, fitted)
        delta = None
        if DELTA in fitted:
            raw = self.regressor_.booster_.predict(x, num_iteration=self._best(self.regressor_))
            # the L2 regressor can go below 0 on rare rows; a run length cannot
            delta = np.maximum(np.asarray(raw, dtype=np.float64), 0.0)
        return Prediction(
            task_proba=self._vocabulary_proba(self._class_proba(x)) if TASK in fitted else None,
            delta_us=delta,
        )

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        if self.classifier_ is None and self.regressor_ is None:  # no tree to compile
            return BufferedOnline(self, history)
        return _LightGBMOnline(self, history)

    def online_forest(self) -> tuple[Forest, int]:
        """The kept trees of both boosters as one flat forest, the classifier's first, and
        how many are the classifier's; built once per fitted model (`online_forest_`)."""
        self.check_fitted()
        if getattr(self, "online_forest_", None) is None:
            parts = []
            if self.classifier_ is not None:
                parts.append(
                    Forest.from_lightgbm(self.classifier_.booster_, self._best(self.classifier_))
                )
            regressor = self.regressor_
            if regressor is not None:
                parts.append(Forest.from_lightgbm(regressor.booster_, self._best(regressor)))
            n_class_trees = parts[0].n_trees if self.classifier_ is not None else 0
            self.online_forest_ = (Forest.concat(parts), n_class_trees)
        return self.online_forest_


def _curve(history: dict[str, dict[str, Any]], sigma2: float) -> dict[str, list[Any]] | None:
    """Per-round valid scores for the figures: task multi_logloss, delta mse_z (None where one
    booster had stopped)."""
    series = {}
    for target, name, scale in (
        ("task", "valid_task_logloss", 1.0),
        ("delta", "valid_delta_mse_z", sigma2),
    ):
        for values in history[target].values():  # the one eval set
            for scores in values.values():  # its one metric
                series[name] = [float(v) / scale for v in scores]
    if not series:
        return None
    rounds = max(len(v) for v in series.values())
    curve: dict[str, list[Any]] = {"round": list(range(1, rounds + 1))}
    for name, values in series.items():
        curve[name] = values + [None] * (rounds - len(values))
    return curve


def _capped(rounds: int, trees_per_round: int, max_trees: int) -> int:
    """Boosting rounds within the latency cap: a step walks `trees_per_round` trees per round
    (one per class, or one), at most `max_trees` of them (0: no cap); at least one round."""
    if max_trees <= 0:
        return rounds
    return max(1, min(rounds, max_trees // trees_per_round))


def _shift_categorical(x: np.ndarray, columns: list[int]) -> np.ndarray:
    """LightGBM input: the id columns shifted by one, so that "before the slice start" (-1)
    becomes category 0 rather than a negative value (which LightGBM maps to missing, with a
    warning printed from every OpenMP thread)."""
    x = x.copy()
    x[:, columns] += 1.0
    return x


def _eval_args(lgb: Any, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The validation set in the form this LightGBM's sklearn API takes (4.6 renamed it)."""
    import inspect

    if "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters:
        return {"eval_X": (x,), "eval_y": (y,)}
    return {"eval_set": [(x, y)]}


def _binary(p1: np.ndarray) -> np.ndarray:
    p1 = np.asarray(p1, dtype=np.float64)
    return np.stack([1.0 - p1, p1], axis=1)


class _LightGBMOnline(CompiledStream):
    """Compiled streaming: one numba call per `update` appends the run, walks every kept tree
    of both boosters and writes the next probabilities and delta (models/fast/boost.py)."""

    state_arrays = ("ints", "floats", "proba")  # a step writes these

    def __init__(self, model: LightGBM, history: Runs) -> None:
        builder = model.features_
        stream = FeatureStream(builder, history)
        t0 = time.perf_counter()  # compile_s: flattening the trees (once per model), compiling
        n_classes = len(model.classes_)
        clf = model.classifier_
        n_raw = 0 if clf is None else n_classes if n_classes > 2 else 1
        forest, n_class_trees = model.online_forest()
        # class probabilities padded with a zero column, gathered into vocabulary order exactly
        # as ClassMap.to_vocabulary does for the batch path
        source, weight = model.classes_map_._gather(
            tuple(np.asarray(model.classes_, dtype=np.int64).tolist())
        )
        stream.attach(
            *pack(
                forest,
                n_raw=n_raw,
                n_class_trees=n_class_trees,
                n_classes=n_classes,
                source=source,
                weight=weight,
                categorical=builder.categorical,
                n_features=builder.n_features,
            )
        )
        self.proba = np.zeros(len(source), dtype=np.float32)
        # compile (or load the cached kernel) now, on copies, outside any timing
        self.step = compiled_entry(
            boost_step, stream.ints.copy(), stream.floats.copy(), self.proba.copy(),
            *WARM_UP_ROW[:5], WARM_UP_ROW.t_ns,
        )  # fmt: skip
        self.ints, self.floats = stream.ints, stream.floats
        self.task, self.delta = (t in model.fitted_targets_ for t in (TASK, DELTA))
        self.next = self._emit(boost_predict(self.ints, self.floats, self.proba))
        self.compile_s = time.perf_counter() - t0
        # the compiled path's memory: its state and model arrays
        self.state_bytes = int(self.ints.nbytes + self.floats.nbytes + self.proba.nbytes)

    def _emit(self, delta: float) -> tuple[np.ndarray | None, float | None]:
        """The next prediction, None for a target the model was not fitted on."""
        return (self.proba if self.task else None), (max(delta, 0.0) if self.delta else None)

    def predict_next(self) -> tuple[np.ndarray | None, float | None]:
        return self.next

    def update(self, row: RunRow) -> None:
        delta = self.step(
            self.ints, self.floats, self.proba, row[0], row[1], row[2], row[3], row[4], row[6]
        )
        self.next = self._emit(delta)
