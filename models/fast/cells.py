"""Recurrent cells, compiled: the online step of the lstm, gru and kernel_oracle_lstm models.

A step is one numba call: the run's input projection (rows of precomputed tables: the
embeddings or the one-hot columns times the first layer's input weights, plus the numeric
columns), one matrix-vector product per layer and gate block in the weights' own precision
(float32, or float64 for kernel_oracle_lstm's `inference_dtype="float64"`), the gates, and the
heads. Matrix products accumulate in the weights' dtype with the inner loop over contiguous
output columns (vectorised by LLVM); gates and heads are computed in float64 and stored back
in the weights' dtype, so the state drifts from PyTorch's batch pass only by float32 rounding
(the conformance suite's online = batch check, tolerance 1e-4, holds over 3,000 steps).

Everything a network needs lives in two arrays: `weights` (the tables and matrices, then the
state h, c and scratch, in the weights' dtype) and `meta` (int64 offsets and sizes, plus the
float64 scalars of the input and output scaling, stored bit for bit). `Packer` builds both.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# meta slots shared by both networks
LSTM, LAYERS, HIDDEN, N_TASKS, N_COMMS, N_ENDS, TABLE_TASK, TABLE_COMM, TABLE_END = range(9)
W_DELTA, W_PRIO, B_FIRST, W_HEAD, B_HEAD, W_DZ, GATES, SCRATCH = range(9, 17)
LAYER_BASE = 17  # per layer k: meta[LAYER_BASE + 6 k + j], j = W_IH, B_IH, W_HH, B_HH, H, C
L_W_IH, L_B_IH, L_W_HH, L_B_HH, L_H, L_C = range(6)
TANH_CLAMP = 7.90531110763549805
# float64 scalars (meta.view(float64)) after the layer slots: SCALAR_BASE + j
S_IN_SHIFT, S_IN_SCALE, S_OUT_SHIFT, S_OUT_SCALE, S_B_DZ, S_PRIO_SCALE = range(6)


class Packer:
    """Named arrays laid end to end in one flat array; `offset[name]` says where each starts."""

    def __init__(self, dtype: type) -> None:
        self.dtype = dtype
        self.parts: list[np.ndarray] = []
        self.offset: dict[str, int] = {}
        self.size = 0

    def add(self, name: str, array: np.ndarray) -> int:
        flat = np.ascontiguousarray(array, dtype=self.dtype).ravel()
        self.offset[name] = self.size
        self.parts.append(flat)
        self.size += len(flat)
        return self.offset[name]

    def array(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=self.dtype)


def meta_array(slots: list[int], layers: list[list[int]], scalars: list[float]) -> np.ndarray:
    """int64 meta: the fixed slots, the per-layer slots, then the float64 scalars' bits."""
    ints = np.array(slots + [v for layer in layers for v in layer], dtype=np.int64)
    bits = np.array(scalars, dtype=np.float64).view(np.int64)
    return np.concatenate([ints, bits])


