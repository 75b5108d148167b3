"""Edges of the predictability ceilings that mutation testing found unpinned (group `ceiling`).

Expected values are literals worked out by hand or a second, plain implementation here (a
brute-force longest-previous-match, a plain bisection, a loop-by-loop block bootstrap),
never the module's own constants. Survivors explained as
equivalent are in tests/mutation_survivors/ceiling.toml.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from benchmark.scoring.ceiling import (
    binary_entropy,
    ceiling,
    entropy_rate,
    fano,
    match_lengths,
    max_predictability,
    mean_interval,
    side_ceiling,
    side_code_lengths,
    side_symbols,
)


def brute_match_lengths(seq: list) -> list[int]:
    """L_i by definition: the longest prefix of seq[i:] occurring inside seq[0:i] (O(n^2 L))."""
    n = len(seq)
    out = []
    for i in range(n):
        best = 0
        for start in range(i):
            k = 0
            while i + k < n and start + k < i and seq[start + k] == seq[i + k]:
                k += 1
            best = max(best, k)
        out.append(best)
    return out


def check_match_lengths(seq: list) -> None:
    got = match_lengths(seq)
    assert got.dtype == np.int64
    assert got.tolist() == brute_match_lengths(seq), seq


# --------------------------------------------------------------------------------------------
# match_lengths
# --------------------------------------------------------------------------------------------
def test_match_lengths_hand_computed() -> None:
    # a b b a b b b: L_0 = 0; L_1 = 0 ('b' new); L_2 = 1 ('b' in 'ab', 'bb' not);
    # L_3 = 3 ('abb' in 'abb', then the end of the past); L_4 = 2 ('bb' in 'abba', 'bbb' not);
    # L_5 = 2 ('bb' in 'abbab', to the end); L_6 = 1 ('b', to the end)
    seq = [0, 1, 1, 0, 1, 1, 1]
    assert match_lengths(seq).tolist() == [0, 0, 1, 3, 2, 2, 1]
    assert brute_match_lengths(seq) == [0, 0, 1, 3, 2, 2, 1]


def test_match_lengths_is_int64_even_when_empty() -> None:
    # np.asarray([]) alone would be float64: the dtype is part of the contract
    assert match_lengths([]).dtype == np.int64
    assert match_lengths(np.array([], dtype=np.int64)).dtype == np.int64
    assert match_lengths([3, 3]).dtype == np.int64


def test_match_lengths_against_brute_force_on_random_sequences() -> None:
    rng = np.random.default_rng(20240611)
    for _ in range(300):
        k = int(rng.integers(1, 5))
        n = int(rng.integers(0, 70))
        check_match_lengths(rng.integers(0, k, n).tolist())


def test_match_lengths_against_brute_force_on_repetitive_sequences() -> None:
    """Periodic stretches with a few changed symbols: long matches, many clones."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        period = rng.integers(0, 3, int(rng.integers(1, 6))).tolist()
        n = int(rng.integers(2, 90))
        seq = (period * n)[:n]
        for pos in rng.integers(0, n, int(rng.integers(0, 4))):
            seq[int(pos)] = int(rng.integers(0, 3))
        check_match_lengths(seq)


def test_match_lengths_exhaustive_binary_up_to_length_12() -> None:
    for n in range(13):
        for code in range(2**n):
            check_match_lengths([(code >> b) & 1 for b in range(n)])


def test_structured_array_rows_are_symbols() -> None:
    # (task, state) pairs as symbols: an ndarray is read through tolist(), which makes each row a
    # hashable tuple (numpy's void scalars are not hashable).
    pairs = np.array([(1, 0), (1, 0), (2, 0), (1, 0), (1, 0)], dtype=[("t", "i8"), ("s", "i8")])
    # rows a a b a a: L = 0, 1 ('a' in 'a'), 0, 2 ('aa' in 'aab', to the end), 1
    assert match_lengths(pairs).tolist() == [0, 1, 0, 2, 1]


