"""LSTM and GRU baselines: one recurrent predictor with `cell="lstm"|"gru"` (as darts does).

`lstm` and `gru` are two registry presets of `RNNPredictor` (models/__init__.py PRESETS): the
cell is a constructor parameter without a default, so a caller that forgets the preset gets a
clear error instead of a silent LSTM (build them with `benchmark.running.registry.build_model`).

Each run (row) enters the network as embeddings of its task, comm and end_state, its run length
(log1p, standardized on the training rows) and its priority (scaled; -1 where unknown). The
recurrent layers carry a hidden state from run to run; two heads read it after row `j - 1`:
a softmax over the task vocabulary (cross-entropy) and the run length of row `j` (squared error
on `(delta_us - mean) / std`, i.e. the network predicts a conditional *mean* in raw
microseconds, which is what `mse_z` rewards; see models/cards/lstm.md).

Training: truncated back-propagation through time over `batch_size` contiguous streams of the
training rows, `window` runs at a time with the state carried (detached) between windows;
Adam; early stopping on the validation loss (`ce + delta_weight * mse` when both heads are
trained). `fit(..., targets=[t])` trains on one head's term only (task: the cross-entropy,
delta: the squared error) and early-stops on that term; `predict` / `online` then return None
for the other target. `report(epoch, loss, target=t)` gets each fitted head's valid loss per
epoch (cross-entropy for task, the standardized squared error for delta). The budget is
counted in rows, not seconds: at most `max_epochs` epochs and `max_rows_seen` training rows
read in all (reproducible fits).
`predict` is one causal pass over the history; `online` carries the state and costs one cell
step per run. The search space keeps the network within the scheduler's budget (a compiled
step of p50 <= 10 us): hidden sizes `BUDGET_HIDDEN_SIZES`, and two layers only up to hidden
size `BUDGET_TWO_LAYERS_UP_TO` (gru at two layers of 64 measured 9.6-10.9 us p50, one layer
of 64 about half).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from benchmark.core.threads import apply_threads
from benchmark.data.dataset import Runs
from benchmark.running.protocol import (
    DELTA,
    TASK,
    OnlinePredictor,
    Prediction,
    Predictor,
    Reporter,
    check_fit_input,
    only_targets,
    resolve_targets,
)
from models.rnn_inference import PRIO_SCALE, GRUScan, RNNOnline, _Net, _take

CELLS = ("lstm", "gru")
PREDICT_CHUNK = 16384  # runs per forward call in predict(): bounds memory on long traces
VALID_SEGMENT = 512  # valid runs scored per parallel stream when computing the valid loss
VALID_BURN_IN = 256  # runs each valid stream reads (unscored) before its segment
# the scheduler's budget (README "Latency"): hidden sizes whose compiled step is p50 <= 10 us
# at one or two layers (`kernel-oracle perf`: 64 ~5 us, 128 ~16 us on the board's machine)
BUDGET_HIDDEN_SIZES = (16, 32, 64)
BUDGET_TWO_LAYERS_UP_TO = 32  # a second layer doubles the step; beyond 32 it leaves the budget


class RNNPredictor(Predictor):
    """A recurrent network over runs, `cell="lstm"` or `"gru"`; predicts task and delta."""

    name = "rnn"
    tags = frozenset({"neural", "stochastic"})
    trains_on_valid = False
    report_metric: ClassVar[dict[str, tuple[str, bool]]] = {
        TASK: ("valid cross-entropy per epoch", False),
        DELTA: ("valid mse of the standardized delta per epoch", False),
    }
    fast_params: ClassVar[dict[str, Any]] = {
        "hidden_size": 16,
        "task_dim": 4,
        "comm_dim": 4,
        "end_dim": 2,
        "window": 32,
        "batch_size": 16,
        "max_epochs": 2,
    }

    def __init__(
        self,
        *,
        cell: str,
        hidden_size: int = 64,
        num_layers: int = 1,
        task_dim: int = 16,
        comm_dim: int = 8,
        end_dim: int = 4,
        window: int = 64,
        batch_size: int = 32,
        lr: float = 1e-2,
        weight_decay: float = 0.0,
        dropout: float = 0.0,
        delta_weight: float = 1.0,
        grad_clip: float = 1.0,
        max_epochs: int = 30,
        patience: int = 3,
        max_rows_seen: int | None = 2_500_000,
    ) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.task_dim = task_dim
        self.comm_dim = comm_dim
        self.end_dim = end_dim
        self.window = window
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.delta_weight = delta_weight
        self.grad_clip = grad_clip
        self.max_epochs = max_epochs
        self.patience = patience
        self.max_rows_seen = max_rows_seen

    @classmethod
    def search_space(cls, trial: Any, target: str | None = None) -> dict[str, Any]:
        """Shared by both heads, but `delta_weight` (the weight of the delta term in the joint
        loss) exists only when both heads are trained (`target` None)."""
        hidden = trial.suggest_categorical("hidden_size", list(BUDGET_HIDDEN_SIZES))
        out = {
            "hidden_size": hidden,
            # a conditional parameter: trials at hidden 64 have one layer and no num_layers
            "num_layers": (
                trial.suggest_int("num_layers", 1, 2) if hidden <= BUDGET_TWO_LAYERS_UP_TO else 1
            ),
            "task_dim": trial.suggest_categorical("task_dim", [8, 16, 32]),
            "comm_dim": trial.suggest_categorical("comm_dim", [4, 8, 16]),
            "end_dim": trial.suggest_categorical("end_dim", [2, 4, 8]),
            "window": trial.suggest_categorical("window", [32, 64, 128, 256]),
            "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
            "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-7, 1e-3, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.4),
        }
        if target is None:
            out["delta_weight"] = trial.suggest_float("delta_weight", 0.1, 10.0, log=True)
        return out

    # -- features ------------------------------------------------------------------------------
    def _features(self, runs: Runs, stop: int | None = None) -> dict[str, torch.Tensor]:
        """Network inputs of local rows [0, stop) of `runs`."""
        stop = len(runs) if stop is None else stop
        delta = runs.delta_us[:stop]
        prio = runs.prio[:stop].astype(np.float32)
        num = np.empty((stop, 2), dtype=np.float32)
        num[:, 0] = (np.log1p(np.maximum(delta, 0.0)) - self.log_mean_) / self.log_std_
        num[:, 1] = np.where(prio >= 0, prio / PRIO_SCALE, -1.0)
        return {
            "task": torch.from_numpy(runs.task[:stop].astype(np.int64)),
            "comm": torch.from_numpy(
                np.clip(runs.comm[:stop], 0, self.n_comms_ - 1).astype(np.int64)
            ),
            "end": torch.from_numpy(runs.end_state[:stop].astype(np.int64)),
            "num": torch.from_numpy(num),
        }

    def _delta_target(self, runs: Runs) -> torch.Tensor:
        z = (runs.delta_us - self.delta_mean_) / self.delta_std_
        return torch.from_numpy(z.astype(np.float32))

    def _check_runs(self, runs: Runs) -> None:
        if runs.n_tasks != self.n_tasks_:
            raise ValueError(
                f"{type(self).__name__} was fitted on a vocabulary of {self.n_tasks_} tasks; "
                f"these runs (trace {runs.name!r}) have {runs.n_tasks}"
            )

    # -- fit -----------------------------------------------------------------------------------
    def fit(
        self,
        train: Runs,
        *,
        valid: Runs | None = None,
        seed: int = 0,
        report: Reporter | None = None,
        targets: Iterable[str] | None = None,
    ) -> RNNPredictor:
        fitting = resolve_targets(self, targets)
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.window < 1 or self.batch_size < 1 or self.max_epochs < 1:
            raise ValueError("window, batch_size and max_epochs must be >= 1")
        check_fit_input(self, train, self.window + 1)
        apply_threads()
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.fitted_targets_ = fitting
        # the weights of the loss terms: a head that is not fitted has none
        w_task = 1.0 if TASK in fitting else 0.0
        w_delta = (self.delta_weight if TASK in fitting else 1.0) if DELTA in fitting else 0.0

        self.n_tasks_ = train.n_tasks
        self.n_comms_ = train.n_comms
        logs = np.log1p(np.maximum(train.delta_us, 0.0))
        self.log_mean_ = float(logs.mean())
        self.log_std_ = float(logs.std()) or 1.0
        self.delta_mean_ = float(train.delta_us.mean())
        self.delta_std_ = float(train.delta_us.std()) or 1.0

        net = _Net(
            cell=self.cell,
            n_tasks=self.n_tasks_,
            n_comms=self.n_comms_,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            task_dim=self.task_dim,
            comm_dim=self.comm_dim,
            end_dim=self.end_dim,
            dropout=self.dropout,
        )
        self.net_ = net
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)

        x = self._features(train)
        next_task = torch.from_numpy(train.task.astype(np.int64))
        next_delta = self._delta_target(train)
        steps = len(train) - 1  # input row i predicts row i + 1
        streams = max(1, min(self.batch_size, steps // self.window))
        length = steps // streams

        curve: dict[str, list[float]] = {
            "epoch": [],
            "train_loss": [],
            "valid_loss": [],
            "valid_ce": [],
            "valid_mse_z": [],
        }
        valid_data = None if valid is None or len(valid) == 0 else self._valid_batch(train, valid)
        best, best_state, bad = math.inf, None, 0
        epochs = self.max_epochs
        if self.max_rows_seen is not None:  # the training budget: rows read, all epochs together
            epochs = max(1, min(epochs, math.ceil(self.max_rows_seen / (streams * length))))
        for epoch in range(epochs):
            net.train()
            offset = int(rng.integers(0, steps - streams * length + 1))
            grid = offset + np.arange(streams)[:, None] * length + np.arange(length)[None, :]
            grid_t = torch.from_numpy(grid)
            state = None
            total, count = 0.0, 0
            for lo in range(0, length, self.window):
                idx = grid_t[:, lo : lo + self.window]
                out, state = net.rnn(net.embed(_take(x, idx)), state)
                state = _detach(state)
                logits, dz = net.heads(out)
                loss = torch.zeros(())
                if w_task:
                    loss = loss + w_task * F.cross_entropy(
                        logits.reshape(-1, self.n_tasks_), next_task[idx + 1].ravel()
                    )
                if w_delta:
                    loss = loss + w_delta * F.mse_loss(dz, next_delta[idx + 1])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.grad_clip:
                    nn.utils.clip_grad_norm_(net.parameters(), self.grad_clip)
                opt.step()
                total += loss.item() * idx.numel()
                count += idx.numel()
            curve["epoch"].append(epoch + 1)
            curve["train_loss"].append(total / count)
            if valid_data is None:
                for key in ("valid_loss", "valid_ce", "valid_mse_z"):
                    curve[key].append(math.nan)
                continue
            ce_v, mse_v = self._valid_loss(*valid_data)
            loss_v = w_task * ce_v + w_delta * mse_v
            curve["valid_loss"].append(loss_v)
            curve["valid_ce"].append(ce_v)
            curve["valid_mse_z"].append(mse_v)
            if report is not None:
                for target, value in ((TASK, ce_v), (DELTA, mse_v)):
                    if target in fitting:
                        report(epoch + 1, value, target=target)
            if loss_v < best - 1e-6:
                best, best_state, bad = loss_v, copy.deepcopy(net.state_dict()), 0
            else:
                bad += 1
                if bad >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
            self.best_epoch_ = curve["epoch"][int(np.nanargmin(curve["valid_loss"]))]
        else:
            self.best_epoch_ = curve["epoch"][-1]
        net.eval()
        self.training_curve_ = curve
        self.fitted_ = True
        return self

    def _valid_batch(
        self, train: Runs, valid: Runs
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
        """Parallel streams over the valid rows, each reading VALID_BURN_IN runs before its
        segment: inputs (S, L), next-task and next-delta targets, and the mask of scored steps."""
        burn = min(VALID_BURN_IN, len(train))
        end = train.start + len(train)
        both = train.rows(end - burn, end).concat(valid)
        x = self._features(both)
        last = len(both) - 2  # the last input row with a target
        first = burn - 1  # input row whose target is the first valid row
        n_scored = last - first + 1
        segments = max(1, math.ceil(n_scored / VALID_SEGMENT))
        starts = first + np.arange(segments) * VALID_SEGMENT
        span = np.arange(VALID_BURN_IN + VALID_SEGMENT)
        idx = starts[:, None] - VALID_BURN_IN + span[None, :]
        mask = (idx >= first) & (idx <= last) & (span >= VALID_BURN_IN)[None, :]
        idx = np.clip(idx, 0, last)
        idx_t = torch.from_numpy(idx)
        task = torch.from_numpy(both.task.astype(np.int64))[idx_t + 1]
        delta = self._delta_target(both)[idx_t + 1]
        return _take(x, idx_t), task, delta, torch.from_numpy(mask)

    @torch.no_grad()
    def _valid_loss(
        self,
        x: dict[str, torch.Tensor],
        task: torch.Tensor,
        delta: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[float, float]:
        net = self.net_
        net.eval()
        out, _ = net.rnn(net.embed(x))
        logits, dz = net.heads(out[mask])
        ce = F.cross_entropy(logits, task[mask])
        mse = F.mse_loss(dz, delta[mask])
        return float(ce), float(mse)

    # -- predict -------------------------------------------------------------------------------
    @torch.no_grad()
    def _hidden_at(
        self, runs: Runs, needed: np.ndarray, stop: int
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray | None]]]:
        """Top-layer hidden state after consuming local row `needed[k]` (zeros for -1), in one
        causal pass over local rows [0, stop) carrying the state; also the final state per
        layer, (h, c) for the LSTM and (h, None) for the GRU.

        The LSTM runs PyTorch's fused CPU kernel; the GRU, which has none, a numpy scan (about
        twice as fast as nn.GRU at batch 1; see `rnn_inference.GRUScan`)."""
        net = self.net_
        net.eval()
        hidden = np.zeros((len(needed), self.hidden_size), dtype=np.float32)
        order = np.argsort(needed, kind="stable")
        sorted_needed = needed[order]
        x_all = self._features(runs, stop)
        scan = GRUScan(net) if self.cell == "gru" else None
        state: Any = None
        for lo in range(0, stop, PREDICT_CHUNK):
            hi = min(lo + PREDICT_CHUNK, stop)
            inputs = net.embed(_take(x_all, slice(lo, hi)))
            if scan is not None:
                out, state = scan(inputs.numpy(), state)
            else:
                out_t, state = net.rnn(inputs[None], state)
                out = out_t[0].numpy()
            a, b = np.searchsorted(sorted_needed, [lo, hi])
            if b > a:
                hidden[order[a:b]] = out[sorted_needed[a:b] - lo]
        zeros = np.zeros(self.hidden_size, dtype=np.float32)
        if state is None:
            final = [(zeros, zeros.copy() if self.cell == "lstm" else None)] * self.num_layers
        elif scan is not None:
            final = [(h, None) for h in state]
        else:
            h, c = state
            final = [(h[k, 0].numpy(), c[k, 0].numpy()) for k in range(self.num_layers)]
        return hidden, final

    @torch.no_grad()
    def _heads(self, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, dz = self.net_.heads(torch.from_numpy(hidden))
        proba = torch.softmax(logits.double(), dim=-1).numpy()
        proba = (proba / proba.sum(axis=1, keepdims=True)).astype(np.float32)
        delta = np.maximum(self.delta_mean_ + self.delta_std_ * dz.double().numpy(), 0.0)
        return proba, delta

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        self._check_runs(runs)
        if len(positions) == 0:
            empty = Prediction(
                np.zeros((0, self.n_tasks_), dtype=np.float32), np.zeros(0, dtype=np.float64)
            )
            return only_targets(empty, self.fitted_targets_)
        local = positions - runs.start
        hidden, _ = self._hidden_at(runs, local - 1, int(local.max()))
        proba, delta = self._heads(hidden)
        return only_targets(Prediction(task_proba=proba, delta_us=delta), self.fitted_targets_)

    def online(self, history: Runs) -> OnlinePredictor:
        self.check_fitted()
        self._check_runs(history)
        return RNNOnline(self, history)

    # -- pickling: the network travels as its state_dict ---------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        net = state.pop("net_", None)
        if net is not None:
            state["net_state_"] = {k: v.detach().clone() for k, v in net.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("net_state_", None)
        self.__dict__.update(state)
        if weights is not None:
            net = _Net(
                cell=self.cell,
                n_tasks=self.n_tasks_,
                n_comms=self.n_comms_,
                hidden_size=self.hidden_size,
                num_layers=self.num_layers,
                task_dim=self.task_dim,
                comm_dim=self.comm_dim,
                end_dim=self.end_dim,
                dropout=self.dropout,
            )
            net.load_state_dict(weights)
            net.eval()
            self.net_ = net


def _detach(state: Any) -> Any:
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
