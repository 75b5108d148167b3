"""The side-information ceiling (README §5): an accuracy bound for predictors that also see how
each past run ended, how long it lasted and when each task last ran.

`ceiling.ceiling` bounds predictors that see the task sequence alone. Every model here is also
handed run lengths and end states, and the tree models use the time since each task last ran,
which makes periodic kernel threads and timers predictable; on `single-worker` two of them beat
the task-only bound. This module estimates the entropy rate of the next task *given* that side
information and turns it into an accuracy bound with Fano's inequality
(`ceiling.max_predictability`).

What it conditions on, at position `j` (rows `< j` only; `COVERS`):

* the past tasks, up to `SEQ_DEPTH` runs back;
* the side symbol of every past run (`side_symbols`): its end state and its run length in
  `N_BINS` bins, up to `SEQ_DEPTH` runs back;
* for each task `m`: the time since `m`'s last run ended (the run lengths summed since then, in
  `N_TIME_BINS` bins per task) and the number of runs since then (log2 bins).

Not covered: absolute times (`t_ns`: on one CPU the run lengths give every elapsed time, but not
the phase of the clock), run lengths finer than their bins, and anything a model could learn
that no context above expresses. `prio`, `pid` and `comm` are functions of the task.

**Bins.** Run-length edges (`length_edges`) are the equal-occupancy quantiles of the lengths,
each moved to the widest gap in the data between its two neighbouring half-quantiles, so that an
edge falls between clusters of run lengths rather than through one (a cluster split in two
carries noise, not information). Quantiles rather than fixed microsecond edges because the
traces live on different time scales (keepalive's runs are 3-9 us, mixed's 1 us-5 ms: fixed
log2 edges put 7 of keepalive's 8 quantiles into two bins). Measured on the shipped traces the
choice moves the entropy estimate by at most 0.02 bits (fixed log2 edges were better on two
traces, worse on two). Edges are fitted on the warm-up rows (`score_from`) when there are any,
as the models' scalers are fitted on training rows, else on all rows given.

**Estimator** (a prequential code length, so an upper bound on the entropy rate in
expectation). The next task is coded by a chain of binary questions over the symbols in order of
rising warm-up frequency, "is it `m_1`?", "is it `m_2`, given not `m_1`?", ..., the most
frequent symbol taking what is left (the chain rule: exact, whatever the order; rare tasks first
so that each one's own timing can be seen). Each question's probability is a Bayesian mixture
of interpolated back-off estimators (Witten-Bell style: `q_d = (n1 + b q_(d-1)) / (n + b)`,
`b = KAPPA x distinct outcomes seen`, counts over earlier positions where the question was
asked) along four chains of nested contexts: the task history (T), the interleaved side and task
history (P), the task's elapsed-time bin refined by P (E), and its runs-since bin refined by P
(R). Every count comes from rows before the position; warm-up positions train, scored positions
are averaged. A Bayesian mixture codes within `log2(#models)` bits of its best member, so the
side estimate is at most `(N - 1) log2(M) / n` above the task-only chain T alone
(`task_only_entropy_rate_bits`, the same estimator without side information).

**Bias.** Measured on sources of known entropy rate (tests/test_ceiling_side.py), n = 40-50k
scored positions: i.i.d. and 2nd-order Markov tasks come out 0.002-0.02 bits above the truth
(the learning cost, about `k log2(n) / 2n` for `k` free parameters), a task that is a function
of the previous run's side symbol gives `Pi_max` > 0.99 while the task-only LZ bound stays near
0.5, and a timer task due at a fixed elapsed time is found through E. On real traces the
estimate is an upper bound on the entropy with more slack: the best models' own log-losses are
lower (lightgbm on keepalive: 0.099 bits against 0.15 here), so the true ceiling for these
inputs is at least as high as this one, and this number errs on the low side.

**Interval.** A 95% moving-block bootstrap (the rule of `benchmark.scoring.bootstrap`: blocks
of `ceil(n^(1/3))` positions, 1,000 resamples, seed 0, percentile interval) of the mean
per-position code length over the scored positions, mapped through Fano (`low` comes from the
high entropy end). It covers the sampling spread of the scored positions, not the estimator's
bias above.

Cost: O(n log n) numpy, about 2-6 s for a 230k-row trace on one core (a few hundred MB).
"""

from __future__ import annotations

import math

import numpy as np

from benchmark.scoring.ceiling import max_predictability
from benchmark.scoring.ceiling_coder import code_lengths, length_edges

N_BINS = 8
N_RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
COVERS = (
    "past tasks, each past run's end state and run length (8 bins), and per task the time "
    "and the number of runs since it last ran"
)
ESTIMATOR = (
    "prequential code length of a binary-chain back-off mixture over task, side and "
    "elapsed-time contexts (upper bound on the conditional entropy rate), then Fano"
)
_LN2 = math.log(2.0)


def side_symbols(
    end_state: np.ndarray,
    delta_us: np.ndarray,
    *,
    n_bins: int = N_BINS,
    edges_us: np.ndarray | None = None,
    fit_rows: int | None = None,
) -> np.ndarray:
    """int64[n]: at `j`, the side information of run `j - 1`; 0 at `j = 0` (no run yet).

    The symbol is `1 + end_state[j-1] * (len(edges) + 1) + bin(delta_us[j-1])`, with the
    run-length edges `edges_us` or, by default, `length_edges` of `delta_us[:fit_rows]` (all
    rows when `fit_rows` is None or 0). `end_state` holds non-negative ids.
    """
    states = np.asarray(end_state, dtype=np.int64)
    lengths = np.asarray(delta_us, dtype=np.float64)
    if states.shape != lengths.shape or states.ndim != 1:
        raise ValueError("end_state and delta_us must be 1-d arrays of one length")
    if states.size and states.min() < 0:
        raise ValueError("end_state ids must be non-negative")
    if edges_us is None:
        edges_us = length_edges(lengths[: fit_rows or None], n_bins)
    edges = np.asarray(edges_us, dtype=np.float64)
    per_run = 1 + states * (len(edges) + 1) + np.searchsorted(edges, lengths, side="right")
    out = np.zeros(len(states), dtype=np.int64)
    out[1:] = per_run[:-1]
    return out


