"""Edges of the predictability ceilings that mutation testing found unpinned (group `ceiling`).

Expected values are literals worked out by hand or a second, plain implementation here (a
brute-force longest-previous-match), never the module's own constants. Survivors explained as
equivalent are in tests/mutation_survivors/ceiling.toml.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.scoring.ceiling import (
    binary_entropy,
    ceiling,
    entropy_rate,
    fano,
    match_lengths,
    side_ceiling,
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
