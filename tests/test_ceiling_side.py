"""The side-information ceiling: its counting machinery against brute force, the mixture bound,
causality, and its bias on sources of known entropy rate (README §5).

Expected values come from the sources' definitions (entropy of a known distribution or
transition matrix, the true model's code length on the same sample), never from the module.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.scoring.ceiling import (
    ceiling,
    max_predictability,
    mean_interval,
    side_ceiling,
    side_code_lengths,
    side_symbols,
)
from benchmark.scoring.ceiling_coder import _backoff, _Groups, _mix, length_edges

# -- sources of known entropy rate ---------------------------------------------------------------


def noise(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Side information that says nothing about the tasks: i.i.d. end states and run lengths."""
    return rng.integers(0, 4, n), rng.lognormal(2.0, 1.0, n)


def entropy(p: list[float]) -> float:
    """H(p) in bits."""
    q = np.asarray(p)
    return float(-(q * np.log2(q)).sum())


def iid_source(rng: np.random.Generator, n: int, p: list[float]) -> tuple[np.ndarray, float]:
    """Tasks i.i.d. from `p`; returns the tasks and the true code length per symbol."""
    x = rng.choice(len(p), n, p=p)
    return x, float(-np.log2(np.asarray(p)[x]).mean())


def markov2_source(rng: np.random.Generator, n: int, k: int = 3) -> tuple[np.ndarray, float, float]:
    """A 2nd-order Markov chain with a random transition tensor.

    Returns the tasks, the true model's code length on them (positions >= 2) and the entropy
    rate `sum over (a, b) of pi(a, b) H(P[a, b])` with `pi` the stationary pair distribution.
    """
    P = rng.dirichlet(np.full(k, 0.5), size=(k, k))
    pairs = np.zeros((k * k, k * k))
    for a in range(k):
        for b in range(k):
            pairs[a * k + b, b * k : b * k + k] = P[a, b]
    pi = np.full(k * k, 1.0 / (k * k))
    for _ in range(2000):
        pi = pi @ pairs
    rate = sum(
        pi[a * k + b] * float(-(P[a, b] * np.log2(P[a, b])).sum())
        for a in range(k)
        for b in range(k)
    )
    cum = np.cumsum(P, axis=2)
    x = np.zeros(n, dtype=np.int64)
    x[:2] = rng.integers(0, k, 2)
    u = rng.random(n)
    for j in range(2, n):
        x[j] = min(int(np.searchsorted(cum[x[j - 2], x[j - 1]], u[j], side="right")), k - 1)
    ideal = float(-np.log2(P[x[:-2], x[1:-1], x[2:]]).mean())
    return x, ideal, rate


