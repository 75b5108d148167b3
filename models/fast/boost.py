"""LightGBM's prediction, compiled: the lightgbm model's online step in one numba call.

The fitted boosters' trees (`Booster.dump_model()`, the rounds kept by early stopping) become
one packed `Forest`: the classifier's trees first, in LightGBM's order (round by round, class
by class), then the regressor's. A step appends the run to the streaming features, rounds the
row to float32 and shifts the categorical columns by one (as `_shift_categorical`), sums the
leaf values of each class's trees in round order starting from 0.0, applies LightGBM's
softmax (or sigmoid for two classes) and gathers the class probabilities into vocabulary order
as `ClassMap.to_vocabulary` does: the same operations in the same order as LightGBM's C++
predictor, so online equals `Booster.predict` to the last bit or nearly (tests check 1e-12).

The model part of the state (`FeatureStream.attach`):

* ints: n_raw (raw scores of the classifier: its classes, 1 for a binary one, 0 for none),
  n_class_trees, n_tasks, n_categorical, n_classes + 1, then the vocabulary -> class column table
  (`source`), the categorical columns, then the packed forest;
* floats: the padded class probabilities (n_classes + 1, the last one 0), the vocabulary
  weights, then the packed forest (whose float32 row the step fills).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from models.fast.stream import MODEL_FLOATS, MODEL_INTS, N_FEATURES, advance
from models.fast.trees import Forest, forest_leaves, forest_row

HEAD = 5  # n_raw, n_class_trees, n_tasks, n_categorical, n_classes + 1


def pack(
    forest: Forest,
    *,
    n_raw: int,
    n_class_trees: int,
    n_classes: int,
    source: np.ndarray,
    weight: np.ndarray,
    categorical: list[int],
    n_features: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The model part of a lightgbm online state (layout in the module docstring)."""
    forest_ints, forest_floats = forest.pack(n_features)
    ints = np.concatenate(
        [
            [n_raw, n_class_trees, len(source), len(categorical), n_classes + 1],
            source,
            categorical,
            forest_ints,
        ]
    )
    padded = np.zeros(n_classes + 1)
    if n_raw == 0:
        padded[0] = 1.0  # a single class: probability 1
    floats = np.concatenate([padded, weight, forest_floats])
    return ints.astype(np.int64), floats


@njit(cache=True)
def boost_step(ints, floats, out, task, comm, delta_us, end_state, prio, t_ns):
    """One lightgbm step: append the run, then `boost_predict`."""
    advance(ints, floats, task, comm, delta_us, end_state, prio, t_ns)
    return boost_predict(ints, floats, out)


@njit(cache=True)
def boost_predict(ints, floats, out):
    """Write the next position's task probabilities (float32, vocabulary order) into `out`
    and return its delta, from the current feature row."""
    mi, padded_at = ints[MODEL_INTS], ints[MODEL_FLOATS]
    n_raw, n_class_trees, n_tasks, n_cat = ints[mi], ints[mi + 1], ints[mi + 2], ints[mi + 3]
    weight_at = padded_at + ints[mi + 4]
    source_at = mi + HEAD
    forest_i, forest_f = source_at + n_tasks + n_cat, weight_at + n_tasks
    row = forest_row(ints, floats, forest_i, forest_f)
    for j in range(ints[N_FEATURES]):
        row[j] = floats[j]
    for c in range(n_cat):  # as _shift_categorical: ids + 1
        col = ints[source_at + n_tasks + c]
        row[col] = row[col] + np.float32(1.0)
    leaf = forest_leaves(ints, floats, forest_i, forest_f)
    if n_raw > 0:
        raw = floats[padded_at : padded_at + n_raw]
        raw[:] = 0.0
        for t in range(n_class_trees):
            raw[t % n_raw] += floats[forest_f + leaf[t]]
        if n_raw == 1:  # binary: LightGBM's sigmoid, then (1 - p, p)
            p1 = 1.0 / (1.0 + math.exp(-raw[0]))
            floats[padded_at] = 1.0 - p1
            floats[padded_at + 1] = p1
        else:  # LightGBM's softmax
            top = raw[0]
            for k in range(1, n_raw):
                top = max(top, raw[k])
            total = 0.0
            for k in range(n_raw):
                raw[k] = math.exp(raw[k] - top)
                total += raw[k]
            for k in range(n_raw):
                raw[k] /= total
    for v in range(n_tasks):
        out[v] = np.float32(floats[padded_at + ints[source_at + v]] * floats[weight_at + v])
    delta = 0.0
    for t in range(n_class_trees, leaf.size):
        delta += floats[forest_f + leaf[t]]
    return delta
