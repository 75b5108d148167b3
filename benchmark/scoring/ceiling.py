"""The predictability ceilings of a task sequence (README §5): upper bounds on top-1 accuracy,
each labelled with what it covers ("covers").

* `ceiling(seq)`: the task history alone (Lempel-Ziv entropy rate + Fano), below.
* `side_ceiling(tasks, end_state, delta_us, score_from=...)`: the task history plus the side
  information every model is handed (end states, run lengths, the time since each task last
  ran), from a sequential coder (`benchmark.scoring.ceiling_coder`) + Fano; see "Side
  information" below.

Two steps, as in Song, Qu, Blumm & Barabási, "Limits of predictability in human mobility",
Science 327 (2010), supplementary S2-S3:

1. **Entropy rate** by the Lempel-Ziv estimator of Kontoyiannis, Algoet, Suhov & Wyner (IEEE
   Trans. Inf. Theory 44, 1998):

       S_est = n log2(n) / sum_i Lambda_i      (bits per symbol)

   where `Lambda_i` is the length of the shortest substring starting at position `i` that does
   not appear as a contiguous substring of `seq[0:i]` (the occurrence must lie entirely in the
   past). Equivalently `Lambda_i = 1 + L_i` with `L_i` the length of the longest prefix of
   `seq[i:]` found in `seq[0:i]`; where that match runs to the end of the sequence there is no
   longer substring to try and `Lambda_i = 1 + L_i` all the same (`L_0 = 0`).
2. **Fano's inequality** turned into the maximum predictability `Pi_max`: the largest `Pi` in
   `[1/N, 1]` with `S = H(Pi) + (1 - Pi) log2(N - 1)`, `H` the binary entropy and `N` the number
   of distinct symbols. `S >= log2 N` gives `1/N`, `S <= 0` (or `N = 1`) gives 1.

`L_i` for every `i` comes from one left-to-right pass with an online suffix automaton of
`seq[0:i]` (Blumer et al. 1985): the automaton of the past is extended by one symbol per step,
and the current match (a state and the match end) is carried over from `i` to `i + 1` by
dropping its first symbol (`L_{i+1} >= L_i - 1`) and following suffix links, so the whole pass is
O(n) amortised (transitions in dicts: O(n log A) worst case). In plain Python this is about
3-5 s of CPU per million symbols and ~600 MB of memory at that size (about 2n states).

Caveats, stated with the numbers: the estimator is biased at finite `n`, and Fano's right side is
steep near `log2 N`, so a small entropy error moves `Pi_max` a lot. For i.i.d. uniform sources
at n = 200k it gives 1.006 bits for N = 2 (true 1), 2.86 for N = 8 (true 3; `Pi_max` 0.29
instead of 1/8) and 3.99 for N = 20 (true 4.32; `Pi_max` 0.25 instead of 0.05). For sources with
many symbols the ceiling is therefore *optimistic* (too high), which is the safe side for a
ceiling: a model above it points to a leak, a model below it may still have room. It is meant to
be computed on the task-id sequence (vocabulary ids, `<other>` one symbol).

**Side information.** `ceiling` bounds predictors that see the task sequence alone. Every model
is also handed run lengths and end states, and the tree models use the time since each task last
ran, which makes periodic kernel threads and timers predictable; on `single-worker` two of them
beat the task-only bound. `side_ceiling` estimates the entropy rate of the next task *given*
side information and turns it into a bound with the same Fano step. At position `j` it
conditions on rows `< j` only (`SIDE_COVERS`):

* the past tasks, up to 8 runs back;
* each past run's side symbol (`side_symbols`): its end state and its run length in `N_BINS` = 8
  bins, up to 8 runs back;
* per task `m`: the time since `m`'s last run ended (the run lengths since then, summed: on one
  CPU they tile the time line) in 16 bins fitted to `m`'s own warm-up runs, and the number of
  runs since then (log2 bins).

Not covered: the phase of the clock (`t_ns` itself), run lengths finer than their bins, and
whatever a model learns that no such context expresses; `prio`, `pid`, `comm` are functions of
the task. Bin edges (`ceiling_coder.length_edges`) are equal-occupancy quantiles, each moved to
the widest gap in the data between its neighbouring half-quantiles so that an edge falls between
clusters of run lengths, not through one. Quantiles rather than fixed microsecond edges because
the traces live on different scales (keepalive's runs 3-9 us, mixed's 1 us-5 ms); on the shipped
traces fixed log2 edges (2, 4, ... 32, 128, 1024 us) moved the estimate by at most 0.02 bits,
better on two traces and worse on two. Edges and the coder's question order are fitted on the
warm-up rows (`score_from`), as the models' scalers are fitted on training rows.

**Estimator**: a prequential code length (`ceiling_coder`), which upper-bounds the entropy rate
in expectation and converges to it. The next task is coded as a chain of binary questions, rarest
warm-up task first ("is it m1?", "is it m2, given not m1?", ...; exact by the chain rule, and
rare first so that each timer's own elapsed time can answer its question). Each answer's
probability is a Bayesian mixture of interpolated back-off estimators along four context chains
(the task history; the interleaved side/task history; the task's elapsed-time bin refined by
it; its runs-since bin), counted over earlier positions only. Warm-up rows train, scored rows
are averaged. A Bayesian mixture codes within log2(#models) bits of any subset of its members,
so the side estimate exceeds the same coder's task-history chain (`task_only_entropy_rate_bits`)
by at most `(N - 1) log2(20/7) / n` bits per symbol with no warm-up (tests/test_ceiling_side.py).

**Bias**, measured on sources of known entropy rate (tests/test_ceiling_side.py; 40k scored
positions, no warm-up, 5 seeds), as the code length above the true model's on the same sample:
i.i.d. over 6 or 8 symbols +0.002 bits, a 2nd-order Markov chain over 3 +0.004, a task that is a
function of the previous run's side symbol +0.034 (`Pi_max` 0.997, truth 1; the task-only LZ
bound 0.31), a timer due at a fixed elapsed time +0.017 (task-history chain alone: +0.081).
With 160k warm-up rows before 40k scored: +0.000, +0.00001 and +0.008. On the shipped traces
the coder is weaker than the best models: lightgbm's own test log-loss, itself an upper bound on
the entropy given its inputs, is lower on every trace (0.019 bits on single-worker against 0.027
here, 0.099 against 0.151 on keepalive). So this ceiling errs low: a model above it is not by
itself a leak. Without warm-up (test rows alone) the learning cost is far larger (single-worker
0.046 bits instead of 0.027): pass the training rows.

**Interval**: a 95% moving-block bootstrap of the mean per-position code length over the
scored rows (the rule of `benchmark.scoring.bootstrap`: blocks of `ceil(n^(1/3))`, 1,000
resamples, seed 0, percentile), mapped through Fano (`low` from the high-entropy end). It
covers the sampling spread of the scored rows, not the estimator's bias.

Cost: 3-5 s of CPU and about 250 MB for a 230k-row trace scored on its last 46k rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from benchmark.scoring.ceiling_coder import code_lengths, length_edges

_FANO_ITERATIONS = 200
HISTORY_COVERS = "the task history alone"


def match_lengths(seq: Sequence[int] | np.ndarray) -> np.ndarray:
    """`L[i]`: length of the longest prefix of `seq[i:]` that occurs inside `seq[0:i]` (int64[n]).

    `Lambda_i = L[i] + 1`. Symbols may be any hashable values (ints in practice).
    """
    s = seq.tolist() if isinstance(seq, np.ndarray) else list(seq)
    n = len(s)
    out = [0] * n
    # Suffix automaton of s[0:i]: per state its transitions, longest length and suffix link.
    nxt: list[dict] = [{}]
    length = [0]
    link = [-1]
    add_next, add_length, add_link = nxt.append, length.append, link.append
    size = 1
    last = 0
    v = 0  # state of the current match s[i:j] (root when empty)
    j = 0
    for i in range(n):
        if j < i:
            j = i
        while j < n:  # extend the match inside the automaton of the past
            t = nxt[v].get(s[j])
            if t is None:
                break
            v = t
            j += 1
        out[i] = j - i
        if j > i and j - i - 1 <= length[link[v]]:  # drop the match's first symbol
            v = link[v]
        # extend the automaton with s[i]
        c = s[i]
        cur = size
        size += 1
        add_length(length[last] + 1)
        add_link(0)
        add_next({})
        p = last
        while p != -1:
            trans = nxt[p]
            if c in trans:
                break
            trans[c] = cur
            p = link[p]
        if p != -1:
            q = nxt[p][c]
            lq = length[p] + 1
            if lq == length[q]:
                link[cur] = q
            else:
                clone = size
                size += 1
                add_length(lq)
                add_link(link[q])
                add_next(nxt[q].copy())
                while p != -1:
                    trans = nxt[p]
                    if trans.get(c) != q:
                        break
                    trans[c] = clone
                    p = link[p]
                link[q] = clone
                link[cur] = clone
                if v == q and j - i - 1 <= lq:  # the match now belongs to the clone
                    v = clone
        last = cur
    return np.asarray(out, dtype=np.int64)


def entropy_rate(seq: Sequence[int] | np.ndarray) -> float:
    """Kontoyiannis' Lempel-Ziv estimate of the entropy rate, bits per symbol (0 for n < 2)."""
    n = len(seq)
    if n < 2:
        return 0.0
    total = int(match_lengths(seq).sum()) + n  # sum of Lambda_i = L_i + 1
    return n * math.log2(n) / total


