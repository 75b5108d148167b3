"""Ranks that are significant (README §5): per trace and on the mean over traces, each model's
difference from the next model below it and from markov, and ranks that ties share.

A difference is a win only if its paired 95% block-bootstrap interval (the two models' draws on
the same resampled test positions, `benchmark.reporting.evidence`) excludes 0 and it is at least
the seed spread (max - min over seeds) of either model. Without stored predictions for both,
the comparison falls back on the two models' own intervals: overlapping intervals are a tie.
Ranks are competition ranks over the sorted models: a model that ties the one above it shares
its rank (shown as `2=`), so a run of ties shares the rank of its first model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.reporting.boardtypes import Comparison, Interval, Row, SeedMean, Standing
from benchmark.reporting.evidence import Evidence
from benchmark.scoring.bootstrap import percentile_interval
from benchmark.scoring.metrics import METRICS, main_metric

MARKOV = "markov"


@dataclass(frozen=True)
class Draws:
    """A model's resampled metric and the positions (one array per trace) it was scored on."""

    positions: tuple[np.ndarray, ...]
    values: np.ndarray

    def pairs_with(self, other: Draws) -> bool:
        return len(self.positions) == len(other.positions) and all(
            np.array_equal(a, b) for a, b in zip(self.positions, other.positions, strict=True)
        )


def compare(a: str, ea: SeedMean, b: str, eb: SeedMean, da: Draws | None, db: Draws | None):
    """`a` minus `b` as a `Comparison` (see the module docstring for when it is a tie)."""
    value = ea.value - eb.value
    below_spread = abs(value) < max(ea.spread, eb.spread)
    if da is None or db is None or not da.pairs_with(db):
        return Comparison(b, None, ea.overlaps(eb) or below_spread, "overlap")
    low, high = percentile_interval(da.values - db.values)
    tie = bool(low <= 0.0 <= high) or below_spread
    return Comparison(b, Interval(value, low, high), tie, "paired")


def standings(
    entries: dict[str, SeedMean], metric: str, draws: dict[str, Draws]
) -> dict[str, Standing]:
    """The standing of each model among `entries` (model -> its value of `metric`); `draws`
    holds the models with stored predictions."""
    order = sorted(entries, key=lambda m: (METRICS[metric].sort_key(entries[m].value), m))

    def versus(a: str, b: str) -> Comparison:
        return compare(a, entries[a], b, entries[b], draws.get(a), draws.get(b))

    out: dict[str, Standing] = {}
    for i, model in enumerate(order):
        below = versus(model, order[i + 1]) if i + 1 < len(order) else None
        markov = versus(model, MARKOV) if MARKOV in entries and model != MARKOV else None
        above = out[order[i - 1]] if i else None
        rank = above.rank if above and above.vs_next and above.vs_next.tie else i + 1
        out[model] = Standing(rank, False, below, markov)
    for standing in out.values():
        standing.tied = sum(s.rank == standing.rank for s in out.values()) > 1
    return out


def draws_of(evidence: dict[tuple[str, str], Evidence], model: str, traces: Sequence[str],
           metric: str) -> Draws | None:  # fmt: skip
    """`model`'s draws of `metric` on `traces` (their mean over traces); None if any is absent."""
    found = [evidence.get((model, t)) for t in traces]
    if any(e is None or metric not in e.draws for e in found):
        return None
    positions = tuple(e.positions for e in found)  # type: ignore[union-attr]
    return Draws(positions, np.mean([e.draws[metric] for e in found], axis=0))  # type: ignore[union-attr]


def rank_board(
    rows: Sequence[Row], traces: Sequence[str], evidence: dict[tuple[str, str], Evidence]
) -> None:
    """Fill every ok cell's and every mean's standing, and `Row.rank`, for each target."""
    for target in ("task", "delta"):
        metric = main_metric(target)
        scored = [r for r in rows if target in r.targets]
        for trace in traces:
            cells = {r.model: r.per_trace[trace] for r in scored}
            entries = {
                m: c.metrics[metric]
                for m, c in cells.items()
                if c.status == "ok" and metric in c.metrics
            }
            draws = {m: d for m in entries if (d := draws_of(evidence, m, [trace], metric))}
            for model, standing in standings(entries, metric, draws).items():
                cells[model].standing[target] = standing
        means = {r.model: r.mean[metric] for r in scored if metric in r.mean}
        draws = {m: d for m in means if (d := draws_of(evidence, m, traces, metric))}
        for model, standing in standings(means, metric, draws).items():
            row = next(r for r in scored if r.model == model)
            row.standing[target] = standing
            row.rank[target] = standing.rank