# --------------------------------------------------------------------------------------------
# entropy_rate, binary_entropy, fano
# --------------------------------------------------------------------------------------------
def test_entropy_rate_of_two_symbols_by_hand() -> None:
    # n = 2: S = n log2(n) / sum(L_i + 1) = 2 * 1 / sum(L_i + 1)
    # [0, 1]: L = 0, 0 -> sum = 2 -> S = 1.0
    assert entropy_rate([0, 1]) == 1.0
    # [5, 5]: L = 0, 1 -> sum = 1 + 2 = 3 -> S = 2/3
    assert entropy_rate([5, 5]) == pytest.approx(2.0 / 3.0, rel=1e-15)
    # n = 3, [0, 1, 2]: L = 0, 0, 0 -> sum = 3 -> S = 3 log2(3) / 3 = log2(3)
    assert entropy_rate([0, 1, 2]) == pytest.approx(math.log2(3.0), rel=1e-15)
    assert entropy_rate([9]) == 0.0


def test_binary_entropy_at_the_boundaries() -> None:
    # H(0) = H(1) = 0 by the limit p log p -> 0 (math.log2(0) itself would raise)
    assert binary_entropy(0.0) == 0.0
    assert binary_entropy(1.0) == 0.0
    # H(1/2) = -2 * 0.5 * log2(0.5) = 1 exactly
    assert binary_entropy(0.5) == 1.0
    # H(1/4) = 0.25 * 2 + 0.75 * log2(4/3) = 0.5 + 0.75 * 0.415037... = 0.811278...
    assert binary_entropy(0.25) == pytest.approx(0.8112781244591328, rel=1e-12)


def test_fano_with_one_and_two_symbols() -> None:
    # N = 1: no wrong symbol to spread the error over, the extra term is 0 (log2(0) is not
    # taken): the right side is H(pi); pi = 1 -> 0, pi = 1/2 -> 1
    assert fano(1.0, 1) == 0.0
    assert fano(0.5, 1) == 1.0
    # N = 2: (1 - pi) log2(1) = 0, the right side is H(pi)
    assert fano(0.5, 2) == 1.0
    # N = 3, pi = 1/2: H = 1, extra = 0.5 * log2(2) = 0.5 -> 1.5
    assert fano(0.5, 3) == 1.5


# --------------------------------------------------------------------------------------------
# ceiling: keys and texts read by the board and the datasheet
# --------------------------------------------------------------------------------------------
def test_ceiling_keys_and_texts() -> None:
    out = ceiling([0, 1])
    assert set(out) == {
        "entropy_rate",
        "entropy_rate_bits",
        "max_predictability",
        "n",
        "n_symbols",
        "covers",
        "estimator",
    }
    # [0, 1]: S = 1.0 (above), N = 2, S >= log2 2 -> Pi_max = 1/2
    assert out["entropy_rate"] == 1.0
    assert out["entropy_rate_bits"] == 1.0
    assert out["max_predictability"] == 0.5
    assert out["n"] == 2 and out["n_symbols"] == 2
    assert out["covers"] == "the task history alone"
    assert out["estimator"] == "Lempel-Ziv entropy rate (Kontoyiannis et al. 1998), then Fano"


def test_ceiling_of_nothing() -> None:
    out = ceiling([])
    assert out["n"] == 0 and out["n_symbols"] == 0
    assert out["entropy_rate_bits"] == 0.0
    assert math.isnan(out["max_predictability"])


