"""The sequential coder behind `ceiling.side_ceiling` (README §5): per-position code lengths of
the next task under a chain of binary questions, each a Bayesian mixture of interpolated back-off
context models. The method and its measured bias are described in `benchmark.scoring.ceiling`;
this module holds the counting machinery.

The 20 models mixed per question: the task history T (no context, then 1, 2, 3, 4, 6 and 8 runs
back: 7), the interleaved history P (S_j, then S_j X_(j-1), then ... back to X_(j-8): 9), the
question's task's elapsed-time bin refined by P up to 1, 2 and 3 runs back (E: 3, each backing
off through the shorter ones) and its runs-since bin (R: 1). The task-only estimate mixes T alone.

Everything is vectorised numpy: a context level is a stable sort of the positions by context
key (`_Groups`), and "how many earlier positions of this context said yes" is a cumulative sum
in that order. One question costs a few dozen O(n) passes; a 230k-row trace with 15-21 tasks
takes 3-5 s of CPU.
"""

from __future__ import annotations

import itertools

import numpy as np

N_TIME_BINS = 16  # elapsed-time bins per task
KAPPA = 8.0  # back-off weight per distinct answer seen (Witten-Bell uses 1)
SEQ_DEPTH = 8  # runs of history in the task (T) and interleaved (P) contexts
TIME_DEPTH = 4  # levels of P context refining the elapsed-time bin (E)


