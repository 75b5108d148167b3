"""The online-latency targets (issue 13), checked against `kernel-oracle perf`'s numbers.

The latency of one scheduler step (`predict_next` + `update`, README §4) is measured by
`harness.online_latency`; this module only says what counts as met, so that `perf` can print
a verdict per target instead of numbers to compare by eye:

* at least one learned model that beats markov's task accuracy on every shipped trace (its
  stored results) runs at p50 <= `BUDGET_US`; a second line says the same over the tuning
  set only (`tune_all.tuning_traces`: the CFS track's traces are a held-out scheduler, scored
  on parameters tuned without them), so that a miss there can be told from a miss on CFS;
* lightgbm and decision_tree at p50 <= 5 us, lstm and gru at p50 <= 10 us;
* every model's p99 <= 5 x its p50;
* each over at least `MIN_STEPS` timed steps, one thread.

A target about a model that was not timed is `None` (not checked), never met.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from benchmark.core.paths import leaderboard_dir
from benchmark.results.store import read_results

BUDGET_US = 2.0
MIN_STEPS = 10_000
REFERENCE = "markov"


def is_reference(model: str) -> bool:
    """A registered model tagged `reference` (majority, markov, ewma, repeat_period): not a
    learned model, whatever its accuracy."""
    from benchmark.running.registry import default_registry

    registry = default_registry()
    return model in registry and "reference" in registry.entry(model).tags


@dataclass(frozen=True)
class Target:
    """p50 (and p99 / p50) bounds for some models; no models: every model timed."""

    what: str
    models: tuple[str, ...] = ()
    p50_us: float | None = None
    p99_over_p50: float | None = None


TARGETS: tuple[Target, ...] = (
    Target("lightgbm, decision_tree p50 <= 5 us", ("lightgbm", "decision_tree"), p50_us=5.0),
    Target("lstm, gru p50 <= 10 us", ("lstm", "gru"), p50_us=10.0),
    Target("every model p99 <= 5 x p50", p99_over_p50=5.0),
)


@dataclass(frozen=True)
class Verdict:
    what: str
    met: bool | None  # None: not checked (a model it names was not timed)
    detail: str


def _check(target: Target, rows: Mapping[str, Mapping[str, Any]]) -> Verdict:
    names = target.models or tuple(rows)
    missing = [n for n in names if n not in rows]
    if missing or not names:
        return Verdict(target.what, None, f"not timed: {', '.join(missing) or 'no model'}")
    failing, shown = [], []
    for name in names:
        p50, p99 = float(rows[name]["online_p50_us"]), float(rows[name]["online_p99_us"])
        ok = target.p50_us is None or p50 <= target.p50_us
        if target.p99_over_p50 is not None:
            ok = ok and p99 <= target.p99_over_p50 * p50
            shown.append(f"{name} {p99 / p50 if p50 else float('inf'):.1f}x")
        else:
            shown.append(f"{name} {p50:.2f} us")
        if not ok:
            failing.append(name)
    detail = ", ".join(shown) + (f"; missed by {', '.join(failing)}" if failing else "")
    return Verdict(target.what, not failing, detail)


def beats_reference_everywhere(
    accuracy: Mapping[str, Mapping[str, float]], traces: Iterable[str] | None = None
) -> set[str]:
    """Learned models whose task accuracy beats markov's on every trace markov was scored on
    (`accuracy`: model -> trace -> acc), or on every one of `traces` among them."""
    reference = dict(accuracy.get(REFERENCE, {}))
    if traces is not None:
        keep = set(traces)
        reference = {t: acc for t, acc in reference.items() if t in keep}
    return {
        model
        for model, by_trace in accuracy.items()
        if not is_reference(model)
        and reference
        and all(t in by_trace and by_trace[t] > acc for t, acc in reference.items())
    }


def stored_accuracy(root: Path | None = None) -> dict[str, dict[str, float]]:
    """model -> trace -> task accuracy (mean over seeds) of the stored results the board would
    accept (the store's rules: stale data, another split or schema version are left out)."""
    from benchmark.data.manifest import load_manifest

    accepted, _ = read_results(root or leaderboard_dir(), load_manifest())
    values: dict[tuple[str, str], list[float]] = {}
    for stored in accepted:
        metric = stored.result.get("metrics", {}).get("acc")
        if stored.result.get("status") == "ok" and metric is not None:
            values.setdefault((stored.model, stored.trace), []).append(float(metric["value"]))
    out: dict[str, dict[str, float]] = {}
    for (model, trace), accs in sorted(values.items()):
        out.setdefault(model, {})[trace] = mean(accs)
    return out


def _budget(what: str, beating: set[str], by_name: Mapping[str, Mapping[str, Any]]) -> Verdict:
    """Whether one of `beating` (timed) runs at p50 <= `BUDGET_US`."""
    timed = sorted(n for n in beating if n in by_name)
    inside = [n for n in timed if float(by_name[n]["online_p50_us"]) <= BUDGET_US]
    return Verdict(
        f"a learned model beating markov on {what} at p50 <= {BUDGET_US:g} us",
        # none that beats markov was timed: missed if learned models were timed (none of
        # them beats it), not checked if none was
        bool(inside) if timed else (False if any(not is_reference(n) for n in by_name) else None),
        ", ".join(f"{n} {float(by_name[n]['online_p50_us']):.2f} us" for n in timed)
        or f"no timed model beats markov on {what} in the stored results",
    )


def check_targets(
    rows: Iterable[Mapping[str, Any]],
    beating: set[str] | None = None,
    beating_tuned: set[str] | None = None,
) -> list[Verdict]:
    """Verdicts for `perf`'s latency rows (`model`, `online_p50_us`, `online_p99_us`,
    `online_steps`); `beating`: the learned models that beat markov on every trace, and
    `beating_tuned` on every trace of the tuning set. Without `beating`, both come from the
    stored results (the second only where the tuning set is not every shipped trace)."""
    by_name = {str(r["model"]): r for r in rows}
    if beating is None:
        from benchmark.data.manifest import trace_names
        from benchmark.running.tune_all import tuning_traces

        accuracy = stored_accuracy()
        beating = beats_reference_everywhere(accuracy)
        tuned = tuning_traces()
        if set(tuned) != set(trace_names()):
            beating_tuned = beats_reference_everywhere(accuracy, tuned)
    budgets = [_budget("every trace", beating, by_name)]
    if beating_tuned is not None:
        budgets.append(_budget("every trace it was tuned on", beating_tuned, by_name))
    short = [n for n, r in by_name.items() if int(r["online_steps"]) < MIN_STEPS]
    steps = Verdict(
        f"at least {MIN_STEPS:,} timed steps per model",
        not short,
        f"fewer for {', '.join(short)}" if short else "all",
    )
    return [*budgets, *(_check(t, by_name) for t in TARGETS), steps]
