"""Default and tuned rows (README §6): what tuning bought each learned model, on the test rows.

Every tuned learned model also runs on its defaults (`<model>.default`, seed 0; the runner's
full profile). For each (model, target) and trace this view gives the default's and the tuned
row's main metric (the tuned row's seed mean), their difference tuned − default and its paired
95% interval (`bootstrap.paired_interval` on the same test positions, resampled with the trace's
blocks, those of every other comparison on the board), and the same for the mean over traces
(the draws' mean, the traces' blocks being independent). `better` says whether the difference
points the metric's good way (acc up, mse_z down); `significant` whether its interval excludes
zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.reporting.boardtypes import Gain, Row, TuningGain
from benchmark.reporting.evidence import Evidence
from benchmark.reporting.format import fmt
from benchmark.results.store import base_model
from benchmark.scoring.bootstrap import N_RESAMPLES, paired_interval, percentile_interval
from benchmark.scoring.metrics import METRICS, main_metric


def _gain(metric: str, default: float, tuned: float, low: float | None, high: float | None) -> Gain:
    up = METRICS[metric].higher_is_better
    diff = tuned - default
    significant = low is not None and high is not None and (low > 0 or high < 0)
    return Gain(default, tuned, diff, low, high, (diff > 0) == up and diff != 0, significant)


def tuning_gains(
    rows: Sequence[Row],
    default_rows: Sequence[Row],
    traces: Sequence[str],
    evidence: dict[tuple[str, str], Evidence],
    sources: dict[tuple[str, str], str],
    n_resamples: int = N_RESAMPLES,
) -> list[TuningGain]:
    """The view for every default row whose tuned row is on the board; `evidence` holds both
    rows' cells (keyed by their labels), `sources` (model, target) -> the tuned params file."""
    tuned = {r.model: r for r in rows}
    out = []
    for default in sorted(default_rows, key=lambda r: r.model):
        model = base_model(default.model)
        row = tuned.get(model)
        if row is None:
            continue
        for target in sorted(set(default.targets) & set(row.targets)):
            source = sources.get((model, target), "default")
            if source == "default":  # nothing was tuned for this target
                continue
            metric = main_metric(target)
            entry = TuningGain(model, target, metric, source)
            diffs = []
            for index, trace in enumerate(traces):
                a, b = row.per_trace.get(trace), default.per_trace.get(trace)
                if not (a and b and a.status == b.status == "ok"):
                    continue
                if metric not in a.metrics or metric not in b.metrics:
                    continue
                ea, eb = evidence.get((model, trace)), evidence.get((default.model, trace))
                low = high = None
                if ea and eb and ea.contributions and eb.contributions:
                    pair = paired_interval(
                        metric, ea.contributions, eb.contributions,
                        n_resamples=n_resamples, seed=index,
                    )  # fmt: skip
                    low, high = pair["low"], pair["high"]
                    diffs.append(ea.draws[metric] - eb.draws[metric])
                entry.per_trace[trace] = _gain(
                    metric, b.metrics[metric].value, a.metrics[metric].value, low, high
                )
            if len(entry.per_trace) == len(traces) and traces:
                low = high = None
                if len(diffs) == len(traces):
                    low, high = percentile_interval(np.mean(diffs, axis=0))
                entry.mean = _gain(
                    metric,
                    float(np.mean([g.default for g in entry.per_trace.values()])),
                    float(np.mean([g.tuned for g in entry.per_trace.values()])),
                    low,
                    high,
                )
            out.append(entry)
    return out


TABLE_HEADER = [
    "model", "target", "default (mean)", "tuned (mean)", "tuned − default [95% paired]",
    "traces better / worse (significant)", "tuned parameters",
]  # fmt: skip


def _diff_text(gain: Gain) -> str:
    text = f"{gain.diff:+.4f}"
    if gain.low is not None and gain.high is not None:
        text += f" [{gain.low:+.4f}, {gain.high:+.4f}]"
    return text + (" ✓" if gain.better and gain.significant else "")


def table_rows(gains: Sequence[TuningGain]) -> list[list[str]]:
    """The view as plain-text cells (`TABLE_HEADER`), escaped by the caller."""
    out = []
    for g in gains:
        better = sum(x.better and x.significant for x in g.per_trace.values())
        worse = sum(not x.better and x.diff != 0 and x.significant for x in g.per_trace.values())
        mean = g.mean
        out.append(
            [
                g.model,
                f"{g.target} ({g.metric})",
                fmt(mean.default, g.metric) if mean else "",
                fmt(mean.tuned, g.metric) if mean else "",
                _diff_text(mean) if mean else "incomplete",
                f"{better} / {worse} of {len(g.per_trace)}",
                g.params_source,
            ]
        )
    return out