def length_edges(values: np.ndarray, n_bins: int = 8, *, from_min: bool = False) -> np.ndarray:
    """Bin edges for positive durations: quantiles moved to the widest gap (in log) nearby.

    Edge `k` (k = 1..n_bins-1) is the midpoint of the widest gap between consecutive distinct
    values lying between the quantiles `(k - 1/2)/n_bins` and `(k + 1/2)/n_bins`. With
    `from_min` the smallest value is an edge too (bin 0 then means "below anything seen").
    Bin of `v`: the number of edges `<= v` (`np.searchsorted(edges, v, "right")`).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return np.zeros(0)
    logs = np.log(v)
    distinct = np.unique(logs)
    bounds = np.quantile(logs, (np.arange(n_bins) + 0.5) / n_bins)
    edges = [float(distinct[0])] if from_min else []
    for a, b in itertools.pairwise(bounds):
        inside = distinct[(distinct >= a) & (distinct <= b)]
        if inside.size < 2:
            continue  # one value fills the window: no gap to put an edge in
        gap = int(np.argmax(np.diff(inside)))
        edges.append(0.5 * float(inside[gap] + inside[gap + 1]))
    return np.exp(np.unique(edges))


# -- grouped counts of earlier positions -------------------------------------------------------
class _Groups:
    """Positions grouped by a context key, in time order within each group (int32 indices)."""

    def __init__(self, order: np.ndarray, new_group: np.ndarray) -> None:
        self.order = order.astype(np.int32, copy=False)
        ranks = np.arange(len(order), dtype=np.int32)
        self.first = np.maximum.accumulate(np.where(new_group, ranks, 0))  # group start rank
        self.ids = np.empty(len(order), dtype=np.int64)
        self.ids[self.order] = np.cumsum(new_group) - 1  # dense context id of each position

    @classmethod
    def of(cls, keys: np.ndarray) -> _Groups:
        order = np.argsort(keys, kind="stable")
        return cls(order, _boundaries(keys[order]))

    def refine(self, sub: np.ndarray) -> _Groups:
        """Groups of the pair (sub, this context), time order kept (a stable sort by `sub`)."""
        order = self.order[np.argsort(sub[self.order], kind="stable")]
        return _Groups(order, _boundaries(sub[order]) | _boundaries(self.ids[order]))

    def extend(self, symbol: np.ndarray) -> _Groups:
        """Groups of (this context, symbol)."""
        return _Groups.of(self.ids * (int(symbol.max()) + 2) + symbol + 1)

    def earlier(self, flags: np.ndarray) -> np.ndarray:
        """For each position, how many earlier positions of its group have `flags` set."""
        f = flags[self.order]
        c = np.cumsum(f, dtype=np.int32)
        c -= f
        out = np.empty(len(f), dtype=np.int32)
        out[self.order] = c - c[self.first]
        return out


def _boundaries(sorted_keys: np.ndarray) -> np.ndarray:
    new = np.empty(len(sorted_keys), dtype=bool)
    new[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    return new


def _lag(a: np.ndarray, k: int) -> np.ndarray:
    """a shifted k rows down, -1 where there is no such row."""
    out = np.full(len(a), -1, dtype=np.int64)
    if k < len(a):
        out[k:] = a[: len(a) - k]
    return out


def _chain(start: _Groups, symbols: list[np.ndarray], marks: list[int]) -> list[_Groups]:
    """Nested contexts: `start` extended by each symbol in turn, kept after each mark."""
    out, g = [], start
    for i, s in enumerate(symbols, 1):
        g = g.extend(s)
        if i in marks:
            out.append(g)
    return out


# -- the binary questions ----------------------------------------------------------------------
Pair = tuple[np.ndarray, np.ndarray]  # (yes, no) probabilities, float32, summing to 1


def _backoff(counts: list[tuple[np.ndarray, np.ndarray]], kappa: float = KAPPA) -> list[Pair]:
    """(yes, no) after each context level of one chain: interpolated back-off from 1/2.

    `counts[d] = (n, n1)`: earlier asked positions in the level-`d` context and how many said
    yes. `yes` and `no` are kept apart so that neither is lost to rounding near 0 or 1.
    """
    out: list[Pair] = []
    yes = no = np.full(len(counts[0][0]), 0.5, dtype=np.float32)
    # b by the number of distinct answers seen, u: 0 -> 1 (n = 0: keep the lower level), 1, 2
    weight = np.array([1.0, kappa, 2.0 * kappa], dtype=np.float32)
    for n_int, n1_int in counts:
        n, n1 = n_int.astype(np.float32), n1_int.astype(np.float32)
        n0 = n - n1
        b = weight[(n1 > 0).view(np.int8) + (n0 > 0).view(np.int8)]
        inv = np.float32(1.0) / (n + b)
        yes = (n1 + b * yes) * inv
        no = (n0 + b * no) * inv
        out.append((yes, no))
    return out


def _mix(models: list[Pair], y: np.ndarray, asked: np.ndarray, start: int) -> Pair:
    """Bayesian mixture of the models at positions `[start, n)` (weights 2^-(code length so
    far), the code lengths counted where the question was asked)."""
    loss = np.stack([-np.log2(np.where(y, a, b)) for a, b in models])
    loss[:, ~asked] = 0.0
    past = loss[:, :start].sum(axis=1, dtype=np.float64)
    w = np.cumsum(loss[:, start:], axis=1, dtype=np.float64)
    w -= loss[:, start:]
    w += past[:, None]
    w -= w.min(axis=0)
    np.negative(w, out=w)
    np.exp2(w, out=w)  # the best model so far has weight 1
    w /= w.sum(axis=0)
    yes, no = np.zeros(w.shape[1]), np.zeros(w.shape[1])
    for wm, (a, b) in zip(w, models, strict=True):
        yes += wm * a[start:]
        no += wm * b[start:]
    return yes, no


def _elapsed(x: np.ndarray, end_us: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """At each j: microseconds and runs since task m's last run before j (inf / 0 if none)."""
    n = len(x)
    last = np.maximum.accumulate(np.where(x == m, np.arange(n), -1))
    before = np.full(n, -1)
    before[1:] = last[:-1]
    now = np.zeros(n)
    now[1:] = end_us[:-1]
    ran = before >= 0
    us = np.where(ran, now - end_us[np.maximum(before, 0)], np.inf)
    runs = np.where(ran, np.arange(n) - before, 0)
    return us, runs