def pack_network(
    *,
    lstm: bool,
    dtype: type,
    n_tasks: int,
    tables: list[np.ndarray],
    w_delta: np.ndarray,
    w_prio: np.ndarray | None,
    b_first: np.ndarray,
    layers: list[dict[str, np.ndarray | None]],
    w_head: np.ndarray,
    b_head: np.ndarray,
    w_dz: np.ndarray | None,
    scalars: tuple[float, float, float, float, float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """(meta, weights) of a stacked network for `rnn_step` / `oracle_step`.

    tables: the first layer's input projection per task, comm and end state (rows of
    n_gates; comm and end may be empty); layers: per layer `w_ih` (hidden x n_gates, None for
    the first), `b_ih`, `w_hh` (hidden x n_gates), `b_hh`, and the state `h`, `c`; w_head
    (hidden x outputs); scalars: input shift and scale, output shift and scale, the delta
    head's bias, the priority scale.
    """
    hs = len(layers[0]["h"])
    n_gates = (4 if lstm else 3) * hs
    pack = Packer(dtype)
    table_at = [pack.add(name, t) for name, t in zip(("task", "comm", "end"), tables, strict=True)]
    at = {
        "w_delta": pack.add("w_delta", w_delta),
        "w_prio": pack.add("w_prio", np.zeros(n_gates) if w_prio is None else w_prio),
        "b_first": pack.add("b_first", b_first),
        "w_head": pack.add("w_head", w_head),
        "b_head": pack.add("b_head", b_head),
        "w_dz": pack.add("w_dz", np.zeros(hs) if w_dz is None else w_dz),
        "gates": pack.add("gates", np.zeros(n_gates)),
        "scratch": pack.add("scratch", np.zeros(max(n_gates, len(b_head)))),
    }
    layer_slots = []
    for k, layer in enumerate(layers):
        slots = []
        for name in ("w_ih", "b_ih", "w_hh", "b_hh", "h", "c"):
            value = layer.get(name)
            slots.append(pack.add(f"{name}{k}", np.zeros(0) if value is None else value))
        layer_slots.append(slots)
    slots = [
        int(lstm),
        len(layers),
        hs,
        n_tasks,
        len(tables[1]) if len(tables[1]) else 1,
        len(tables[2]) if len(tables[2]) else 1,
        *table_at,
        *at.values(),
    ]
    return meta_array(slots, layer_slots, list(scalars)), pack.array()


@njit(cache=True, error_model="numpy")
def _matvec(weights, x_at, n_in, w_at, n_out, out_at):
    """weights[out_at : out_at + n_out] += x @ W, W (n_in, n_out) row-major at `w_at`.

    Through views, not offsets into `weights`: LLVM then vectorizes the inner loop (8x
    faster here than the same loop over `weights[out_at + j]`)."""
    out = weights[out_at : out_at + n_out]
    x = weights[x_at : x_at + n_in]
    for i in range(n_in):
        xi = x[i]
        row = weights[w_at + i * n_out : w_at + (i + 1) * n_out]
        for j in range(n_out):
            out[j] += xi * row[j]


@njit(inline="always")
def _tanh(x):
    """tanh as Eigen's float32 rational approximation (clamped to +-7.905, numerator of
    degree 13, denominator 6), evaluated in float64: within 2.7e-7 of tanh everywhere
    (tested), branch-free, so LLVM vectorizes a loop of them; the C library's tanh costs
    ~30 ns a call, a tenth of a microsecond per hidden unit."""
    x = min(max(x, -TANH_CLAMP), TANH_CLAMP)
    x2 = x * x
    p = -2.76076847742355e-16 * x2 + 2.00018790482477e-13
    p = p * x2 - 8.60467152213735e-11
    p = p * x2 + 5.12229709037114e-08
    p = p * x2 + 1.48572235717979e-05
    p = p * x2 + 6.37261928875436e-04
    p = (p * x2 + 4.89352455891786e-03) * x
    q = 1.19825839466702e-06 * x2 + 1.18534705686654e-04
    q = q * x2 + 2.26843463243900e-03
    q = q * x2 + 4.89352518554385e-03
    return p / q


@njit(inline="always")
def _sigmoid(x):
    return 0.5 + 0.5 * _tanh(0.5 * x)


@njit(cache=True, error_model="numpy")
def _layers(meta, weights):
    """Run every layer once on the first layer's input projection, in weights[GATES]."""
    lstm, layers, hs = meta[LSTM], meta[LAYERS], meta[HIDDEN]
    gates, scratch = meta[GATES], meta[SCRATCH]
    n_gates = (4 if lstm else 3) * hs
    for k in range(layers):
        lk = LAYER_BASE + 6 * k
        h_at, c_at = meta[lk + L_H], meta[lk + L_C]
        if k:  # input: the layer below's new h
            for j in range(n_gates):
                weights[gates + j] = weights[meta[lk + L_B_IH] + j]
            _matvec(weights, meta[lk - 6 + L_H], hs, meta[lk + L_W_IH], n_gates, gates)
        for j in range(n_gates):
            weights[scratch + j] = 0.0
        _matvec(weights, h_at, hs, meta[lk + L_W_HH], n_gates, scratch)
        g = weights[gates : gates + n_gates]
        u = weights[scratch : scratch + n_gates]
        h = weights[h_at : h_at + hs]
        if lstm:  # gates i, f, g, o; both biases are in B_IH
            c = weights[c_at : c_at + hs]
            for j in range(hs):
                i_ = _sigmoid(float(g[j]) + float(u[j]))
                f_ = _sigmoid(float(g[hs + j]) + float(u[hs + j]))
                g_ = _tanh(float(g[2 * hs + j]) + float(u[2 * hs + j]))
                o_ = _sigmoid(float(g[3 * hs + j]) + float(u[3 * hs + j]))
                c[j] = f_ * float(c[j]) + i_ * g_
                h[j] = o_ * _tanh(float(c[j]))
        else:  # gates r, z, n; the hidden bias is added to the hidden product
            b = weights[meta[lk + L_B_HH] : meta[lk + L_B_HH] + n_gates]
            for j in range(hs):
                r = _sigmoid(float(g[j]) + float(u[j]) + float(b[j]))
                z = _sigmoid(float(g[hs + j]) + float(u[hs + j]) + float(b[hs + j]))
                n = _tanh(float(g[2 * hs + j]) + r * (float(u[2 * hs + j]) + float(b[2 * hs + j])))
                h[j] = n + z * (float(h[j]) - n)


@njit(cache=True, error_model="numpy")
def rnn_emit(meta, weights, out):
    """RNNPredictor's heads on the top layer's h: softmax task probabilities into `out`
    (float32), and the returned delta (mean + std * the standardized head, clipped at 0)."""
    scalars = meta.view(np.float64)
    base = LAYER_BASE + 6 * meta[LAYERS]
    hs, n_tasks = meta[HIDDEN], meta[N_TASKS]
    top = meta[base - 6 + L_H]
    logits = meta[SCRATCH]
    for j in range(n_tasks):
        weights[logits + j] = weights[meta[B_HEAD] + j]
    _matvec(weights, top, hs, meta[W_HEAD], n_tasks, logits)
    peak = -math.inf
    for j in range(n_tasks):
        peak = max(peak, float(weights[logits + j]))
    total = 0.0
    for j in range(n_tasks):
        e = math.exp(float(weights[logits + j]) - peak)
        out[j] = e
        total += e
    for j in range(n_tasks):
        out[j] = out[j] / total
    dz = 0.0
    for i in range(hs):
        dz += float(weights[top + i]) * float(weights[meta[W_DZ] + i])
    dz += scalars[base + S_B_DZ]
    return max(scalars[base + S_OUT_SHIFT] + scalars[base + S_OUT_SCALE] * dz, 0.0)


@njit(cache=True, error_model="numpy")
def rnn_step(meta, weights, out, task, comm, delta_us, end_state, prio):
    """One RNNPredictor step: the run's embeddings and numeric inputs, every layer, the heads.
    Returns the next delta; the next task probabilities are in `out`."""
    scalars = meta.view(np.float64)
    base = LAYER_BASE + 6 * meta[LAYERS]
    n_gates = (4 if meta[LSTM] else 3) * meta[HIDDEN]
    dz = (math.log1p(max(delta_us, 0.0)) - scalars[base + S_IN_SHIFT]) / scalars[base + S_IN_SCALE]
    p = prio / scalars[base + S_PRIO_SCALE] if prio >= 0 else -1.0
    comm = min(max(comm, 0), meta[N_COMMS] - 1)
    gates = meta[GATES]
    t_task = meta[TABLE_TASK] + task * n_gates
    t_comm = meta[TABLE_COMM] + comm * n_gates
    t_end = meta[TABLE_END] + end_state * n_gates
    for j in range(n_gates):
        weights[gates + j] = (
            float(weights[t_task + j])
            + float(weights[t_comm + j])
            + float(weights[t_end + j])
            + float(weights[meta[W_DELTA] + j]) * dz
            + float(weights[meta[W_PRIO] + j]) * p
            + float(weights[meta[B_FIRST] + j])
        )
    _layers(meta, weights)
    return rnn_emit(meta, weights, out)


@njit(cache=True, error_model="numpy")
def oracle_emit(meta, weights, out):
    """kernel_oracle_lstm's head on the top h: the one-hot part clipped at 0 and normalized
    (uniform if all zero) into `out`; returns the inverse-scaled delta part, clipped at 0."""
    scalars = meta.view(np.float64)
    base = LAYER_BASE + 6 * meta[LAYERS]
    hs, n_tasks = meta[HIDDEN], meta[N_TASKS]
    top = meta[base - 6 + L_H]
    w_head, b_head = meta[W_HEAD], meta[B_HEAD]
    total = 0.0
    delta_part = 0.0
    for j in range(n_tasks + 1):  # column 0: the delta; 1..: the tasks (float64, as _head)
        v = 0.0
        for i in range(hs):
            v += float(weights[top + i]) * float(weights[w_head + i * (n_tasks + 1) + j])
        v += float(weights[b_head + j])
        if j == 0:
            delta_part = v
        else:
            v = max(v, 0.0)
            out[j - 1] = v
            total += v
    for j in range(n_tasks):
        out[j] = out[j] / total if total > 0 else 1.0 / n_tasks
    return max(scalars[base + S_OUT_SHIFT] + delta_part * scalars[base + S_OUT_SCALE], 0.0)


@njit(cache=True, error_model="numpy")
def oracle_step(meta, weights, out, task, delta_us):
    """One kernel_oracle_lstm step: the row [scaled delta, one-hot task] through both cells,
    then the head. Returns the next delta; the next task probabilities are in `out`."""
    scalars = meta.view(np.float64)
    base = LAYER_BASE + 6 * meta[LAYERS]
    n_gates = 4 * meta[HIDDEN]
    x0 = (delta_us - scalars[base + S_IN_SHIFT]) / scalars[base + S_IN_SCALE]
    gates = meta[GATES]
    t_task = meta[TABLE_TASK] + task * n_gates
    for j in range(n_gates):
        weights[gates + j] = (
            float(weights[t_task + j])
            + float(weights[meta[W_DELTA] + j]) * x0
            + float(weights[meta[B_FIRST] + j])
        )
    _layers(meta, weights)
    return oracle_emit(meta, weights, out)


@njit(cache=True, error_model="numpy")
def gru_layer_scan(gi, w_hh, b_hn, out):
    """One nn.GRU layer over a chunk of runs, for the batch pass (`rnn_inference.GRUScan`).

    gi float32[n, 3 hs]: the chunk's input projections with both r/z biases (r and z parts
    pre-scaled by 0.5); w_hh float32[hs, 3 hs] (all of it pre-scaled by 0.5); b_hn float32[hs]
    (0.5 times the n gate's hidden bias); out float32[n + 1, hs] with out[0] the entry state:
    row t + 1 is written with the state after run t. Same algebra as GRUScan's numpy loop
        a = tanh(gi_rz + gh_rz);  n = tanh(gi_n + (1 + a_r) (gh_n + b_hn))
        h' = 0.5 (h + n) + 0.5 a_z (h - n)
    with the matrix-vector product accumulated in float32 over contiguous columns, as
    `_matvec`, and tanh as `_tanh` (within 2.7e-7): one compiled call per chunk instead of a
    dozen numpy calls per run."""
    n, hs = gi.shape[0], w_hh.shape[0]
    gh = np.empty(3 * hs, dtype=np.float32)
    for t in range(n):
        h = out[t]
        gh[:] = 0.0
        for i in range(hs):
            hi = h[i]
            row = w_hh[i]
            for j in range(3 * hs):
                gh[j] += hi * row[j]
        g = gi[t]
        nxt = out[t + 1]
        for j in range(hs):
            a_r = _tanh(float(g[j]) + float(gh[j]))
            a_z = _tanh(float(g[hs + j]) + float(gh[hs + j]))
            hidden_n = float(gh[2 * hs + j]) + float(b_hn[j])
            gate = _tanh(float(g[2 * hs + j]) + (1.0 + a_r) * hidden_n)
            hj = float(h[j])
            nxt[j] = 0.5 * (hj + gate) + 0.5 * a_z * (hj - gate)
