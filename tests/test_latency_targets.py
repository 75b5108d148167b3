"""The latency targets `kernel-oracle perf` checks: what counts as met, missed, not checked."""

from __future__ import annotations

from benchmark.running.latency_targets import (
    MIN_STEPS,
    beats_reference_everywhere,
    check_targets,
    stored_accuracy,
)


def row(model, p50, p99=None, steps=MIN_STEPS):
    return {"model": model, "online_p50_us": p50, "online_p99_us": p99 or 2 * p50,
            "online_steps": steps}  # fmt: skip


FAST = [row("markov", 1.0), row("decision_tree", 1.5), row("lightgbm", 4.0),
        row("lstm", 6.0), row("gru", 9.5)]  # fmt: skip


def test_all_met():
    verdicts = check_targets(FAST, beating={"decision_tree", "lightgbm"})
    assert [v.met for v in verdicts] == [True] * 5, verdicts


def test_missed_and_not_checked():
    slow = [*FAST[:2], row("lightgbm", 6.0), row("lstm", 6.0, p99=31.0), row("gru", 9.5, steps=10)]
    budget, trees, rnn, tails, steps = check_targets(slow, beating={"lightgbm"})
    assert budget.met is False and "lightgbm 6.00" in budget.detail
    assert trees.met is False and "lightgbm" in trees.detail.split("missed by")[1]
    assert rnn.met is True
    assert tails.met is False and "lstm" in tails.detail.split("missed by")[1]
    assert steps.met is False and "gru" in steps.detail
    only_markov = check_targets([row("markov", 1.0)], beating=set())
    assert [v.met for v in only_markov[:3]] == [None, None, None]


def test_beats_reference_everywhere():
    acc = {
        "markov": {"a": 0.8, "b": 0.5},
        "ewma": {"a": 0.9, "b": 0.9},  # a reference row never counts
        "repeat_period": {"a": 0.9, "b": 0.9},  # tagged reference in the registry
        "tree": {"a": 0.81, "b": 0.6},
        "tie": {"a": 0.8, "b": 0.6},  # equal is not better
        "partial": {"a": 0.99},
    }
    assert beats_reference_everywhere(acc) == {"tree"}
    assert beats_reference_everywhere({"tree": {"a": 1.0}}) == set()


def test_stored_accuracy_reads_the_shipped_results_and_skips_stale_ones(tmp_path):
    import json
    import shutil

    from benchmark.core.paths import leaderboard_dir

    acc = stored_accuracy()
    results = leaderboard_dir() / "results"
    for trace in ("mixed", "single-worker"):  # markov has one seed: its file's own number
        stored = json.loads((results / "markov" / trace / "seed0.json").read_text())
        assert acc["markov"][trace] == stored["metrics"]["acc"]["value"]
    # a copy whose markov results claim another split version is stale: left out
    shutil.copytree(results / "markov", tmp_path / "results" / "markov")
    for path in (tmp_path / "results" / "markov").glob("*/seed0.json"):
        stored = json.loads(path.read_text())
        path.write_text(json.dumps({**stored, "split_version": 1}))
    assert stored_accuracy(tmp_path) == {}


def test_the_tuning_set_gets_its_own_budget_line() -> None:
    """A learned model can beat markov on every trace it was tuned on and not on a held-out
    one (the CFS track): two lines, each with its own verdict."""
    acc = {"markov": {"eevdf": 0.8, "cfs": 0.9}, "tree": {"eevdf": 0.85, "cfs": 0.8}}
    assert beats_reference_everywhere(acc) == set()
    assert beats_reference_everywhere(acc, ["eevdf"]) == {"tree"}
    rows = [row("tree", 1.5), row("markov", 1.0)]
    everywhere, tuned, *_ = check_targets(rows, beating=set(), beating_tuned={"tree"})
    assert everywhere.met is False and "every trace" in everywhere.what
    assert tuned.met is True and "tuned on" in tuned.what and "tree 1.50 us" in tuned.detail