def _time_bins(x: np.ndarray, end_us: np.ndarray, m: int, fit: int) -> tuple[np.ndarray, ...]:
    """Task m's elapsed-time bin (edges from its warm-up runs) and runs-since bin (log2)."""
    us, runs = _elapsed(x, end_us, m)
    ran = (x == m) & np.isfinite(us)
    ran[fit:] = False
    edges = length_edges(us[ran], N_TIME_BINS, from_min=True)
    e = np.where(np.isfinite(us), np.searchsorted(edges, us, side="right"), len(edges) + 1)
    r = np.where(runs > 0, np.log2(np.maximum(runs, 1)).astype(np.int64) + 1, 0)
    return e.astype(np.int16), r.astype(np.int16)


def code_lengths(
    tasks: np.ndarray, side: np.ndarray, delta_us: np.ndarray, start: int
) -> dict[str, np.ndarray]:
    """Code lengths (bits) at positions `[start, n)`: "side" (all chains), "task_only" (chain
    T alone) and "hit" (the side coder's most probable task was the true one).

    `side[j]` is the side symbol known before task `j` (`ceiling.side_symbols`); rows
    `< start` (all rows if 0) fit the question order and the elapsed-time bins.
    """
    x = np.unique(tasks, return_inverse=True)[1].astype(np.int64).ravel()
    n = len(x)
    fit = start or n  # warm-up rows fit the question order and the time bins
    counts = np.bincount(x[:fit], minlength=int(x.max()) + 1)
    order = sorted(range(len(counts)), key=lambda m: (counts[m], m))
    everything = _Groups.of(np.zeros(n, dtype=np.int64))
    history = [_lag(x, k) for k in range(1, SEQ_DEPTH + 1)]
    interleaved = [side]  # S_j, X_(j-1), S_(j-1), X_(j-2), ...: a level after each task
    for k in range(1, SEQ_DEPTH):
        interleaved += [history[k - 1], _lag(side, k)]
    interleaved.append(history[-1])
    chains = {
        "T": _chain(everything, history, [1, 2, 3, 4, 6, 8]),
        "P": _chain(everything, interleaved, [1, *range(2, len(interleaved) + 1, 2)]),
    }
    # earlier still-asked positions per shared context: shrinks by each answered question
    every = np.ones(n, dtype=np.int8)
    asked_before = {c: [g.earlier(every) for g in gs] for c, gs in chains.items()}
    end_us = np.cumsum(delta_us)
    asked = np.ones(n, dtype=bool)
    side_bits, task_bits = np.zeros(n - start), np.zeros(n - start)
    left, best = np.ones(n - start), np.zeros(n - start)  # P(no yes so far), best P(task)
    guess = np.full(n - start, order[-1])
    for m in order[:-1]:
        y = x == m
        y8 = y.view(np.int8)
        base = [(np.cumsum(asked, dtype=np.int32) - asked, np.cumsum(y8, dtype=np.int32) - y8)]
        ones = {c: [g.earlier(y8) for g in gs] for c, gs in chains.items()}
        t_models = _backoff(base + list(zip(asked_before["T"], ones["T"], strict=True)))
        p_models = _backoff(base + list(zip(asked_before["P"], ones["P"], strict=True)))
        e, r = _time_bins(x, end_us, m, fit)
        a8 = asked.view(np.int8)
        timed = [everything.refine(e)] + [g.refine(e) for g in chains["P"][:TIME_DEPTH]]
        runs = everything.refine(r)
        models = t_models + p_models[1:]  # one copy of the no-context level
        models += _backoff(base + [(g.earlier(a8), g.earlier(y8)) for g in timed])[-3:]
        models += _backoff([*base, (runs.earlier(a8), runs.earlier(y8))])[-1:]
        ys, asks = y[start:], asked[start:]
        yes_t, no_t = _mix(t_models, y, asked, start)
        yes, no = _mix(models, y, asked, start)
        task_bits -= np.where(asks, np.log2(np.where(ys, yes_t, no_t)), 0.0)
        side_bits -= np.where(asks, np.log2(np.where(ys, yes, no)), 0.0)
        p = left * yes
        better = p > best
        best[better] = p[better]
        guess[better] = m
        left *= no
        asked &= ~y
        for c in chains:
            asked_before[c] = [a - b for a, b in zip(asked_before[c], ones[c], strict=True)]
    guess[left > best] = order[-1]
    return {"side": side_bits, "task_only": task_bits, "hit": guess == x[start:]}