# -- the bound -----------------------------------------------------------------------------------
def mean_interval(
    values: np.ndarray, *, n_resamples: int = N_RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float]:
    """Moving-block bootstrap percentile interval of the mean (blocks of ceil(n^(1/3)))."""
    n = len(values)
    if n < 2:
        return (float(np.mean(values)),) * 2 if n else (math.nan, math.nan)
    block = max(1, min(n, math.ceil(n ** (1.0 / 3.0) - 1e-9)))
    n_blocks = math.ceil(n / block)
    sums = np.convolve(values, np.ones(block), mode="valid")  # every block's sum
    starts = np.random.default_rng(seed).integers(0, n - block + 1, size=(n_resamples, n_blocks))
    means = sums[starts].sum(axis=1) / (n_blocks * block)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def side_code_lengths(
    tasks: np.ndarray, end_state: np.ndarray, delta_us: np.ndarray, *, score_from: int = 0
) -> dict[str, np.ndarray]:
    """Per-position code lengths (bits) at rows `[score_from, n)`: "side" (the estimator),
    "task_only" (its task-history chain alone), "hit" (the side estimator's most probable task
    was the true one) and "length_edges_us" (the run-length bin edges used).

    Rows before `score_from` are warm-up: the estimator learns from them, fits its bins and its
    question order on them, and does not score them (with `score_from = 0` all rows are scored
    and fitted on). The code length at `j` depends on rows `< j` only, apart from the set of
    distinct tasks (the alphabet), which is taken from all rows given.
    """
    x = np.asarray(tasks)
    states = np.asarray(end_state)
    lengths = np.asarray(delta_us, dtype=np.float64)
    if not (x.ndim == states.ndim == lengths.ndim == 1 and len(x) == len(states) == len(lengths)):
        raise ValueError("tasks, end_state and delta_us must be 1-d arrays of one length")
    if not 0 <= score_from <= len(x):
        raise ValueError(f"score_from must lie in [0, {len(x)}], got {score_from}")
    if not np.all(np.isfinite(lengths)) or (lengths.size and lengths.min() < 0):
        raise ValueError("delta_us must be finite and non-negative")
    edges = length_edges(lengths[: score_from or None], N_BINS)
    scored = len(x) - score_from
    if scored == 0 or len(np.unique(x)) == 1:  # nothing to score, or nothing to guess
        zero = np.zeros(scored)
        codes = {"side": zero, "task_only": zero, "hit": np.ones(scored, dtype=bool)}
    else:
        side = side_symbols(states, lengths, edges_us=edges)
        codes = code_lengths(x, side, lengths, score_from)
    return {**codes, "length_edges_us": edges}


def side_ceiling(
    tasks: np.ndarray,
    end_state: np.ndarray,
    delta_us: np.ndarray,
    *,
    score_from: int = 0,
    n_symbols: int | None = None,
) -> dict[str, float | int | str | list[float]]:
    """Accuracy bound for predictors that see past tasks, end states, run lengths and timing.

    The entropy rate is the mean of `side_code_lengths` over rows `[score_from, n)`; the board
    passes a trace up to the end of its test split with `score_from` = the test start, so that
    the estimator has the history every model is fitted on. `n_symbols` (Fano's N) defaults to
    the number of distinct tasks among the scored rows, the rule of `ceiling.ceiling`.
    `low`/`high` bound `max_predictability` (from the entropy interval's high and low end),
    `estimator_accuracy` is the top-1 accuracy of the estimator's own causal predictor.
    """
    x = np.asarray(tasks)
    codes = side_code_lengths(x, end_state, delta_us, score_from=score_from)
    n_sym = n_symbols if n_symbols is not None else len(np.unique(x[score_from:]))
    out: dict[str, float | int | str | list[float]] = {
        "covers": COVERS,
        "estimator": ESTIMATOR,
        "interval": "95% moving-block bootstrap of the scored positions' code lengths",
        "n": len(x),
        "n_scored": len(x) - score_from,
        "n_symbols": n_sym,
        "length_edges_us": [round(float(e), 3) for e in codes["length_edges_us"]],
    }
    bits = codes["side"]
    if bits.size == 0:
        keys = (
            "max_predictability",
            "low",
            "high",
            "entropy_rate_bits",
            "entropy_low_bits",
            "entropy_high_bits",
            "task_only_entropy_rate_bits",
            "task_only_max_predictability",
            "estimator_accuracy",
        )
        return {**out, **dict.fromkeys(keys, math.nan)}
    entropy, task_only = float(bits.mean()), float(codes["task_only"].mean())
    low_bits, high_bits = mean_interval(bits)
    out.update(
        max_predictability=max_predictability(entropy, n_sym),
        low=max_predictability(high_bits, n_sym),
        high=max_predictability(low_bits, n_sym),
        entropy_rate_bits=entropy,
        entropy_low_bits=low_bits,
        entropy_high_bits=high_bits,
        task_only_entropy_rate_bits=task_only,
        task_only_max_predictability=max_predictability(task_only, n_sym),
        estimator_accuracy=float(codes["hit"].mean()),
    )
    return out
