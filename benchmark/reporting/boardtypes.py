"""The typed leaderboard (README §6): what a board holds, as dataclasses.

A `Board` is built from the store's accepted results alone (`benchmark.reporting.assemble`);
every rendering (Markdown, CSV, JSON, HTML) and every figure reads it, nothing re-collects the
results. `Board.to_json()` is leaderboard.json.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmark.scoring.metrics import METRICS, TARGETS, main_metric

BOARD_SCHEMA = 1
COSTS = ("fit_s", "predict_s", "online_p50_us", "online_p99_us", "peak_rss_mb")


@dataclass(frozen=True)
class Interval:
    """A value with its 95% interval."""

    value: float
    low: float
    high: float

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class SeedMean(Interval):
    """One (model, trace) metric: the mean over seeds of each seed's value and interval ends."""

    seed_std: float | None = None  # standard deviation over seeds (None for one seed)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "seed_std": self.seed_std}


@dataclass
class Cell:
    """One model on one trace: `ok`, `failed` (any seed failed), or `missing`."""

    status: str
    seeds: list[int] = field(default_factory=list)
    metrics: dict[str, SeedMean] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seeds": list(self.seeds),
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
            "costs": dict(self.costs),
        }


@dataclass
class Row:
    """One model: its cells per trace, means over traces, costs and ranks."""

    model: str
    kind: str  # reference / baseline / submission
    targets: list[str]
    status: str  # ok / failed / incomplete
    seeds: int
    per_trace: dict[str, Cell]
    mean: dict[str, Interval] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    rank: dict[str, int] = field(default_factory=dict)

    def shows(self, target: str) -> bool:
        """Whether the model has a row for `target` (one whose targets are unknown, because it
        failed before they could be read, has a `failed` row in both tables)."""
        return target in self.targets or not self.targets

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "kind": self.kind,
            "targets": list(self.targets),
            "status": self.status,
            "seeds": self.seeds,
            "per_trace": {t: c.to_json() for t, c in self.per_trace.items()},
            "mean": {k: v.to_json() for k, v in self.mean.items()},
            "costs": dict(self.costs),
            "rank": dict(self.rank),
        }


@dataclass(frozen=True)
class Failure:
    """A failed run, with its error in one line."""

    model: str
    trace: str
    seed: int | None
    error: str


@dataclass(frozen=True)
class Refusal:
    """A result file that is not scored, and why."""

    file: str
    model: str | None
    trace: str | None
    seed: int | None
    reason: str


@dataclass
class Board:
    """The leaderboard: rows in name order, per-trace ceilings, failed runs and refused files."""

    traces: list[str]
    data_sha256: dict[str, str | None]
    split_version: int
    models: list[Row]
    ceiling: dict[str, dict[str, Any]]
    failed: list[Failure]
    refused: list[Refusal]
    result_files: int

    def row(self, model: str) -> Row:
        return next(r for r in self.models if r.model == model)

    def ordered(self, target: str) -> list[Row]:
        """Models predicting `target`: ranked ones first (by rank), then the rest by name."""
        rows = [m for m in self.models if m.shows(target)]
        return sorted(rows, key=lambda m: (m.rank.get(target, math.inf), m.model))

    def to_json(self) -> dict[str, Any]:
        """leaderboard.json: the board, with the metric facts it was built with."""
        return {
            "schema_version": BOARD_SCHEMA,
            "traces": list(self.traces),
            "data_sha256": dict(self.data_sha256),
            "split_version": self.split_version,
            "metrics": {
                name: {
                    "target": m.target,
                    "higher_is_better": m.higher_is_better,
                    "description": m.description,
                }
                for name, m in METRICS.items()
            },
            "main_metric": {target: main_metric(target) for target in TARGETS},
            "models": [m.to_json() for m in self.models],
            "ceiling": dict(self.ceiling),
            "failed": [asdict(f) for f in self.failed],
            "refused": [asdict(r) for r in self.refused],
            "result_files": self.result_files,
        }
