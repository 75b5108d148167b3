"""The typed leaderboard (README §6): what a board holds, as dataclasses.

A `Board` is built from the store's accepted results alone (`benchmark.reporting.assemble`);
every rendering (Markdown, CSV, JSON, HTML) and every figure reads it, nothing re-collects the
results. `Board.to_json()` is leaderboard.json: each dataclass field is a JSON key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from benchmark.scoring.metrics import METRICS, TARGETS, main_metric

BOARD_SCHEMA = 1
COSTS = ("fit_s", "predict_s", "online_p50_us", "online_p99_us", "peak_rss_mb")
# The two ceilings of a trace (README §5), by what they cover.
TASK_HISTORY = "task_history"
SIDE_INFORMATION = "side_information"


@dataclass(frozen=True)
class Interval:
    """A value with its 95% interval."""

    value: float
    low: float
    high: float

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high


@dataclass(frozen=True)
class SeedMean(Interval):
    """A metric of one model: the mean over seeds of each seed's value and interval ends (per
    trace), or the mean over traces of those (the row's mean). The seed spread is the range
    of the per-seed values (per trace), or of the per-seed means over traces."""

    seed_std: float | None = None  # standard deviation over seeds (None for one seed)
    seed_min: float | None = None
    seed_max: float | None = None

    @property
    def spread(self) -> float:
        """max - min over seeds (0 for one seed)."""
        if self.seed_min is None or self.seed_max is None:
            return 0.0
        return self.seed_max - self.seed_min


@dataclass(frozen=True)
class Comparison:
    """This model minus `other` (the next model below it, or markov) on the same positions."""

    other: str
    diff: Interval | None  # the paired 95% block-bootstrap interval; None without predictions
    tie: bool  # not a win: the interval covers 0 or the difference is below the seed spread
    evidence: str  # "paired" (stored predictions) or "overlap" (the two intervals only)


@dataclass
class Standing:
    """Where a model stands on one target (on one trace, or on the mean over traces)."""

    rank: int  # competition rank: models that tie share the best rank of their group
    tied: bool  # the rank is shared (shown as `2=`)
    vs_next: Comparison | None = None
    vs_markov: Comparison | None = None

    @property
    def text(self) -> str:
        return f"{self.rank}=" if self.tied else str(self.rank)


@dataclass
class Cell:
    """One model on one trace: `ok`, `failed` (a seed failed), `stale` (its seeds used different
    parameters or code) or `missing`."""

    status: str
    seeds: list[int] = field(default_factory=list)
    metrics: dict[str, SeedMean] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    reason: str | None = None  # why it is stale
    standing: dict[str, Standing] = field(default_factory=dict)
    normalized: Interval | None = None  # share of the gap from markov to the ceiling closed
    mse_ratio: Interval | None = None  # mse_z / the best reference predictor's
    flags: list[str] = field(default_factory=list)
    horizon: dict[str, SeedMean] = field(default_factory=dict)  # "acc@8" etc. (horizon track)


@dataclass
class Row:
    """One model: its cells per trace, means over traces, costs and standings."""

    model: str
    kind: str  # reference / baseline / submission
    targets: list[str]
    status: str  # ok / failed / incomplete
    seeds: int
    per_trace: dict[str, Cell]
    mean: dict[str, SeedMean] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    rank: dict[str, int] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    standing: dict[str, Standing] = field(default_factory=dict)
    normalized: Interval | None = None
    mse_ratio: Interval | None = None  # geometric mean over traces
    suspected_leak: bool = False
    variant: str = ""  # "tuned" (it has a default row), "default" (that row), else ""
    # target -> the params file its results ran with and that file's study journal, relative
    # to the board's folder (where the page sits); only files that exist there
    params_files: dict[str, str] = field(default_factory=dict)
    study_files: dict[str, str] = field(default_factory=dict)
    horizon: dict[str, SeedMean] = field(default_factory=dict)  # means over traces
    # scheduler -> metric -> mean over that scheduler's traces (only with 2+ schedulers)
    mean_by_scheduler: dict[str, dict[str, SeedMean]] = field(default_factory=dict)

    def shows(self, target: str) -> bool:
        """Whether the model has a row for `target` (one whose targets are unknown, because it
        failed before they could be read, has a `failed` row in both tables)."""
        return target in self.targets or not self.targets

    def rank_text(self, target: str) -> str:
        standing = self.standing.get(target)
        return standing.text if standing else str(self.rank.get(target, ""))


@dataclass(frozen=True)
class Failure:
    """A failed run, with its error in one line."""

    model: str
    trace: str
    seed: int | None
    error: str
    file: str = ""


@dataclass(frozen=True)
class Refusal:
    """A result file that is not scored, and why."""

    file: str
    model: str | None
    trace: str | None
    seed: int | None
    reason: str


@dataclass(frozen=True)
class BudgetPick:
    """The best model within a latency budget on one target, with its scores."""

    model: str
    online_p50_us: float
    acc: float | None
    mse_z: float | None


@dataclass(frozen=True)
class Budget:
    """A latency budget (online p50, µs) and the best model within it for each target."""

    budget_us: float
    task: BudgetPick | None
    delta: BudgetPick | None


@dataclass(frozen=True)
class HorizonFall:
    """How far ahead one model's free run stays above a reference's one-step accuracy on a
    trace: the first recorded step h whose acc@h is below it (None: none up to the horizon)."""

    model: str
    trace: str
    below_markov: int | None
    below_majority: int | None


@dataclass(frozen=True)
class SchedulerAgreement:
    """Whether the models' order on one scheduler's traces is their order on another's: Spearman's
    rho of the per-scheduler means of `metric` over the `models` that have both (None below 3)."""

    target: str
    metric: str
    first: str
    second: str
    models: list[str]
    rho: float | None


@dataclass(frozen=True)
class TransferRank:
    """One model's rank on a holdout board and on the shipped board."""

    model: str
    holdout: int
    shipped: int


@dataclass(frozen=True)
class Transfer:
    """Whether the shipped ranking of one target carries to a holdout: the ranks and rho."""

    target: str
    source: str  # the shipped board's file, relative to the repository
    ranks: list[TransferRank]
    rho: float | None
    reason: str | None  # why there is no rho


@dataclass
class Gain:
    """Default vs tuned on one trace (or the mean over traces)."""

    default: float
    tuned: float
    diff: float  # tuned - default
    low: float | None = None
    high: float | None = None
    better: bool = False
    significant: bool = False


@dataclass
class TuningGain:
    """One model's default and tuned rows on one target."""

    model: str
    target: str
    metric: str
    params_source: str  # the tuned parameters' file
    per_trace: dict[str, Gain] = field(default_factory=dict)
    mean: Gain | None = None


@dataclass
class Board:
    """The leaderboard: rows in name order, per-trace ceilings, failed runs and refused files."""

    traces: list[str]
    data_sha256: dict[str, str | None]
    split_version: int
    models: list[Row]
    ceiling: dict[str, dict[str, dict[str, Any]]]  # trace -> kind -> the ceiling's numbers
    failed: list[Failure]
    refused: list[Refusal]
    result_files: int
    budgets: list[Budget] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    headroom: dict[str, float | None] = field(default_factory=dict)  # task ceiling - markov acc
    transfer: list[Transfer] = field(default_factory=list)  # holdout boards only
    default_models: list[Row] = field(default_factory=list)  # `<model>.default`, not ranked
    tuning: list[TuningGain] = field(default_factory=list)  # default vs tuned rows
    horizon_steps: list[int] = field(default_factory=list)  # the horizon track's recorded steps
    horizon_falls: list[HorizonFall] = field(default_factory=list)
    # the horizon track's seconds, its runs' wall seconds and the share, over the ok results
    horizon_cost: dict[str, float | int] = field(default_factory=dict)
    schedulers: dict[str, str] = field(default_factory=dict)  # trace -> cfs / eevdf / unknown
    scheduler_agreement: list[SchedulerAgreement] = field(default_factory=list)

    def row(self, model: str) -> Row:
        return next(r for r in self.models if r.model == model)

    def ordered(self, target: str) -> list[Row]:
        """Models predicting `target`: ranked ones first (by rank, then by the main metric
        within a tie), then the rest by name."""
        metric = METRICS[main_metric(target)]

        def key(m: Row) -> tuple[float, float, str]:
            entry = m.mean.get(metric.name)
            return (m.rank.get(target, math.inf), metric.sort_key(entry.value) if entry else 0.0,
                    m.model)  # fmt: skip

        return sorted((m for m in self.models if m.shows(target)), key=key)

    def to_json(self) -> dict[str, Any]:
        """leaderboard.json: the board, with the metric facts it was built with."""
        return {
            "schema_version": BOARD_SCHEMA,
            **plain(self),
            "metrics": {
                name: {
                    "target": m.target,
                    "higher_is_better": m.higher_is_better,
                    "description": m.description,
                }
                for name, m in METRICS.items()
            },
            "main_metric": {target: main_metric(target) for target in TARGETS},
        }


def plain(value: Any) -> Any:
    """JSON-ready: dataclasses as objects of their fields, non-finite floats as null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
