"""The predictability ceiling: Lambda against brute force, Fano's inversion, known sources."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.scoring.ceiling import (
    binary_entropy,
    ceiling,
    entropy_rate,
    fano,
    match_lengths,
    max_predictability,
)


def brute_lambdas(seq: list[int]) -> list[int]:
    """Lambda_i by definition: shortest substring from i not found inside seq[0:i] (O(n^3))."""
    n = len(seq)
    out = []
    for i in range(n):
        past = seq[:i]
        k = 1
        while i + k <= n:
            sub = seq[i : i + k]
            found = any(past[j : j + k] == sub for j in range(0, i - k + 1))
            if not found:
                break
            k += 1
        out.append(k)  # if the whole rest was found, k = n - i + 1 (no longer substring)
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=60))
def test_lambdas_match_brute_force(seq: list[int]) -> None:
    assert (match_lengths(seq) + 1).tolist() == brute_lambdas(seq)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 2), min_size=1, max_size=5),
    st.integers(1, 80),
    st.lists(st.integers(0, 2), max_size=10),
)
def test_lambdas_match_brute_force_on_repetitive_sequences(period, length, tail) -> None:
    """Periodic stretches exercise long matches, clones and the no-overlap rule."""
    seq = (period * length)[:length] + tail
    assert (match_lengths(seq) + 1).tolist() == brute_lambdas(seq)


def test_lambdas_hand_computed() -> None:
    # a b a b a: L = 0, 0 ('b' new), 2 ('ab' in 'ab', 'aba' not), 2 ('ba' in 'aba', to the
    # end), 1 ('a' in 'abab', to the end)
    assert match_lengths([0, 1, 0, 1, 0]).tolist() == [0, 0, 2, 2, 1]
    # the occurrence must lie inside the past: at i=1 of 'aaaa', 'aa' is not inside 'a'
    assert match_lengths([7, 7, 7, 7]).tolist() == [0, 1, 2, 1]
    assert match_lengths([]).tolist() == []


def test_entropy_rate_formula() -> None:
    seq = [0, 1, 0, 1, 0]
    lambdas = sum(brute_lambdas(seq))  # 1 + 1 + 3 + 3 + 2 = 10
    assert lambdas == 10
    assert entropy_rate(seq) == pytest.approx(5 * math.log2(5) / 10)
    assert entropy_rate([]) == 0.0
    assert entropy_rate([4]) == 0.0


def test_fano_inverts() -> None:
    for n_symbols in (2, 3, 8, 50):
        for pi in (1 / n_symbols + 1e-3, 0.3, 0.5, 0.77, 0.99):
            if pi <= 1 / n_symbols or pi >= 1:
                continue
            assert max_predictability(fano(pi, n_symbols), n_symbols) == pytest.approx(pi, abs=1e-9)


def test_fano_edges() -> None:
    assert max_predictability(3.0, 8) == pytest.approx(1 / 8)  # S = log2 N: no better than chance
    assert max_predictability(5.0, 8) == pytest.approx(1 / 8)  # estimate above log2 N
    assert max_predictability(0.0, 8) == 1.0
    assert max_predictability(0.7, 1) == 1.0  # one symbol: always predictable
    assert max_predictability(1.0, 2) == pytest.approx(0.5)
    # N = 2: S = H(pi) exactly
    assert max_predictability(binary_entropy(0.9), 2) == pytest.approx(0.9, abs=1e-9)
    with pytest.raises(ValueError):
        max_predictability(float("nan"), 4)
    with pytest.raises(ValueError):
        max_predictability(1.0, 0)


def test_iid_uniform_is_near_chance() -> None:
    """N = 8, n = 200k: true entropy 3 bits, Pi_max 1/8.

    The estimator is biased at finite n (it finds 2.86 bits here) and Fano's right side is steep
    near log2 N, so Pi_max comes out near 0.29, not 0.125: we check the entropy within 6% and
    Pi_max within [1/8, 0.33], and far below a predictable source.
    """
    rng = np.random.default_rng(0)
    out = ceiling(rng.integers(0, 8, 200_000))
    assert out["n"] == 200_000 and out["n_symbols"] == 8
    assert out["entropy_rate"] == pytest.approx(3.0, rel=0.06)
    assert 1 / 8 <= out["max_predictability"] <= 0.33


def test_binary_iid_is_exactly_chance() -> None:
    rng = np.random.default_rng(1)
    out = ceiling(rng.integers(0, 2, 50_000))
    assert out["entropy_rate"] == pytest.approx(1.0, rel=0.03)
    assert out["max_predictability"] == pytest.approx(0.5, abs=0.08)


def test_periodic_is_near_one() -> None:
    out = ceiling(np.tile(np.arange(7), 20_000))
    assert out["entropy_rate"] < 0.01
    assert out["max_predictability"] > 0.999


def test_more_predictable_source_has_higher_ceiling() -> None:
    rng = np.random.default_rng(2)
    n = 50_000
    noisy = rng.integers(0, 8, n)
    mostly_periodic = np.where(rng.random(n) < 0.9, np.arange(n) % 8, noisy)
    a, b = ceiling(noisy), ceiling(mostly_periodic)
    assert b["entropy_rate"] < a["entropy_rate"]
    assert b["max_predictability"] > a["max_predictability"] > 1 / 8


def test_degenerate_sequences() -> None:
    assert ceiling([5, 5, 5])["max_predictability"] == 1.0
    assert ceiling([3])["max_predictability"] == 1.0
    empty = ceiling([])
    assert empty["n"] == 0 and math.isnan(empty["max_predictability"])
