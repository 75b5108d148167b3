"""Per-position evidence for the board's comparisons (README §5, §6): each scored cell's stored
predictions (`seed<k>.npz`: positions, argmax task ids, predicted delta) scored against the
truth from the verified data, averaged over the cell's seeds, and resampled.

All cells of one trace are resampled with the same moving blocks (the trace's own seed), so
that the difference of two models' draws is a paired draw; the traces use different seeds, so
that the draws of the mean over traces are independent between traces. Nothing is re-trained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.results.store import Stored, stored_predictions
from benchmark.scoring.bootstrap import resampled
from benchmark.scoring.metrics import (
    Contributions,
    MetricInputError,
    delta_contributions,
    main_metric,
    top1_contributions,
)

# Stored predictions are float32 deltas: their mse_z agrees with the result's to this (relative).
AGREE = 1e-5
METRICS = (main_metric("task"), main_metric("delta"))


@dataclass(frozen=True)
class Truth:
    """The scored truth of one trace's test positions (full-trace indices)."""

    positions: np.ndarray
    task: np.ndarray
    delta_us: np.ndarray
    sigma_us: float
    n_tasks: int


@dataclass(frozen=True)
class Evidence:
    """One cell's seed-mean main metrics on its positions, and their resampled draws."""

    positions: np.ndarray
    values: dict[str, float]
    draws: dict[str, np.ndarray]
    contributions: Contributions | None = None  # the seed mean per position (paired intervals)


def load_truth(trace: str, data_root: Path | None) -> Truth:
    """The test rows of `trace` (verified against the manifest by `load_trace`)."""
    from benchmark.data.dataset import load_trace

    runs = load_trace(trace, data_root)
    lo, hi = runs.split.test
    positions = np.arange(lo, hi, dtype=np.int64)
    local = positions - runs.start
    return Truth(positions, runs.task[local], runs.delta_us[local], runs.sigma_us, runs.n_tasks)


def _contributions(arrays: dict[str, np.ndarray], truth: Truth) -> Contributions:
    """acc and mse_z (whichever the stored predictions hold) of one seed, per position."""
    positions = arrays["positions"].astype(np.int64)
    index = np.searchsorted(truth.positions, positions)
    if len(positions) == 0 or index.max() >= len(truth.positions):
        raise MetricInputError("stored positions outside the test split")
    if not np.array_equal(truth.positions[index], positions):
        raise MetricInputError("stored positions are not test positions")
    parts = []
    if "task" in arrays:
        parts.append(top1_contributions(truth.task[index], arrays["task"], truth.n_tasks))
    if "delta_us" in arrays:
        parts.append(delta_contributions(truth.delta_us[index], arrays["delta_us"], truth.sigma_us))
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part)
    return out


def cell_evidence(
    seeds: Sequence[dict[str, np.ndarray]],
    truth: Truth,
    recorded: dict[str, float],
    seed: int,
    n_resamples: int,
) -> Evidence:
    """The seed mean of each main metric's per-position contribution, checked against the
    metrics the results record (`recorded`: the board's seed means), then resampled."""
    first = seeds[0]["positions"]
    if any(not np.array_equal(s["positions"], first) for s in seeds):
        raise MetricInputError("the seeds were scored on different positions")
    contribs = [_contributions(s, truth) for s in seeds]
    names = [m for m in METRICS if all(m in c.columns for c in contribs) and m in recorded]
    if not names:
        raise MetricInputError("no main metric in the stored predictions")
    columns = {m: np.mean([c.columns[m] for c in contribs], axis=0) for m in names}
    mean = Contributions(len(first), columns)
    values = mean.values()
    for m in names:
        if abs(values[m] - recorded[m]) > AGREE * max(1.0, abs(recorded[m])):
            raise MetricInputError(
                f"stored predictions give {m} {values[m]:.6g}, the results record {recorded[m]:.6g}"
            )
    draws = resampled(mean, names, n_resamples=n_resamples, seed=seed)
    return Evidence(first.astype(np.int64), {m: values[m] for m in names}, draws, mean)


def gather(
    root: Path | None,
    data_root: Path | None,
    cells: dict[tuple[str, str], list[Stored]],
    recorded: dict[tuple[str, str], dict[str, float]],
    traces: Sequence[str],
    n_resamples: int,
    log: Callable[[str], None] | None = None,
) -> dict[tuple[str, str], Evidence]:
    """Evidence of every (model, trace) cell in `cells` (the board's `ok` cells) whose seeds all
    stored predictions that reproduce their recorded metrics; the others are left out with a
    note through `log` (their comparisons then fall back on interval overlap)."""
    say = log or (lambda _m: None)
    truths: dict[str, Truth] = {}
    out = {}
    for (model, trace), results in sorted(cells.items()):
        arrays = [stored_predictions(root, s) for s in results]
        if any(a is None for a in arrays):
            say(f"{model} on {trace}: no stored predictions; its ranks use interval overlap")
            continue
        try:
            if trace not in truths:
                truths[trace] = load_truth(trace, data_root)
            seed = list(traces).index(trace)
            key = (model, trace)
            out[key] = cell_evidence(arrays, truths[trace], recorded[key], seed, n_resamples)  # type: ignore[arg-type]
        except (MetricInputError, KeyError, ValueError, FileNotFoundError) as error:
            say(f"{model} on {trace}: stored predictions not used ({error})")
    return out