def binary_entropy(p: float) -> float:
    """H(p) in bits."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)


def fano(pi: float, n_symbols: int) -> float:
    """The right side of Fano's equation: H(pi) + (1 - pi) log2(N - 1)."""
    extra = (1.0 - pi) * math.log2(n_symbols - 1) if n_symbols > 2 else 0.0
    return binary_entropy(pi) + extra


def max_predictability(entropy: float, n_symbols: int) -> float:
    """`Pi_max` in [1/N, 1] solving `entropy = H(Pi) + (1 - Pi) log2(N - 1)` (Fano).

    The right side decreases from log2 N at `Pi = 1/N` to 0 at `Pi = 1`; solved by bisection
    to machine precision.
    """
    if n_symbols < 1:
        raise ValueError("n_symbols must be at least 1")
    if not math.isfinite(entropy):
        raise ValueError(f"entropy must be finite, got {entropy!r}")
    if n_symbols == 1 or entropy <= 0.0:
        return 1.0
    lo, hi = 1.0 / n_symbols, 1.0
    if entropy >= math.log2(n_symbols):
        return lo
    for _ in range(_FANO_ITERATIONS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if fano(mid, n_symbols) > entropy:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def ceiling(seq: Sequence[int] | np.ndarray) -> dict[str, float | int | str]:
    """Entropy rate, number of distinct symbols and the maximum predictability of `seq`."""
    arr = np.asarray(seq)
    n_symbols = len(np.unique(arr)) if len(arr) else 0
    entropy = entropy_rate(arr)
    return {
        "entropy_rate": entropy,
        "entropy_rate_bits": entropy,
        "max_predictability": max_predictability(entropy, n_symbols) if n_symbols else math.nan,
        "n": len(arr),
        "n_symbols": n_symbols,
        "covers": HISTORY_COVERS,
        "estimator": "Lempel-Ziv entropy rate (Kontoyiannis et al. 1998), then Fano",
    }


# -- the side-information ceiling ------------------------------------------------------------------
N_BINS = 8
N_RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
SIDE_COVERS = (
    "past tasks, each past run's end state and run length (8 bins), and per task the time "
    "and the number of runs since it last ran"
)
SIDE_ESTIMATOR = (
    "prequential code length of a binary-chain back-off mixture over task, side and "
    "elapsed-time contexts (upper bound on the conditional entropy rate), then Fano"
)


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
        "covers": SIDE_COVERS,
        "estimator": SIDE_ESTIMATOR,
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
