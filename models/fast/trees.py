"""Fitted decision trees as flat arrays, and the compiled walk over them.

One `Forest` holds any number of trees, from scikit-learn (`tree_.children_left/right`,
`feature`, `threshold`) or from LightGBM (`Booster.dump_model()`), in one layout:

* `nodes` int64[n, 6]: left child, right child, feature, flags, and for a categorical split
  the [lo, hi) range of its bitset words in `cat_words`; a child >= 0 is an internal node, a
  child < 0 is the leaf `~child`;
* `threshold` float64[n]: go left when `x[feature] <= threshold` (numerical splits);
* `roots` int64[T]: each tree's root (`~leaf` for a tree that is a single leaf);
* `leaf_value` float64[L]: LightGBM's leaf outputs (scikit-learn leaves are looked up by the
  caller: their leaf id is the node id scikit-learn's `apply` returns).

`walk` applies each library's own rule: scikit-learn's `X <= threshold` on the float32 feature
promoted to float64 (no missing values here), and LightGBM's `NumericalDecision` /
`CategoricalDecision` (missing-value routing, categories as bitsets of the integer value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from models.fast.stream import MODEL_FLOATS, MODEL_INTS, N_FEATURES, advance

LEFT, RIGHT, FEATURE, FLAGS, CAT_LO, CAT_HI = range(6)
CATEGORICAL = 1
DEFAULT_LEFT = 2
MISSING_ZERO = 4
MISSING_NAN = 8
LIGHTGBM_NUMERICAL = 16
ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold


@njit(cache=True)
def descend(ints, floats, x_at, nodes_at, cats_at, threshold_at, node):
    """The leaf id reached from `node` by the row `floats[x_at:]` (float32 values in float64)
    in a packed forest whose nodes, category words and thresholds begin at the given offsets."""
    while node >= 0:
        at = nodes_at + 6 * node
        v = floats[x_at + ints[at + FEATURE]]
        flags = ints[at + FLAGS]
        if flags == 0:
            left = v <= floats[threshold_at + node]
        elif flags & CATEGORICAL:  # NaN and negative values go right
            left = False
            if not np.isnan(v) and v > -1.0:
                iv = int(v)
                word = ints[at + CAT_LO] + (iv >> 5)
                if word < ints[at + CAT_HI]:
                    left = (ints[cats_at + word] >> (iv & 31)) & 1 == 1
        else:  # LightGBM numerical: NaN is 0 unless NaN is its missing type
            if np.isnan(v) and not flags & MISSING_NAN:
                v = 0.0
            if (flags & MISSING_ZERO and abs(v) <= ZERO_THRESHOLD) or (
                flags & MISSING_NAN and np.isnan(v)
            ):
                left = flags & DEFAULT_LEFT != 0
            else:
                left = v <= floats[threshold_at + node]
        node = ints[at + LEFT] if left else ints[at + RIGHT]
    return ~node


@njit(cache=True)
def walk(ints, forest_i, floats, forest_f, x_at, tree):
    """The leaf id of tree `tree` of the forest packed at `ints[forest_i:]`, `floats[forest_f:]`
    for the row at `floats[x_at:]`."""
    n_trees, n_nodes = ints[forest_i], ints[forest_i + 1]
    nodes_at = forest_i + 2 + n_trees
    root = ints[forest_i + 2 + tree]
    return descend(ints, floats, x_at, nodes_at, nodes_at + 6 * n_nodes, forest_f, root)


@dataclass
class Forest:
    """Trees in flat arrays (layout in the module docstring)."""

    nodes: np.ndarray
    threshold: np.ndarray
    cat_words: np.ndarray
    roots: np.ndarray
    leaf_value: np.ndarray

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def pack(self) -> tuple[np.ndarray, np.ndarray]:
        """The forest as one int64 and one float64 array, the form the compiled kernels read:
        ints = [n_trees, n_nodes, roots, nodes (6 per node), category words],
        floats = [thresholds, leaf values]."""
        ints = np.concatenate(
            [[self.n_trees, len(self.nodes)], self.roots, self.nodes.ravel(), self.cat_words]
        )
        return ints.astype(np.int64), np.concatenate([self.threshold, self.leaf_value])

    @classmethod
    def concat(cls, forests: list[Forest]) -> Forest:
        """One forest holding the trees of several, in order (node, word and leaf ids move)."""
        nodes, roots = [], []
        node_at = word_at = leaf_at = 0
        for f in forests:
            n = f.nodes.copy()
            for side in (LEFT, RIGHT):
                internal = n[:, side] >= 0
                n[:, side] = np.where(internal, n[:, side] + node_at, n[:, side] - leaf_at)
            n[:, CAT_LO:] += word_at
            nodes.append(n)
            roots.append(np.where(f.roots >= 0, f.roots + node_at, f.roots - leaf_at))
            node_at += len(f.nodes)
            word_at += len(f.cat_words)
            leaf_at += len(f.leaf_value)
        return cls(
            np.concatenate(nodes).reshape(-1, 6),
            np.concatenate([f.threshold for f in forests]),
            np.concatenate([f.cat_words for f in forests]).astype(np.int64),
            np.concatenate(roots).astype(np.int64),
            np.concatenate([f.leaf_value for f in forests]),
        )

    @classmethod
    def from_sklearn(cls, estimator: Any) -> Forest:
        """A fitted scikit-learn tree; its leaf ids are scikit-learn's node ids."""
        t = estimator.tree_
        left = t.children_left.astype(np.int64)
        right = t.children_right.astype(np.int64)
        is_leaf = left < 0
        nodes = np.zeros((t.node_count, 6), dtype=np.int64)
        # a child that is a leaf is stored as ~(its node id)
        nodes[:, LEFT] = np.where(is_leaf[np.maximum(left, 0)], ~left, left)
        nodes[:, RIGHT] = np.where(is_leaf[np.maximum(right, 0)], ~right, right)
        nodes[:, FEATURE] = np.maximum(t.feature, 0)
        nodes[is_leaf, LEFT:RIGHT + 1] = 0  # never read
        root = ~np.int64(0) if is_leaf[0] else np.int64(0)
        return cls(
            nodes,
            t.threshold.astype(np.float64),
            np.zeros(0, dtype=np.int64),
            np.array([root], dtype=np.int64),
            np.zeros(t.node_count, dtype=np.float64),
        )

    @classmethod
    def from_lightgbm(cls, booster: Any, num_iteration: int) -> Forest:
        """The first `num_iteration` rounds of a LightGBM booster, trees in LightGBM's order
        (round by round, class by class)."""
        dump = booster.dump_model(num_iteration=num_iteration)
        return cls.concat([_lightgbm_tree(info["tree_structure"]) for info in dump["tree_info"]])