def hidden_channel(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Task j = a function of run j-1's end state (4 values) and length class (short/long).

    The tasks alone are i.i.d. uniform over 8 (3 bits); given the side information, 0 bits.
    """
    states = rng.integers(0, 4, n)
    long_run = rng.random(n) < 0.5
    lengths = np.where(long_run, rng.uniform(100, 200, n), rng.uniform(1, 2, n))
    x = np.zeros(n, dtype=np.int64)
    x[1:] = (states * 2 + long_run)[:-1]
    return x, states, lengths


def timer_source(rng: np.random.Generator, n: int, period_us: float = 1000.0) -> tuple:
    """Two tasks flip a fair coin; a third runs as soon as `period_us` have passed since it last
    ran (run lengths uniform in [5, 15] us). Given the elapsed time the timer is certain, so the
    true rate is (share of coin positions) x 1 bit."""
    lengths = rng.uniform(5, 15, n)
    coin = rng.integers(0, 2, n)
    x = np.zeros(n, dtype=np.int64)
    since = 0.0
    for j in range(n):
        if since >= period_us:
            x[j], since = 2, lengths[j]
        else:
            x[j], since = coin[j], since + lengths[j]
    return x, lengths


# -- counting machinery --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=60))
def test_earlier_counts_match_brute_force(rows: list[tuple[int, bool]]) -> None:
    keys = np.array([k for k, _ in rows], dtype=np.int64)
    flags = np.array([f for _, f in rows], dtype=np.int8)
    want = [sum(flags[i] for i in range(j) if keys[i] == keys[j]) for j in range(len(rows))]
    assert _Groups.of(keys).earlier(flags).tolist() == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=50))
def test_refined_and_extended_groups_are_pairs(rows: list[tuple[int, int]]) -> None:
    """refine(sub) and extend(sym) both group positions by the pair of keys, in time order."""
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.int64)
    ones = np.ones(len(rows), dtype=np.int8)
    want = [sum(1 for i in range(j) if a[i] == a[j] and b[i] == b[j]) for j in range(len(rows))]
    groups = _Groups.of(a)
    assert groups.refine(b.astype(np.int16)).earlier(ones).tolist() == want
    assert groups.extend(b).earlier(ones).tolist() == want


def test_backoff_hand_computed() -> None:
    """q_d = (n1 + b q_(d-1)) / (n + b), b = kappa x distinct answers seen; n = 0 keeps q."""
    n = np.array([0, 3, 5], dtype=np.int32)
    n1 = np.array([0, 2, 5], dtype=np.int32)
    empty = np.zeros(3, dtype=np.int32)
    (yes0, no0), (yes1, no1) = _backoff([(n, n1), (empty, empty)], kappa=8.0)
    # position 0: nothing seen -> 1/2; position 1: 2 of 3, both answers seen (b = 16);
    # position 2: 5 of 5, one answer seen (b = 8)
    assert yes0 == pytest.approx([0.5, (2 + 16 * 0.5) / 19, (5 + 8 * 0.5) / 13], rel=1e-6)
    assert no0 == pytest.approx([0.5, (1 + 16 * 0.5) / 19, (0 + 8 * 0.5) / 13], rel=1e-6)
    assert yes1 == pytest.approx(yes0, rel=1e-6) and no1 == pytest.approx(no0, rel=1e-6)


def test_mixture_codes_like_the_bayes_average() -> None:
    """A Bayesian mixture's total code length is -log2 of the average of its members' total
    likelihoods (the product of its predictive probabilities telescopes)."""
    rng = np.random.default_rng(3)
    n = 400
    y = rng.random(n) < 0.3
    asked = rng.random(n) < 0.8
    models = []
    for _ in range(3):
        yes = rng.uniform(0.05, 0.95, n).astype(np.float32)
        models.append((yes, (1 - yes).astype(np.float32)))
    yes, no = _mix(models, y, asked, 0)
    mix_bits = -np.log2(np.where(y, yes, no))[asked].sum()
    member_bits = [-np.log2(np.where(y, a, b))[asked].sum() for a, b in models]
    want = -math.log2(np.mean([2.0 ** -(b - min(member_bits)) for b in member_bits]))
    assert mix_bits == pytest.approx(want + min(member_bits), abs=1e-3)
    # scoring from a later start gives the same predictive probabilities there
    yes_late, _ = _mix(models, y, asked, 150)
    assert yes_late == pytest.approx(yes[150:], rel=1e-9)


def test_length_edges_fall_between_clusters() -> None:
    rng = np.random.default_rng(4)
    values = np.concatenate([rng.uniform(1, 2, 5000), rng.uniform(100, 200, 5000)])
    edges = length_edges(values, 8)
    assert len(edges) == 7 and np.all(np.diff(edges) > 0)
    between = edges[(edges > 2) & (edges < 100)]
    assert len(between) == 1  # exactly one edge in the gap, none splitting it twice
    assert ((values < between[0]) == (values < 50)).all()
    with_min = length_edges(values, 8, from_min=True)
    assert with_min[0] == pytest.approx(values.min()) and len(with_min) == 8
    assert length_edges(np.array([]), 8).size == 0
    assert length_edges(np.full(100, 7.0), 8).size == 0  # one value: no gap anywhere


def test_side_symbols_are_the_previous_run() -> None:
    states = np.array([0, 1, 1, 2])
    lengths = np.array([1.0, 50.0, 1.0, 50.0])
    # edge 10: bin 0 below, 1 above; symbol = 1 + state * 2 + bin of the run before
    out = side_symbols(states, lengths, edges_us=np.array([10.0]))
    assert out.tolist() == [0, 1 + 0 * 2 + 0, 1 + 1 * 2 + 1, 1 + 1 * 2 + 0]
    with pytest.raises(ValueError):
        side_symbols(np.array([-1, 0]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        side_symbols(np.array([0, 1]), np.array([1.0]))


def test_mean_interval_matches_the_normal_width_on_iid_data() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(2.0, 1.0, 40_000)
    low, high = mean_interval(values)
    half = 1.96 / math.sqrt(len(values))  # sigma = 1
    assert low < values.mean() < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.25)
    assert mean_interval(np.full(100, 0.25)) == pytest.approx((0.25, 0.25))


# -- the estimator on sources of known entropy rate ----------------------------------------------

N = 40_000


def test_iid_source_within_its_learning_cost() -> None:
    rng = np.random.default_rng(10)
    p = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04]
    x, ideal = iid_source(rng, N, p)
    states, lengths = noise(rng, N)
    out = side_ceiling(x, states, lengths)
    rate = entropy(p)
    # 5 free parameters learned from 40k symbols cost ~ 5 log2(n) / 2n = 1e-3 bits; the mixture
    # over uninformative contexts a few thousandths more
    assert -0.005 <= out["entropy_rate_bits"] - ideal <= 0.02
    assert out["max_predictability"] == pytest.approx(max_predictability(rate, 6), abs=0.01)
    assert out["entropy_low_bits"] <= ideal + 0.02 and out["entropy_high_bits"] >= ideal - 0.005


def test_markov2_source_within_its_learning_cost() -> None:
    rng = np.random.default_rng(11)
    x, ideal, rate = markov2_source(rng, N)
    states, lengths = noise(rng, N)
    out = side_ceiling(x, states, lengths)
    assert -0.005 <= out["entropy_rate_bits"] - ideal <= 0.02
    assert abs(out["entropy_rate_bits"] - rate) <= 0.04  # sampling spread of the rate itself
    assert out["max_predictability"] == pytest.approx(max_predictability(rate, 3), abs=0.015)


def test_uniform_source_is_at_chance() -> None:
    """LZ overshoots to Pi ~0.30 here (its finite-n bias); the coder stays at 1/8."""
    rng = np.random.default_rng(12)
    x = rng.integers(0, 8, N)
    states, lengths = noise(rng, N)
    out = side_ceiling(x, states, lengths)
    assert out["entropy_rate_bits"] == pytest.approx(3.0, abs=0.01)
    assert 1 / 8 <= out["max_predictability"] <= 0.135


def test_hidden_side_channel_is_found() -> None:
    rng = np.random.default_rng(13)
    x, states, lengths = hidden_channel(rng, N)
    out = side_ceiling(x, states, lengths)
    history = ceiling(x)
    assert out["max_predictability"] > 0.99 and out["entropy_rate_bits"] < 0.05
    assert out["estimator_accuracy"] > 0.99
    assert out["task_only_entropy_rate_bits"] == pytest.approx(3.0, abs=0.02)
    assert history["max_predictability"] < 0.35  # the task-only bound cannot see it
    assert out["low"] > history["max_predictability"]


def test_the_current_run_is_not_seen() -> None:
    """A task that is a function of its *own* run's end state and length is not predictable from
    rows < j: the bound must stay at chance (seeing it would be a leak in the estimator)."""
    rng = np.random.default_rng(19)
    x, states, lengths = hidden_channel(rng, N + 1)
    out = side_ceiling(x[1:], states[:-1], lengths[:-1])  # row j now holds the run j-1 side
    assert out["entropy_rate_bits"] == pytest.approx(3.0, abs=0.02)
    assert out["max_predictability"] < 0.14


def test_timer_is_found_through_elapsed_time() -> None:
    rng = np.random.default_rng(14)
    x, lengths = timer_source(rng, N)
    states = rng.integers(0, 2, N)
    truth = float((x != 2).mean())
    out = side_ceiling(x, states, lengths)
    assert truth - 0.005 <= out["entropy_rate_bits"] <= truth + 0.03
    assert out["task_only_entropy_rate_bits"] >= truth + 0.05  # the timer's turn is unknown


def test_side_bound_is_not_below_the_task_only_bound_beyond_lz_error() -> None:
    """On every source: the side ceiling may sit below the LZ one only by as much as LZ itself
    misses the true Pi_max (it overshoots on many-symbol i.i.d. sources)."""
    rng = np.random.default_rng(15)
    cases = []
    p = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04]
    x, _ = iid_source(rng, N, p)
    cases.append((x, *noise(rng, N), entropy(p)))
    x, _, rate = markov2_source(rng, N)
    cases.append((x, *noise(rng, N), rate))
    x = rng.integers(0, 8, N)
    cases.append((x, *noise(rng, N), 3.0))
    for x, states, lengths, rate in cases:
        n_sym = len(np.unique(x))
        truth = max_predictability(rate, n_sym)
        lz = ceiling(x)["max_predictability"]
        side = side_ceiling(x, states, lengths)["max_predictability"]
        assert side >= lz - abs(lz - truth) - 0.01


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.integers(20, 400))
def test_side_code_never_longer_than_task_chain_plus_mixture_cost(seed, k, n) -> None:
    """Each question's mixture holds the 7 task-history models among its 20, so its code is at
    most log2(20/7) bits longer than theirs: (k - 1) questions, no warm-up."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, k, n)
    x[:k] = np.arange(k)  # every symbol present
    codes = side_code_lengths(x, rng.integers(0, 3, n), rng.lognormal(2, 1, n))
    slack = (k - 1) * math.log2(20 / 7)
    assert codes["side"].sum() <= codes["task_only"].sum() + slack + 1e-2


def test_code_lengths_are_causal() -> None:
    """Scrambling rows >= c (after the warm-up) leaves every code length before c unchanged."""
    rng = np.random.default_rng(16)
    n, start, cut = 3000, 1000, 2000
    x, states, lengths = hidden_channel(rng, n)
    before = side_code_lengths(x, states, lengths, score_from=start)
    perm = np.concatenate([np.arange(cut), cut + rng.permutation(n - cut)])
    after = side_code_lengths(x[perm], states[perm], lengths[perm], score_from=start)
    k = cut - start
    for key in ("side", "task_only", "hit"):
        assert np.array_equal(before[key][:k], after[key][:k])
    assert not np.array_equal(before["side"][k:], after["side"][k:])


def test_warm_up_rows_are_learned_from_not_scored() -> None:
    rng = np.random.default_rng(17)
    x, states, lengths = hidden_channel(rng, 20_000)
    cold = side_ceiling(x[15_000:], states[15_000:], lengths[15_000:])
    warm = side_ceiling(x, states, lengths, score_from=15_000)
    assert warm["n_scored"] == cold["n_scored"] == 5000
    assert warm["entropy_rate_bits"] < cold["entropy_rate_bits"]  # learned in the warm-up
    assert warm["n_symbols"] == 8


# -- the API --------------------------------------------------------------------------------------


def test_side_ceiling_keys_and_edge_cases() -> None:
    rng = np.random.default_rng(18)
    x, states, lengths = hidden_channel(rng, 2000)
    out = side_ceiling(x, states, lengths, score_from=500)
    for key in ("max_predictability", "low", "high", "entropy_rate_bits", "covers", "estimator"):
        assert key in out
    assert out["low"] <= out["max_predictability"] <= out["high"]
    assert out["entropy_low_bits"] <= out["entropy_rate_bits"] <= out["entropy_high_bits"]
    assert "end state" in out["covers"] and "run length" in out["covers"]
    json.dumps(out, allow_nan=False)  # plain Python values only
    assert side_ceiling(np.full(50, 3), states[:50], lengths[:50])["max_predictability"] == 1.0
    empty = side_ceiling(x, states, lengths, score_from=len(x))
    assert empty["n_scored"] == 0 and math.isnan(empty["max_predictability"])
    wide = side_ceiling(x, states, lengths, score_from=500, n_symbols=20)
    assert wide["max_predictability"] >= out["max_predictability"]  # Fano: larger N, higher
    with pytest.raises(ValueError):
        side_ceiling(x, states, lengths[:-1])
    with pytest.raises(ValueError):
        side_ceiling(x, states, -lengths)
    with pytest.raises(ValueError):
        side_ceiling(x, states, lengths, score_from=len(x) + 1)
    assert ceiling(x)["covers"] == "the task history alone"


# -- the shipped traces ---------------------------------------------------------------------------

TRACES = ("keepalive", "mixed", "multi-worker", "single-worker")
RESULTS = Path(__file__).resolve().parent.parent / "leaderboard" / "results"


def trace_ceilings(name: str) -> tuple[dict, dict]:
    """(task-history ceiling of the test rows, side ceiling warmed up on train + valid)."""
    from benchmark.data.dataset import load_trace

    try:
        runs = load_trace(name)
    except (FileNotFoundError, KeyError) as error:
        pytest.skip(f"trace {name} not available: {error}")
    lo, hi = runs.split.test
    side = side_ceiling(runs.task[:hi], runs.end_state[:hi], runs.delta_us[:hi], score_from=lo)
    return ceiling(runs.task[lo:hi]), side


def stored_acc(trace: str) -> dict[str, dict]:
    """model/seed -> acc metric of every stored ok result on `trace`."""
    out = {}
    for path in sorted(RESULTS.glob(f"*/{trace}/seed*.json")):
        result = json.loads(path.read_text())
        if result.get("status") == "ok" and "acc" in result.get("metrics", {}):
            out[f"{path.parts[-3]}/{path.stem}"] = result["metrics"]["acc"]
    return out


def test_single_worker_side_ceiling_is_above_the_tree_models() -> None:
    """Issue 11: lightgbm's acc interval [0.9957, 0.9970] lay above the task-only 0.99446."""
    history, side = trace_ceilings("single-worker")
    assert side["low"] > 0.9970  # lightgbm's interval top at the time of the issue
    assert side["max_predictability"] > history["max_predictability"]
    assert side["estimator_accuracy"] <= side["max_predictability"]
    for model, acc in stored_acc("single-worker").items():
        assert acc["low"] <= side["max_predictability"], model


@pytest.mark.slow
@pytest.mark.parametrize("trace", [t for t in TRACES if t != "single-worker"])
def test_no_stored_model_lies_above_the_side_ceiling(trace: str) -> None:
    history, side = trace_ceilings(trace)
    assert side["max_predictability"] >= history["max_predictability"]
    assert side["task_only_entropy_rate_bits"] >= side["entropy_rate_bits"]
    for model, acc in stored_acc(trace).items():
        assert acc["low"] <= side["max_predictability"], model
