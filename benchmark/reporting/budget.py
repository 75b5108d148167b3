"""The latency-constrained view (README §6): for each budget of online p50 latency per
decision, the best model within it on each target, with its acc and mse_z (means over traces).

A model is within a budget when its mean online p50 over traces is at most the budget; the
best is the first by the board's order (its rank on the main metric, ties by name)."""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.reporting.boardtypes import Budget, BudgetPick, Row
from benchmark.scoring.metrics import METRICS, main_metric

BUDGETS_US = (1.0, 2.0, 5.0, 10.0, 100.0)


def _pick(rows: Sequence[Row], target: str, budget_us: float) -> BudgetPick | None:
    metric = main_metric(target)
    within = [
        r
        for r in rows
        if target in r.targets
        and metric in r.mean
        and r.costs.get("online_p50_us") is not None
        and r.costs["online_p50_us"] <= budget_us
    ]
    if not within:
        return None
    best = min(within, key=lambda r: (METRICS[metric].sort_key(r.mean[metric].value), r.model))
    acc, mse = best.mean.get("acc"), best.mean.get("mse_z")
    return BudgetPick(
        best.model,
        best.costs["online_p50_us"],
        acc.value if acc else None,
        mse.value if mse else None,
    )


def budgets(rows: Sequence[Row], limits: Sequence[float] = BUDGETS_US) -> list[Budget]:
    """One `Budget` per latency limit (µs), in increasing order."""
    return [Budget(b, _pick(rows, "task", b), _pick(rows, "delta", b)) for b in sorted(limits)]
