"""Two models' stored results compared (README §5): per trace and on the mean over traces, the
paired 95% block-bootstrap interval of A minus B on each target's main metric, from the stored
predictions and the truth alone (nothing is re-trained). The board's rules apply: only cells
the board scores (`ok`) are compared, and a tie is what the board calls a tie."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.paths import leaderboard_dir
from benchmark.reporting.assemble import group, make_board
from benchmark.reporting.boardtypes import Board, Comparison, SeedMean
from benchmark.reporting.evidence import gather
from benchmark.reporting.significance import compare, draws_of
from benchmark.results.store import read_results
from benchmark.scoring.bootstrap import N_RESAMPLES
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric

MEAN = "mean"


@dataclass(frozen=True)
class Line:
    """A minus B on one trace (or the mean) and one metric; `why` when it cannot be compared."""

    trace: str
    metric: str
    a: SeedMean | None
    b: SeedMean | None
    comparison: Comparison | None
    why: str = ""

    @property
    def verdict(self) -> str:
        if self.comparison is None:
            return self.why
        if self.comparison.tie:
            return "tie"
        a_better = METRICS[self.metric].better(self.a.value, self.b.value)  # type: ignore[union-attr]
        return "A better" if a_better else "B better"


def _check(board: Board, a: str, b: str, trace: str | None) -> None:
    known = [m.model for m in board.models]
    for name in (a, b):
        if name not in known:
            raise KeyError(
                f"model {name!r} has no accepted results here; known: {', '.join(known) or 'none'}"
            )
    if a == b:
        raise ValueError(f"compare two different models, not {a!r} with itself")
    if trace is not None and trace not in board.traces:
        raise KeyError(f"unknown trace {trace!r}; traces: {', '.join(board.traces)}")


def compare_models(
    a: str,
    b: str,
    trace: str | None = None,
    root: Path | None = None,
    data_root: Path | None = None,
    log: Callable[[str], None] | None = None,
    n_resamples: int = N_RESAMPLES,
) -> list[Line]:
    """The lines of `a` minus `b`: every trace (or `trace`), then the mean (without `trace`)."""
    from benchmark.data.manifest import load_manifest

    root = root or leaderboard_dir()
    manifest = load_manifest(data_root)
    accepted, refused = read_results(root, manifest)
    board = make_board(accepted, refused, manifest)
    _check(board, a, b, trace)
    rows = {name: board.row(name) for name in (a, b)}
    traces = [trace] if trace else board.traces
    by_model = group(accepted)
    cells = {
        (name, t): by_model[name][t]
        for name in (a, b)
        for t in board.traces
        if rows[name].per_trace[t].status == "ok"
    }
    recorded = {
        k: {m: e.value for m, e in rows[k[0]].per_trace[k[1]].metrics.items()} for k in cells
    }
    evidence = gather(root, data_root, cells, recorded, board.traces, n_resamples, log)
    lines = []
    for target in TARGETS:
        metric = main_metric(target)
        if not all(target in rows[n].targets for n in (a, b)):
            continue
        for t in traces:
            ca, cb = rows[a].per_trace[t], rows[b].per_trace[t]
            if ca.status != "ok" or cb.status != "ok":
                why = f"A {ca.status}, B {cb.status}"
                lines.append(Line(t, metric, None, None, None, why))
                continue
            ea, eb = ca.metrics[metric], cb.metrics[metric]
            da, db = draws_of(evidence, a, [t], metric), draws_of(evidence, b, [t], metric)
            lines.append(Line(t, metric, ea, eb, compare(a, ea, b, eb, da, db)))
        if trace is None and metric in rows[a].mean and metric in rows[b].mean:
            ea, eb = rows[a].mean[metric], rows[b].mean[metric]
            da = draws_of(evidence, a, board.traces, metric)
            db = draws_of(evidence, b, board.traces, metric)
            lines.append(Line(MEAN, metric, ea, eb, compare(a, ea, b, eb, da, db)))
    return lines


def lines_text(lines: Sequence[Line]) -> list[list[str]]:
    """Table rows: trace, metric, A, B, A - B [95% CI], verdict, evidence."""
    from benchmark.reporting.format import fmt, signed_text

    out = []
    for line in lines:
        c = line.comparison
        diff = signed_text(c.diff, line.metric) if c and c.diff else ""
        out.append([
            line.trace,
            line.metric,
            fmt(line.a.value, line.metric) if line.a else "",
            fmt(line.b.value, line.metric) if line.b else "",
            diff,
            line.verdict,
            c.evidence if c else "",
        ])  # fmt: skip
    return out