# --------------------------------------------------------------------------------------------
# side_ceiling: keys, texts, n_symbols, rounded edges
# --------------------------------------------------------------------------------------------
def two_length_trace(n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tasks 0/1 alternating, one end state, run lengths 1, 1, 2, 2, 1, 1, ... us.

    Fitted on the first 40 rows (20 of each length), the run-length edges are one: the
    log-midpoint of the only gap, sqrt(1 * 2) = 1.41421356... us. With log lengths sorted
    (20 zeros, 20 ln 2), the quantiles 7/16 and 9/16 lie at positions 39 * 7/16 = 17.06 (a zero)
    and 39 * 9/16 = 21.94 (ln 2): that window holds both values, every other window only one.
    """
    tasks = np.arange(n) % 2
    states = np.zeros(n, dtype=np.int64)
    lengths = np.where(np.arange(n) % 4 < 2, 1.0, 2.0)
    return tasks, states, lengths


SIDE_TEXTS = {
    "covers": (
        "past tasks, each past run's end state and run length (8 bins), and per task the time "
        "and the number of runs since it last ran"
    ),
    "estimator": (
        "prequential code length of a binary-chain back-off mixture over task, side and "
        "elapsed-time contexts (upper bound on the conditional entropy rate), then Fano"
    ),
    "interval": "95% moving-block bootstrap of the scored positions' code lengths",
}
NUMBERS = (
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


def test_side_ceiling_keys_texts_and_edges() -> None:
    tasks, states, lengths = two_length_trace()
    out = side_ceiling(tasks, states, lengths, score_from=40)
    assert set(out) == {*SIDE_TEXTS, "n", "n_scored", "n_symbols", "length_edges_us", *NUMBERS}
    for key, text in SIDE_TEXTS.items():
        assert out[key] == text
    assert out["n"] == 60 and out["n_scored"] == 20 and out["n_symbols"] == 2
    # sqrt(2) = 1.41421356... rounded to 3 decimals (a float, not an int)
    assert out["length_edges_us"] == [1.414]
    assert isinstance(out["length_edges_us"][0], float)
    for key in NUMBERS:
        assert math.isfinite(out[key])


def test_side_ceiling_takes_the_given_n_symbols() -> None:
    tasks, states, lengths = two_length_trace()
    out = side_ceiling(tasks, states, lengths, score_from=40, n_symbols=20)
    assert out["n_symbols"] == 20
    default = side_ceiling(tasks, states, lengths, score_from=40)
    assert default["n_symbols"] == 2
    # the same entropy through Fano with N = 20 instead of 2 gives another bound
    assert out["entropy_rate_bits"] == default["entropy_rate_bits"]
    assert out["max_predictability"] != default["max_predictability"]


def test_side_ceiling_with_nothing_scored_has_every_key() -> None:
    tasks, states, lengths = two_length_trace(40)
    out = side_ceiling(tasks, states, lengths, score_from=40)
    assert set(out) == {*SIDE_TEXTS, "n", "n_scored", "n_symbols", "length_edges_us", *NUMBERS}
    for key, text in SIDE_TEXTS.items():
        assert out[key] == text
    assert out["n"] == 40 and out["n_scored"] == 0 and out["n_symbols"] == 0
    assert out["length_edges_us"] == [1.414]  # fitted on all 40 rows: sqrt(2) again
    for key in NUMBERS:
        assert math.isnan(out[key]), key


# --------------------------------------------------------------------------------------------
# max_predictability: messages, the S = log2 N end, the solver's bracket and tie rule
# --------------------------------------------------------------------------------------------
def test_max_predictability_error_messages() -> None:
    with pytest.raises(ValueError, match=r"^n_symbols must be at least 1$"):
        max_predictability(1.0, 0)
    with pytest.raises(ValueError, match=r"^entropy must be finite, got nan$"):
        max_predictability(math.nan, 3)
    with pytest.raises(ValueError, match=r"^entropy must be finite, got inf$"):
        max_predictability(math.inf, 3)


def test_max_predictability_at_log2_n_is_exactly_one_over_n() -> None:
    # Fano's right side at Pi = 1/N is H(1/N) + (1 - 1/N) log2(N - 1) = log2 N: S = log2 N is
    # the top of the range and gives exactly 1/N (not a bisection landing next to it)
    for n in range(2, 60):
        assert max_predictability(math.log2(n), n) == 1.0 / n, n


def fano_by_hand(pi: float, n: int) -> float:
    """H(pi) + (1 - pi) log2(N - 1), written out again (N >= 2, 0 < pi < 1)."""
    h = -pi * math.log2(pi) - (1.0 - pi) * math.log2(1.0 - pi)
    return h + ((1.0 - pi) * math.log2(n - 1) if n > 2 else 0.0)


def bisect_by_hand(entropy: float, n: int) -> float:
    """The documented solver, plainly: bisection on [1/N, 1], `lo` kept where the right side is
    still above S (so `hi` is where it is at or below S), until the midpoint rounds onto an end;
    the answer is the midpoint of the last bracket. For 0 < S < log2 N."""
    lo, hi = 1.0 / n, 1.0
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return 0.5 * (lo + hi)
        if fano_by_hand(mid, n) > entropy:
            lo = mid
        else:
            hi = mid


def test_max_predictability_is_the_bisection_on_one_over_n_to_one_to_the_last_bit() -> None:
    """Recorded bounds are reproduced bit for bit: the bracket [1/N, 1] and the tie rule (a
    midpoint where the right side equals S exactly goes to `hi`) both move the last bit."""
    rng = np.random.default_rng(3)
    cases = [(float(rng.uniform(0.0, math.log2(n))), n) for n in rng.integers(2, 40, 400)]
    # ties: S taken as the right side at the first midpoints themselves, e.g. N = 3 at
    # mid = (1/3 + 1) / 2 = 0.6666666666666666 (S = 1.2516...), N = 5 at 0.6, N = 10 at 0.55
    for n in (3, 5, 6, 10, 11, 16, 20):
        lo, hi = 1.0 / n, 1.0
        for _ in range(6):
            mid = 0.5 * (lo + hi)
            cases.append((fano_by_hand(mid, n), n))
            lo = mid
    for entropy, n in cases:
        assert max_predictability(entropy, n) == bisect_by_hand(entropy, n), (entropy, n)


# --------------------------------------------------------------------------------------------
# side_symbols: default edges, dtypes, the bin at an edge, messages
# --------------------------------------------------------------------------------------------
def test_side_symbols_fit_their_edges_on_the_first_rows_with_n_bins() -> None:
    # run lengths 1 1 4 4 then 100 x 4, one end state (0): symbol = 1 + bin of the run before.
    lengths = np.array([1.0, 1.0, 4.0, 4.0, 100.0, 100.0, 100.0, 100.0])
    states = np.zeros(8, dtype=np.int64)
    # fitted on rows 0-3 with 2 bins: log lengths 0 0 ln4 ln4, the quantiles 1/4 and 3/4 lie at
    # sorted positions 0.75 (0) and 2.25 (ln4); the one gap inside is 0 -> ln4, its midpoint ln2:
    # edge 2 us. Bins: 1 -> 0, 4 -> 1, 100 -> 1
    out = side_symbols(states, lengths, n_bins=2, fit_rows=4)
    assert out.tolist() == [0, 1, 1, 2, 2, 2, 2, 2]
    assert out.dtype == np.int64
    # fitted on all rows (fit_rows None or 0) with 2 bins: logs 0 0 ln4 ln4 ln100 x 4, the
    # quantiles at positions 1.75 (0.75 ln4) and 5.25 (ln100) hold ln4 and ln100: edge
    # sqrt(4 * 100) = 20 us. Bins: 1 -> 0, 4 -> 0, 100 -> 1
    every = [0, 1, 1, 1, 1, 2, 2, 2]
    assert side_symbols(states, lengths, n_bins=2).tolist() == every
    assert side_symbols(states, lengths, n_bins=2, fit_rows=0).tolist() == every
    # rows 0-3 with the default 8 bins: the quantiles (k + 1/2)/8 lie at sorted positions
    # 3 (k + 1/2)/8 = 0.19 0.56 0.94 1.31 1.69 2.06 2.44 2.81, values 0 0 0 0.31ln4 0.69ln4 ln4
    # ln4 ln4; no window between neighbours holds both 0 and ln4, so there is no edge: bin 0
    assert side_symbols(states, lengths, fit_rows=4).tolist() == [0, 1, 1, 1, 1, 1, 1, 1]


def test_side_symbols_bin_counts_edges_at_or_below_the_length() -> None:
    # bin = number of edges <= length: a run of exactly 10 us with edge 10 is bin 1
    out = side_symbols(np.array([0, 0, 0]), np.array([10.0, 9.999, 10.0]), edges_us=[10.0])
    assert out.tolist() == [0, 1 + 1, 1 + 0]


def test_side_symbols_read_numbers_not_text_or_small_ints() -> None:
    # lengths and edges are read as float64: numeric text compares as numbers (as text, '9'
    # would sort above '10.0')
    as_text = side_symbols(np.array([0, 0, 0]), np.array(["9", "50", "9"]), edges_us=[10.0])
    assert as_text.tolist() == [0, 1 + 0, 1 + 1]
    edges_text = side_symbols(np.array([0, 0, 0]), np.array([9.0, 50.0, 9.0]), edges_us=["10"])
    assert edges_text.tolist() == [0, 1 + 0, 1 + 1]
    # end states are read as int64: int8 ids (pandas category codes) must not wrap.
    # ids 20 and 100 with 7 edges (8 bins): 1 + 20 * 8 + 0 = 161, 1 + 100 * 8 + 7 = 808
    ids = np.array([20, 100, 0], dtype=np.int8)
    out = side_symbols(ids, np.array([0.5, 99.0, 1.0]), edges_us=[1.0, 2, 3, 4, 5, 6, 7])
    assert out.tolist() == [0, 161, 808]
    assert out.dtype == np.int64


def test_side_symbols_error_messages() -> None:
    with pytest.raises(
        ValueError, match=r"^end_state and delta_us must be 1-d arrays of one length$"
    ):
        side_symbols(np.array([0, 1]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"^end_state ids must be non-negative$"):
        side_symbols(np.array([-1, 0]), np.array([1.0, 2.0]))


# --------------------------------------------------------------------------------------------
# mean_interval: short inputs, the block length, the resampling rule
# --------------------------------------------------------------------------------------------
def test_mean_interval_of_one_and_no_values() -> None:
    assert mean_interval(np.array([0.7])) == (0.7, 0.7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice": nothing is averaged
        low, high = mean_interval(np.array([]))
    assert math.isnan(low) and math.isnan(high)


def bootstrap_by_hand(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The documented rule, plainly: blocks of b = ceil(n^(1/3)) (the smallest b with b^3 >= n,
    in integers), ceil(n / b) blocks per resample with starts uniform on 0..n-b from
    default_rng(0), 1,000 resamples, the percentile interval of their means."""
    n = len(values)
    b = 1
    while b**3 < n:
        b += 1
    k = -(-n // b)
    starts = np.random.default_rng(0).integers(0, n - b + 1, size=(1000, k))
    means = [np.concatenate([values[s : s + b] for s in row]).mean() for row in starts]
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


@pytest.mark.parametrize("n", [2, 3, 7, 8, 9, 27, 64, 100, 125, 343])
def test_mean_interval_is_the_moving_block_bootstrap(n: int) -> None:
    # small integers: every block sum and mean is exact, so both ways agree to the bit.
    # 8, 27, 64, 125 and 343 are cubes (blocks of exactly 2, 3, 4, 5, 7); 100 takes blocks of 5
    values = np.random.default_rng(n).integers(0, 10, n).astype(float)
    assert mean_interval(values) == bootstrap_by_hand(values)
    assert mean_interval(values, level=0.5) == bootstrap_by_hand(values, level=0.5)


# --------------------------------------------------------------------------------------------
# side_code_lengths: defaults, degenerate inputs, checks and their messages
# --------------------------------------------------------------------------------------------
def small_trace(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three tasks, two end states, log-normal run lengths: nothing special to learn."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, n), rng.integers(0, 2, n), rng.lognormal(2.0, 1.0, n)


def test_side_code_lengths_scores_every_row_by_default() -> None:
    x, states, lengths = small_trace(50)
    codes = side_code_lengths(x, states, lengths)
    for key in ("side", "task_only", "hit"):
        assert len(codes[key]) == 50, key


def test_side_code_lengths_with_one_task_or_nothing() -> None:
    # one task: nothing to guess, 0 bits and a hit at each of the 50 - 10 scored rows
    one = side_code_lengths(np.full(50, 3), np.zeros(50), np.ones(50), score_from=10)
    assert one["side"].tolist() == [0.0] * 40 and one["task_only"].tolist() == [0.0] * 40
    assert one["hit"].dtype == bool and one["hit"].tolist() == [True] * 40
    # no rows at all: empty codes, no edges
    empty = side_code_lengths(np.array([], dtype=int), np.array([], dtype=int), np.array([]))
    for key in ("side", "task_only", "hit", "length_edges_us"):
        assert len(empty[key]) == 0, key


def test_side_code_lengths_codes_a_single_scored_row() -> None:
    # three tasks, the last row alone scored: the coder cannot be certain (it gives every task
    # a positive probability), so the row costs more than 0 bits
    x, states, lengths = small_trace(50)
    codes = side_code_lengths(x, states, lengths, score_from=49)
    assert len(codes["side"]) == 1
    assert codes["side"][0] > 0.0 and codes["task_only"][0] > 0.0


def test_side_code_lengths_accept_zero_run_lengths() -> None:
    # "non-negative": a 0 us run (a clock tick that rounds to 0) is allowed, a negative one not
    x, states, lengths = small_trace(30)
    lengths[5] = 0.0
    codes = side_code_lengths(x, states, lengths)
    assert np.all(np.isfinite(codes["side"]))
    lengths[5] = -1.0
    with pytest.raises(ValueError, match=r"^delta_us must be finite and non-negative$"):
        side_code_lengths(x, states, lengths)


def test_side_code_lengths_messages() -> None:
    x, states, lengths = small_trace(30)
    shape = r"^tasks, end_state and delta_us must be 1-d arrays of one length$"
    with pytest.raises(ValueError, match=shape):
        side_code_lengths(x[:-1], states, lengths)  # states and lengths agree, tasks do not
    with pytest.raises(ValueError, match=shape):
        side_code_lengths(x.reshape(5, 6), states.reshape(5, 6), lengths.reshape(5, 6))
    with pytest.raises(ValueError, match=r"^score_from must lie in \[0, 30\], got 31$"):
        side_code_lengths(x, states, lengths, score_from=31)
    with pytest.raises(ValueError, match=r"^delta_us must be finite and non-negative$"):
        side_code_lengths(x, states, np.where(np.arange(30) == 3, np.inf, lengths))
    # a missing run length (None) is read as NaN and refused like any non-finite one
    with pytest.raises(ValueError, match=r"^delta_us must be finite and non-negative$"):
        side_code_lengths(x, states, [None, *lengths[1:]])


def test_side_code_lengths_bins_come_from_the_warm_up_rows_only() -> None:
    """Run lengths after row c (all scored) may change without changing any code before c:
    the bins are fitted on the warm-up rows, not on the rows still to come."""
    x, states, lengths = small_trace(600, seed=2)
    start, cut = 300, 450
    before = side_code_lengths(x, states, lengths, score_from=start)
    later = lengths.copy()
    later[cut:] *= 50.0  # the last rows' runs 50 times longer
    after = side_code_lengths(x, states, later, score_from=start)
    assert np.array_equal(before["length_edges_us"], after["length_edges_us"])
    for key in ("side", "task_only", "hit"):
        assert np.array_equal(before[key][: cut - start], after[key][: cut - start]), key
