"""Fitted decision trees as flat arrays, and the compiled walk over all of them at once.

A `Forest` holds any number of trees, from scikit-learn (`tree_.children_left/right`,
`feature`, `threshold`) or from LightGBM (`Booster.dump_model()`), node by node: leaves are
nodes that point to themselves, so a leaf id is a node id (scikit-learn's `apply` numbering for
its trees, offset by the trees before). `pack` lays it out for `forest_leaves`, which walks
`LANES` trees in lockstep, branch-free, their current nodes in registers: each level of each
lane is `node = child[node][x[feature] > threshold]`, so the trees' independent paths overlap
in the CPU instead of waiting on one another and no branch is mispredicted. Trees are walked
deepest first, each group for its deepest tree's depth (a leaf points to itself). On the
lightgbm model of mixed (818 trees) a plain one-tree-at-a-time walk cost ~75 us a row, a
16-lane lockstep over a lane array ~15 us, the register lanes ~10 us (~1.7 ns a node-step).
The trees left over after the whole groups (all of decision_tree's two) are walked one at a
time, each stopping at its leaf: a lockstep group walked decision_tree's two trees of depth 16
as eight lanes. With the direct kernel call (`models/fast/online.py`) its step went from 1.60
to 1.46 us (p50, `perf`'s method, both checkouts in one sitting).

Exactness. The row is float32 and scikit-learn and LightGBM both compare its value, promoted
to float64, with a float64 threshold: for a float32 `x`, `x <= t` exactly when `x <= t32`, `t32`
being the largest float32 not above `t`, so the lockstep walk keeps float32 thresholds rounded
down. Splits that need more than `<=` are decided first, into an extra 0/1 column per split
that the node then splits at 0.5: LightGBM's categorical splits on ids below 63 by one row of a
per-feature decision table (a copy of a few floats per feature instead of one bit test per
split: 927 splits cost ~5 us by bit tests), the others (larger ids, as 32-bit bitsets, and
missing-value routing for `missing_type` Zero or NaN) each by LightGBM's `CategoricalDecision` /
`NumericalDecision` rule. The rows given are never NaN (the streaming features are
finite), so LightGBM's "NaN reads as 0" for plain numerical splits never applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from models.fast.stream import MODEL_FLOATS, MODEL_INTS, N_FEATURES, advance

LANES = 8  # trees walked in lockstep (the unrolled lanes of `_walk_group`)
CATEGORICAL, DEFAULT_LEFT, MISSING_ZERO, MISSING_NAN = 1, 2, 4, 8
ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold
# header of a packed forest (int64 slots)
N_TREES, N_NODES, N_GROUPS, N_TABLES, N_GENERAL, N_WORDS, N_COLUMNS, N_PADDED = range(8)
FOREST_HEADER = 8


@dataclass
class Forest:
    """Trees node by node (see the module docstring); `flags` 0 is a plain `x <= threshold`."""

    feature: np.ndarray  # int64[N], -1 at leaves
    threshold: np.ndarray  # float64[N]
    left: np.ndarray  # int64[N], a leaf points to itself
    right: np.ndarray  # int64[N]
    flags: np.ndarray  # int64[N]: CATEGORICAL, DEFAULT_LEFT, MISSING_ZERO, MISSING_NAN
    categories: list[list[int]]  # per node: the categories that go left (categorical splits)
    value: np.ndarray  # float64[N]: leaf outputs (LightGBM; 0 for scikit-learn)
    roots: np.ndarray  # int64[T]

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @classmethod
    def concat(cls, forests: list[Forest]) -> Forest:
        """One forest holding the trees of several, in order (node ids move)."""
        at = np.cumsum([0] + [len(f.feature) for f in forests])
        return cls(
            np.concatenate([f.feature for f in forests]),
            np.concatenate([f.threshold for f in forests]),
            np.concatenate([f.left + a for f, a in zip(forests, at, strict=False)]),
            np.concatenate([f.right + a for f, a in zip(forests, at, strict=False)]),
            np.concatenate([f.flags for f in forests]),
            [c for f in forests for c in f.categories],
            np.concatenate([f.value for f in forests]),
            np.concatenate([f.roots + a for f, a in zip(forests, at, strict=False)]),
        )

    @classmethod
    def from_sklearn(cls, estimator: Any) -> Forest:
        """A fitted scikit-learn tree; its leaf ids are scikit-learn's node ids."""
        t = estimator.tree_
        n = t.node_count
        own = np.arange(n, dtype=np.int64)
        leaf = t.children_left < 0
        return cls(
            np.where(leaf, -1, t.feature).astype(np.int64),
            t.threshold.astype(np.float64),
            np.where(leaf, own, t.children_left).astype(np.int64),
            np.where(leaf, own, t.children_right).astype(np.int64),
            np.zeros(n, dtype=np.int64),
            [[] for _ in range(n)],
            np.zeros(n),
            np.zeros(1, dtype=np.int64),
        )

    @classmethod
    def from_lightgbm(cls, booster: Any, num_iteration: int) -> Forest:
        """The first `num_iteration` rounds of a LightGBM booster, trees in LightGBM's order
        (round by round, class by class)."""
        dump = booster.dump_model(num_iteration=num_iteration)
        return cls.concat([_lightgbm_tree(info["tree_structure"]) for info in dump["tree_info"]])

    def depths(self) -> np.ndarray:
        """int64[T]: each tree's depth (edges from the root to its deepest leaf)."""
        out = np.zeros(self.n_trees, dtype=np.int64)
        left, right = self.left.tolist(), self.right.tolist()
        for t, root in enumerate(self.roots.tolist()):
            stack = [(root, 0)]
            while stack:
                node, depth = stack.pop()
                if left[node] == node:
                    out[t] = max(out[t], depth)
                else:
                    stack += [(left[node], depth + 1), (right[node], depth + 1)]
        return out

    def pack(self, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        """The forest as one int64 and one float64 array, for rows of `n_features` columns.

        ints: the header (`FOREST_HEADER` slots), the leaf per tree (scratch, padded to whole
        lane groups), per table group (the categorical splits of one feature whose categories
        are all < 63) its feature, split count, first column and table offset; then an int32
        region: per node (feature, float32 threshold bits, left, right), per lane (in walking
        order, deepest trees first) its root and the leaf slot it fills, each lane group's
        depth, per general split (feature, flags, first and end bitset word), the 32-bit
        bitset words.
        floats: leaf values, the general splits' float64 thresholds, then a float32 region:
        the row (`n_features` columns, then one 0/1 column per special split, table splits
        first) and the tables (per group, 64 rows of its splits' 0/1 decisions: one row per
        category 0..62 and one for any other value).
        """
        n, t = len(self.feature), self.n_trees
        special = np.flatnonzero(self.flags != 0)
        in_table = np.array(
            [self.flags[i] == CATEGORICAL and max(self.categories[i]) < 63 for i in special],
            dtype=bool,
        )
        table = special[in_table][np.argsort(self.feature[special[in_table]], kind="stable")]
        general = special[~in_table]
        special = np.concatenate([table, general])
        groups, tables = [], []
        for f in np.unique(self.feature[table]):
            members = table[self.feature[table] == f]
            decide = np.ones((64, len(members)), dtype=np.float32)  # 1: right
            for j, node in enumerate(members):
                decide[self.categories[node], j] = 0.0
            first = n_features + int(np.flatnonzero(table == members[0])[0])
            groups.append([f, len(members), first, sum(x.size for x in tables)])
            tables.append(decide.ravel())
        words, lo, hi = [], [], []
        for node in general:
            cats = self.categories[node]
            bits = np.zeros(max(cats, default=-1) // 32 + 1, dtype=np.int64)
            for c in cats:
                bits[c >> 5] |= 1 << (c & 31)
            lo.append(len(words))
            words += bits.tolist()
            hi.append(len(words))
        depths = self.depths()
        order = np.argsort(-depths, kind="stable")
        padded = -(-t // LANES) * LANES
        slots = np.concatenate([order, np.arange(t, padded)])  # padding lanes fill spare slots
        roots = self.roots[np.concatenate([order, np.repeat(order[-1:], padded - t)])]
        lane_depth = depths[order][::LANES]  # each group's first tree is its deepest
        feature = np.where(self.feature < 0, 0, self.feature)
        feature[special] = n_features + np.arange(len(special))
        threshold = _round_down_f32(self.threshold)
        threshold[self.feature < 0] = np.inf  # a leaf: left, to itself
        threshold[special] = 0.5
        record = np.stack(
            [feature, threshold.view(np.int32).astype(np.int64), self.left, self.right], axis=1
        )
        region = np.concatenate(
            [
                record.ravel(),
                roots,
                slots,
                lane_depth,
                np.stack([self.feature[general], self.flags[general], lo, hi], axis=1).ravel(),
                np.array(words, dtype=np.int64),
            ]
        ).astype(np.int64)
        columns = n_features + len(special)
        header = [t, n, len(lane_depth), len(groups), len(general), len(words), columns, padded]
        ints = np.concatenate(
            [
                np.array(header, dtype=np.int64),
                np.zeros(padded, dtype=np.int64),
                np.array(groups, dtype=np.int64).ravel(),
                _as_int64(region.astype(np.uint32).view(np.int32)),
            ]
        )
        row_and_tables = np.concatenate([np.zeros(columns, dtype=np.float32), *tables])
        floats = np.concatenate([self.value, self.threshold[general], _as_float64(row_and_tables)])
        return ints, floats


def _round_down_f32(t: np.ndarray) -> np.ndarray:
    """float32[n]: the largest float32 not above each float64 threshold."""
    near = t.astype(np.float32)
    above = near.astype(np.float64) > t
    near[above] = np.nextafter(near[above], np.float32(-np.inf))
    return near


def _as_int64(region: np.ndarray) -> np.ndarray:
    """An int32 array padded to whole int64 words, as int64 (its bytes unchanged)."""
    return np.concatenate([region, np.zeros(len(region) % 2, dtype=np.int32)]).view(np.int64)


def _as_float64(region: np.ndarray) -> np.ndarray:
    return np.concatenate([region, np.zeros(len(region) % 2, dtype=np.float32)]).view(np.float64)


def _lightgbm_tree(root: dict[str, Any]) -> Forest:
    """One tree of `dump_model()`: internal nodes by `split_index`, then leaves by
    `leaf_index`."""
    internal, leaves = [], []
    stack = [root]
    while stack:
        node = stack.pop()
        if "split_index" in node:
            internal.append(node)
            stack += [node["left_child"], node["right_child"]]
        else:
            leaves.append(node)
    n_internal = len(internal)
    n = n_internal + len(leaves)

    def node_id(node: dict[str, Any]) -> int:
        if "split_index" in node:
            return node["split_index"]
        return n_internal + node.get("leaf_index", 0)

    own = np.arange(n, dtype=np.int64)
    feature, threshold = np.full(n, -1, dtype=np.int64), np.zeros(n)
    left, right, flags = own.copy(), own.copy(), np.zeros(n, dtype=np.int64)
    categories: list[list[int]] = [[] for _ in range(n)]
    value = np.zeros(n)
    for node in leaves:
        value[node_id(node)] = float(node["leaf_value"])
    for node in internal:
        i = node["split_index"]
        feature[i] = node["split_feature"]
        left[i], right[i] = node_id(node["left_child"]), node_id(node["right_child"])
        missing = node["missing_type"]
        if node["decision_type"] == "==":
            flags[i] = CATEGORICAL
            categories[i] = [int(c) for c in str(node["threshold"]).split("||")]
        elif node["decision_type"] == "<=":
            threshold[i] = float(node["threshold"])
            if missing in ("Zero", "NaN"):
                flags[i] = (MISSING_ZERO if missing == "Zero" else MISSING_NAN) | (
                    DEFAULT_LEFT if node["default_left"] else 0
                )
        else:  # pragma: no cover - LightGBM writes only these two
            raise ValueError(f"unknown LightGBM decision type {node['decision_type']!r}")
    return Forest(feature, threshold, left, right, flags, categories, value, np.zeros(1, np.int64))


# -- compiled ----------------------------------------------------------------------------------
@njit(cache=True)
def _decide(v, flags, threshold, words, lo, hi):
    """LightGBM's rule for one split that needs more than `<=`: whether value `v` goes left."""
    if flags & CATEGORICAL:  # NaN and values <= -1 go right; others by their integer part
        if np.isnan(v) or v <= -1.0:
            return False
        iv = int(v)
        word = lo + (iv >> 5)
        return word < hi and (words[word] >> (iv & 31)) & 1 == 1
    if np.isnan(v) and not flags & MISSING_NAN:
        v = 0.0
    if (flags & MISSING_ZERO and abs(v) <= ZERO_THRESHOLD) or (flags & MISSING_NAN and np.isnan(v)):
        return flags & DEFAULT_LEFT != 0
    return v <= threshold


@njit(cache=True)
def forest_row(ints, floats, forest_i, forest_f):
    """The float32 row of the forest packed at `ints[forest_i:]`, `floats[forest_f:]`, for
    the caller to fill (its first `n_features` columns)."""
    n_nodes, n_general = ints[forest_i + N_NODES], ints[forest_i + N_GENERAL]
    at = forest_f + n_nodes + n_general
    return floats[at:].view(np.float32)[: ints[forest_i + N_COLUMNS]]


@njit(inline="always")
def _step(record, record_f, row, node):
    at = 4 * node
    return record[at + 2 + np.int64(row[record[at]] > record_f[at + 1])]


@njit(inline="always")
def _walk_group(record, record_f, row, roots, slots, first, depth, leaf):
    """`LANES` trees in lockstep, their nodes in registers (unrolled by hand: numba keeps
    locals in registers, not a small array)."""
    n0, n1, n2, n3 = roots[first], roots[first + 1], roots[first + 2], roots[first + 3]
    n4, n5, n6, n7 = roots[first + 4], roots[first + 5], roots[first + 6], roots[first + 7]
    for _ in range(depth):
        n0 = _step(record, record_f, row, n0)
        n1 = _step(record, record_f, row, n1)
        n2 = _step(record, record_f, row, n2)
        n3 = _step(record, record_f, row, n3)
        n4 = _step(record, record_f, row, n4)
        n5 = _step(record, record_f, row, n5)
        n6 = _step(record, record_f, row, n6)
        n7 = _step(record, record_f, row, n7)
    leaf[slots[first]], leaf[slots[first + 1]] = n0, n1
    leaf[slots[first + 2]], leaf[slots[first + 3]] = n2, n3
    leaf[slots[first + 4]], leaf[slots[first + 5]] = n4, n5
    leaf[slots[first + 6]], leaf[slots[first + 7]] = n6, n7


@njit(inline="always")
def _walk_one(record, record_f, row, node, depth):
    """One tree, stopping at its leaf: where fewer than `LANES` trees are left, the padding
    lanes of a lockstep group would triple the work (two trees walk 8 lanes of 16 levels)."""
    for _ in range(depth):
        child = _step(record, record_f, row, node)
        if child == node:
            break
        node = child
    return node


@njit(cache=True, error_model="numpy")
def forest_leaves(ints, floats, forest_i, forest_f):
    """Walk every tree for the row in `forest_row`; returns int64[T], the leaf (node id) each
    tree reaches, in tree order (a view into the state: read it before the next call)."""
    h = ints[forest_i : forest_i + FOREST_HEADER]
    n_trees, n_nodes, n_groups = h[N_TREES], h[N_NODES], h[N_GROUPS]
    n_tables, n_general, padded = h[N_TABLES], h[N_GENERAL], h[N_PADDED]
    at = forest_i + FOREST_HEADER
    leaf = ints[at : at + padded]
    groups = ints[at + padded : at + padded + 4 * n_tables]
    region = ints[at + padded + 4 * n_tables :].view(np.int32)
    record = region[: 4 * n_nodes]
    record_f = record.view(np.float32)
    at = 4 * n_nodes
    roots = region[at : at + padded]
    slots = region[at + padded : at + 2 * padded]
    depth = region[at + 2 * padded : at + 2 * padded + n_groups]
    at += 2 * padded + n_groups
    general = region[at : at + 4 * n_general]
    words = region[at + 4 * n_general :]

    row = forest_row(ints, floats, forest_i, forest_f)
    tables = floats[forest_f + n_nodes + n_general :].view(np.float32)[row.size :]
    for g in range(n_tables):  # categorical splits on ids < 63: a row of a decision table
        v = row[groups[4 * g]]
        count, column, table = groups[4 * g + 1], groups[4 * g + 2], groups[4 * g + 3]
        pick = int(v) if v > -1.0 and v < 63.0 else 63
        row[column : column + count] = tables[table + pick * count : table + (pick + 1) * count]
    column = row.size - n_general
    for j in range(n_general):
        g = 4 * j
        go_left = _decide(
            np.float64(row[general[g]]),
            general[g + 1],
            floats[forest_f + n_nodes + j],
            words,
            general[g + 2],
            general[g + 3],
        )
        row[column + j] = 0.0 if go_left else 1.0
    full = n_trees // LANES  # groups of `LANES` real trees; the last may be part padding
    for g in range(full):
        _walk_group(record, record_f, row, roots, slots, g * LANES, depth[g], leaf)
    for lane in range(full * LANES, n_trees):  # a short last group (decision_tree: 2 trees)
        leaf[slots[lane]] = _walk_one(record, record_f, row, roots[lane], depth[full])
    return leaf[:n_trees]


@njit(cache=True)
def apply(x, ints, floats):
    """int64[n, T]: the leaf each row of `x` (float32) reaches in each tree of a forest
    packed alone in `ints`, `floats` (`Forest.pack`)."""
    out = np.empty((x.shape[0], ints[N_TREES]), dtype=np.int64)
    row = forest_row(ints, floats, 0, 0)
    for i in range(x.shape[0]):
        row[: x.shape[1]] = x[i]
        out[i] = forest_leaves(ints, floats, 0, 0)
    return out


@njit(cache=True)
def tree_step(ints, floats, task, comm, delta_us, end_state, prio, t_ns):
    """One decision_tree step: append the run, then `tree_leaves`."""
    advance(ints, floats, task, comm, delta_us, end_state, prio, t_ns)
    return tree_leaves(ints, floats)


@njit(cache=True)
def tree_leaves(ints, floats):
    """The leaves of the next position's row in the classifier (tree 0) and the regressor
    (tree 1): the model part of the state is the packed forest of both."""
    forest_i, forest_f = ints[MODEL_INTS], ints[MODEL_FLOATS]
    row = forest_row(ints, floats, forest_i, forest_f)
    for j in range(ints[N_FEATURES]):
        row[j] = floats[j]
    leaf = forest_leaves(ints, floats, forest_i, forest_f)
    return leaf[0], leaf[1]