def _lightgbm_tree(root: dict[str, Any]) -> Forest:
    """One tree of `dump_model()`: internal nodes by `split_index`, leaves by `leaf_index`."""
    if "leaf_value" in root:  # a single leaf
        return Forest(
            np.zeros((0, 6), dtype=np.int64),
            np.zeros(0),
            np.zeros(0, dtype=np.int64),
            np.array([~0], dtype=np.int64),
            np.array([float(root["leaf_value"])]),
        )
    internal, leaves = [], {}
    stack = [root]
    while stack:
        node = stack.pop()
        if "leaf_index" in node:
            leaves[int(node["leaf_index"])] = float(node["leaf_value"])
        else:
            internal.append(node)
            stack += [node["left_child"], node["right_child"]]
    nodes = np.zeros((len(internal), 6), dtype=np.int64)
    threshold = np.zeros(len(internal))
    words: list[int] = []
    for node in internal:
        i = int(node["split_index"])
        for side, key in ((LEFT, "left_child"), (RIGHT, "right_child")):
            child = node[key]
            nodes[i, side] = ~child["leaf_index"] if "leaf_index" in child else child["split_index"]
        nodes[i, FEATURE] = node["split_feature"]
        missing = node["missing_type"]
        flags = LIGHTGBM_NUMERICAL | (DEFAULT_LEFT if node["default_left"] else 0) | (
            MISSING_ZERO if missing == "Zero" else MISSING_NAN if missing == "NaN" else 0
        )
        if node["decision_type"] == "==":
            cats = [int(c) for c in str(node["threshold"]).split("||")]
            bits = np.zeros(max(cats) // 32 + 1, dtype=np.int64)
            for c in cats:
                bits[c >> 5] |= 1 << (c & 31)
            nodes[i, CAT_LO], nodes[i, CAT_HI] = len(words), len(words) + len(bits)
            words += bits.tolist()
            flags = CATEGORICAL
        elif node["decision_type"] == "<=":
            threshold[i] = float(node["threshold"])
        else:  # pragma: no cover - LightGBM writes only these two
            raise ValueError(f"unknown LightGBM decision type {node['decision_type']!r}")
        nodes[i, FLAGS] = flags
    return Forest(
        nodes,
        threshold,
        np.array(words, dtype=np.int64),
        np.array([0], dtype=np.int64),
        np.array([leaves[j] for j in range(len(leaves))]),
    )


@njit(cache=True)
def apply(x, ints, floats):
    """int64[n, T]: the leaf each row of `x` (float32) reaches in each tree of the forest
    packed in `ints`, `floats` (`Forest.pack`)."""
    n_trees = ints[0]
    out = np.empty((x.shape[0], n_trees), dtype=np.int64)
    row_at = floats.size
    work = np.concatenate((floats, np.zeros(x.shape[1])))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            work[row_at + j] = x[i, j]
        for t in range(n_trees):
            out[i, t] = walk(ints, 0, work, 0, row_at, t)
    return out


@njit(cache=True)
def tree_step(ints, floats, task, comm, delta_us, end_state, prio, t_ns):
    """One decision_tree step: append the run, then the leaves of the next position's row in
    the classifier (tree 0) and the regressor (tree 1). The model part of the state holds the
    float32-rounded row (floats) and the packed forest (ints and floats, after the row)."""
    advance(ints, floats, task, comm, delta_us, end_state, prio, t_ns)
    forest_i, x_at = ints[MODEL_INTS], ints[MODEL_FLOATS]
    n_features = ints[N_FEATURES]
    for j in range(n_features):
        floats[x_at + j] = np.float32(floats[j])
    forest_f = x_at + n_features
    return (
        walk(ints, forest_i, floats, forest_f, x_at, 0),
        walk(ints, forest_i, floats, forest_f, x_at, 1),
    )
