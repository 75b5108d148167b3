"""The RNN's network and inference paths (models/rnn.py): `_Net` (embeddings, the recurrent
layers, the two heads), the numpy GRU scan that `predict` uses at batch 1, and the compiled
batch-1 online predictor (models/fast/cells.py).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.data.dataset import END_STATES, Runs
from benchmark.running.protocol import RunRow
from models.fast.cells import gru_layer_scan, pack_network, rnn_emit, rnn_step
from models.fast.online import WARM_UP_ROW, CompiledStream, compiled_entry

PRIO_SCALE = 140.0  # kernel priorities lie in [0, 140); -1 marks an unknown priority


class _Net(nn.Module):
    """Embeddings + numeric inputs -> nn.LSTM / nn.GRU -> task logits and standardized delta."""

    def __init__(
        self,
        *,
        cell: str,
        n_tasks: int,
        n_comms: int,
        hidden_size: int,
        num_layers: int,
        task_dim: int,
        comm_dim: int,
        end_dim: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.task_emb = nn.Embedding(n_tasks, task_dim)
        self.comm_emb = nn.Embedding(n_comms, comm_dim)
        self.end_emb = nn.Embedding(len(END_STATES), end_dim)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(
            task_dim + comm_dim + end_dim + 2,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.task_head = nn.Linear(hidden_size, n_tasks)
        self.delta_head = nn.Linear(hidden_size, 1)

    def embed(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat(
            [self.task_emb(x["task"]), self.comm_emb(x["comm"]), self.end_emb(x["end"]), x["num"]],
            dim=-1,
        )

    def heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.drop(h)
        return self.task_head(h), self.delta_head(h).squeeze(-1)


def _take(x: dict[str, torch.Tensor], index: Any) -> dict[str, torch.Tensor]:
    return {k: v[index] for k, v in x.items()}


class GRUScan:
    """nn.GRU's forward at batch 1, layer by layer over a chunk of runs.

    Each layer's input projection is one matrix product over the whole chunk; the recurrence
    is one compiled call per chunk and layer (`models.fast.cells.gru_layer_scan`: a
    matrix-vector product and the gates per run; the numpy loop it replaced cost about 3x). The
    sigmoid is written 0.5 * (1 + tanh(x / 2)), so the weights of the r and z gates (and the
    n gate's hidden part) are pre-scaled by 0.5:
        a = tanh(0.5 * (gi_rz + gh_rz));  r = (1 + a_r) / 2;  z = (1 + a_z) / 2
        n = tanh(gi_n + r * gh_n);        h' = n + z * (h - n) = 0.5 * (h + n) + 0.5 * a_z * (h - n)
    """

    def __init__(self, net: nn.Module) -> None:
        rnn = net.rnn
        self.layers = rnn.num_layers
        self.hs = hs = rnn.hidden_size
        self.w_in, self.b_in, self.w_hh, self.b_hn = [], [], [], []
        scale = np.r_[np.full(2 * hs, 0.5), np.ones(hs)]
        for k in range(self.layers):
            w_ih = getattr(rnn, f"weight_ih_l{k}").detach().double().numpy()
            w_hh = getattr(rnn, f"weight_hh_l{k}").detach().double().numpy()
            b_ih = getattr(rnn, f"bias_ih_l{k}").detach().double().numpy()
            b_hh = getattr(rnn, f"bias_hh_l{k}").detach().double().numpy()
            b_in = b_ih.copy()
            b_in[: 2 * hs] += b_hh[: 2 * hs]
            self.w_in.append((w_ih * scale[:, None]).T.astype(np.float32).copy())
            self.b_in.append((b_in * scale).astype(np.float32))
            self.w_hh.append((0.5 * w_hh).T.astype(np.float32).copy())
            self.b_hn.append((0.5 * b_hh[2 * hs :]).astype(np.float32))

    def __call__(
        self, x: np.ndarray, state: list[np.ndarray] | None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        hs = self.hs
        state = state or [np.zeros(hs, dtype=np.float32) for _ in range(self.layers)]
        new_state = []
        for k in range(self.layers):
            gi = np.ascontiguousarray(x @ self.w_in[k] + self.b_in[k], dtype=np.float32)
            out = np.empty((len(x) + 1, hs), dtype=np.float32)
            out[0] = state[k]
            gru_layer_scan(gi, self.w_hh[k], self.b_hn[k], out)
            x = out[1:]
            new_state.append(out[-1].copy())
        return x, new_state


class RNNOnline(CompiledStream):
    """Batch-1 streaming, compiled (models/fast/cells.py): one numba call per `update` runs
    the cell step of every layer and both heads on the fitted weights (float32).

    The first layer's input projection is precomputed per task / comm / end_state, so a step is
    a few table look-ups, one matrix-vector product per layer and the two heads.
    """

    state_arrays = ("weights", "proba")  # a step writes these

    def __init__(self, model: Any, history: Runs) -> None:  # a fitted RNNPredictor
        net = model.net_
        sd = {k: v.detach().double().numpy() for k, v in net.state_dict().items()}
        lstm = model.cell == "lstm"
        w0 = sd["rnn.weight_ih_l0"]
        dt, dc, de = model.task_dim, model.comm_dim, model.end_dim
        _, final = model._hidden_at(history, np.zeros(0, dtype=np.int64), len(history))
        layers = []
        for k in range(model.num_layers):
            b_ih, b_hh = sd[f"rnn.bias_ih_l{k}"], sd[f"rnn.bias_hh_l{k}"]
            h, c = final[k]
            layers.append(
                {
                    "w_ih": sd[f"rnn.weight_ih_l{k}"].T if k else None,
                    "b_ih": b_ih + b_hh if lstm else b_ih,  # the LSTM adds both before its gates
                    "w_hh": sd[f"rnn.weight_hh_l{k}"].T,
                    "b_hh": b_hh,
                    "h": h,
                    "c": np.zeros_like(h) if c is None else c,
                }
            )
        t0 = time.perf_counter()  # compile_s: packing the weights, compiling the step
        self.meta, self.weights = pack_network(
            lstm=lstm,
            dtype=np.float32,
            n_tasks=model.n_tasks_,
            tables=[
                sd["task_emb.weight"] @ w0[:, :dt].T,
                sd["comm_emb.weight"] @ w0[:, dt : dt + dc].T,
                sd["end_emb.weight"] @ w0[:, dt + dc : dt + dc + de].T,
            ],
            w_delta=w0[:, -2],
            w_prio=w0[:, -1],
            b_first=layers[0]["b_ih"],
            layers=layers,
            w_head=sd["task_head.weight"].T,
            b_head=sd["task_head.bias"],
            w_dz=sd["delta_head.weight"][0],
            scalars=(
                model.log_mean_,
                model.log_std_,
                model.delta_mean_,
                model.delta_std_,
                float(sd["delta_head.bias"][0]),
                PRIO_SCALE,
            ),
        )
        self.proba = np.zeros(model.n_tasks_, dtype=np.float32)
        # compile (or load the cached kernel) now, on copies, outside any timing
        self.step = compiled_entry(
            rnn_step, self.meta, self.weights.copy(), self.proba.copy(), *WARM_UP_ROW[:5]
        )
        # a target the model was not fitted on is None (`fit(..., targets=...)`)
        self.task, self.delta = (t in model.fitted_targets_ for t in ("task", "delta"))
        self.next = self._emit(rnn_emit(self.meta, self.weights, self.proba))
        self.compile_s = time.perf_counter() - t0
        # the compiled path's memory: its state and model arrays
        self.state_bytes = int(self.meta.nbytes + self.weights.nbytes + self.proba.nbytes)

    def _emit(self, delta: float) -> tuple[np.ndarray | None, float | None]:
        return (self.proba if self.task else None), (delta if self.delta else None)

    def predict_next(self) -> tuple[np.ndarray | None, float | None]:
        """The next run's task probabilities (an array reused by the next `update`: copy it
        to keep it) and delta."""
        return self.next

    def update(self, row: RunRow) -> None:
        delta = self.step(
            self.meta, self.weights, self.proba, row[0], row[1], row[2], row[3], row[4]
        )
        self.next = self._emit(delta)
