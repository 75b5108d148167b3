"""Paper figures from the Board, the stored results and the data (README §6).

`make_figures` collects the board once (`benchmark.reporting.board.collect`) and draws every
figure from it: the numbers come from `benchmark.reporting.frames`, the drawing from
`benchmark.reporting.drawing`; PNG (150 dpi) and PDF of each go to `leaderboard/figures/` with a
`README.md` there that says what each one shows and which choices were made. A cell the Board
does not score (failed, stale, missing) is never drawn. Nothing is re-trained, with one
exception: the free-run continuation of the delta sequence refits the two reference predictors
(markov, ewma: a counting pass over train + valid) with the parameters and seed recorded in
their result files, because no stored result can say what a model predicts from its own
predictions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import write_text
from benchmark.core.paths import leaderboard_dir
from benchmark.reporting import drawing, frames
from benchmark.reporting.boardtypes import Board
from benchmark.reporting.ceilings import TITLES as CEILING_TITLES
from benchmark.reporting.ceilings import kinds, mean_ceiling
from benchmark.results.store import Stored, stored_predictions
from benchmark.scoring.metrics import METRICS, TARGETS, main_metric

DPI = 150
TOP_TASKS = 12
CONFUSION_TASKS = 8
ONE_STEP = 160
FREE_RUN_MODELS = ("markov", "ewma")
TITLES = {"task": "next task", "delta": "run length"}


class Skip(Exception):
    """A figure that cannot be drawn from what is stored (the reason goes into the README)."""


@dataclass
class Context:
    """What every figure reads: the Board, the store's accepted results, the data."""

    root: Path
    data_root: Path | None
    out: Path
    board: Board
    stored: list[Stored]
    log: Callable[[str], None]
    _runs: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, Any] = field(default_factory=dict)

    def label(self, trace: str) -> str:
        """How a figure names a trace: on a board of two or more schedulers, marked with its
        own (`clients [EEVDF]`, `cfs-paper [CFS]`; README "CFS track")."""
        schedulers = self.board.schedulers
        if len(set(schedulers.values())) < 2:
            return trace
        return f"{trace} [{schedulers.get(trace, 'unknown').upper()}]"

    def labelled(self, frame: Any) -> Any:
        """A copy of `frame` with its `trace` column in `label` form."""
        out = frame.copy()
        out["trace"] = [self.label(t) for t in out["trace"]]
        return out

    def runs(self, trace: str) -> Any:
        if trace not in self._runs:
            from benchmark.data.dataset import load_trace

            self._runs[trace] = load_trace(trace, self.data_root)
        return self._runs[trace]

    def table(self, trace: str) -> Any:
        if trace not in self._tables:
            from benchmark.data.manifest import read_run_table

            self._tables[trace] = read_run_table(trace, self.data_root)
        return self._tables[trace]

    def scored(self, model: str | None = None, trace: str | None = None) -> list[Stored]:
        """The stored results of the cells the Board scores (`ok`), lowest seed first."""
        ok = {
            (row.model, t)
            for row in self.board.models
            for t, cell in row.per_trace.items()
            if cell.status == "ok"
        }
        found = [
            s
            for s in self.stored
            if (s.model, s.trace) in ok
            and (model is None or s.model == model)
            and (trace is None or s.trace == trace)
        ]
        return sorted(found, key=lambda s: (s.model, s.trace, s.seed))

    def predictions(self, stored: Stored) -> dict[str, np.ndarray]:
        arrays = stored_predictions(self.root, stored)
        if arrays is None:
            raise Skip(f"{stored.file}: its stored predictions (.npz) are missing")
        return arrays


def _save(fig: Any, ctx: Context, name: str) -> list[Path]:
    import matplotlib.pyplot as plt

    ctx.out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path = ctx.out / f"{name}.{ext}"
        tmp = path.with_name(f".{path.name}.tmp")
        # PDFs carry a creation date; fix it so that re-drawing the same data gives the same file.
        meta = {"CreationDate": None} if ext == "pdf" else {"Software": None}
        fig.savefig(tmp, format=ext, dpi=DPI, metadata=meta)
        os.replace(tmp, path)
        paths.append(path)
    plt.close(fig)
    return paths


def _traces(ctx: Context) -> list[str]:
    if not ctx.board.traces:
        raise Skip("no traces in the manifest")
    return ctx.board.traces


# =============================================================================================
# The figures: frame from the Board/store/data, then draw
# =============================================================================================
def task_frequency(ctx: Context) -> Any:
    """Share of runs of each trace's most frequent tasks (thread = comm:pid)."""
    traces = _traces(ctx)
    tasks = {ctx.label(t): ctx.table(t)["task"] for t in traces}
    shares = {t: frames.task_shares(column, TOP_TASKS) for t, column in tasks.items()}
    runs = {t: len(column) for t, column in tasks.items()}
    return drawing.task_frequency(shares, runs, {t: c.nunique() for t, c in tasks.items()})


def delta_distribution(ctx: Context) -> Any:
    """Distribution of run lengths (delta_us) per trace, log axis."""
    traces = _traces(ctx)
    tables = {ctx.label(t): ctx.table(t) for t in traces}
    return drawing.delta_distribution(frames.positive_deltas(tables))


def training_curves(ctx: Context) -> Any:
    """Per-epoch / per-round curves stored in the results (train and valid losses)."""
    frame = frames.training_curves(ctx.scored())
    if frame.empty:
        raise Skip("no stored result has a training curve (only iterative models record one)")
    return drawing.training_curves(frame)


def _free_run_models(ctx: Context, trace: str) -> list[str]:
    """Whose stored forecasts the delta_sequence figure draws: markov, ewma, and the best
    learned delta and task models on the trace."""
    board = ctx.board
    best = [frames.best_model(board, target, trace, learned=True) for target in ("delta", "task")]
    return [m for m in dict.fromkeys([*FREE_RUN_MODELS, *best]) if m]


def delta_sequence(ctx: Context) -> Any:
    """Predicted vs actual delta over test positions, then the stored free-run forecasts."""
    traces = [t for t in ctx.board.traces if ctx.scored(trace=t)]
    if not traces:
        raise Skip("no scored results")
    panels = []
    for trace in traces:
        runs = ctx.runs(trace)
        p0, end = (int(x) for x in runs.split.test)
        forecasts = {}
        for model in _free_run_models(ctx, trace):
            results = ctx.scored(model, trace)
            arrays = ctx.predictions(results[0]) if results else {}
            if "horizon_delta_us" in arrays:
                forecasts[model] = arrays
            else:
                ctx.log(f"free run of {model} on {trace}: no stored forecast of run lengths")
        origins = next(iter(forecasts.values()))["horizon_origins"] if forecasts else None
        at = frames.free_run_window(origins, p0, ONE_STEP) if origins is not None else None
        free_start = ONE_STEP if at is None else int(origins[at]) - p0
        steps = 0 if at is None else next(iter(forecasts.values()))["horizon_delta_us"].shape[1]
        window = np.arange(p0, min(p0 + free_start + steps, end))
        panel = drawing.SequencePanel(
            ctx.label(trace), runs.delta_us[window - runs.start], free_start
        )
        panel.free_start = min(free_start, len(window))
        for model in dict.fromkeys([frames.best_model(ctx.board, "delta", trace, learned=True),
                                    "ewma"]):  # fmt: skip
            results = ctx.scored(model, trace) if model else []
            stored = ctx.predictions(results[0]) if results else {}
            if "delta_us" in stored:
                x, values = frames.one_step(stored["positions"], stored["delta_us"], window)
                keep = x < panel.free_start
                panel.one_step[model] = (x[keep], values[keep])
        for model, arrays in forecasts.items() if at is not None else ():
            if np.array_equal(arrays["horizon_origins"], origins):
                panel.free_runs[model] = arrays["horizon_delta_us"][at].astype(np.float64)
        panels.append(panel)
    return drawing.delta_sequence(panels)


def horizon_accuracy(ctx: Context) -> Any:
    """Accuracy h switches ahead (the horizon track's free runs) per trace, with markov's and
    majority's one-step accuracy at the same origins."""
    frame = frames.horizon_curves(ctx.board)
    if frame.empty:
        raise Skip("no scored result has horizon-track results")
    levels: dict[str, dict[str, float]] = {}
    for row in ctx.board.models:
        if row.model not in ("markov", "majority"):
            continue
        for trace, cell in row.per_trace.items():
            entry = cell.horizon.get("acc@1") if cell.status == "ok" else None
            if entry is not None:
                levels.setdefault(trace, {})[row.model] = entry.value
    traces = [t for t in ctx.board.traces if (frame["trace"] == t).any()]
    levels = {ctx.label(t): v for t, v in levels.items()}
    return drawing.horizon_accuracy(ctx.labelled(frame), [ctx.label(t) for t in traces], levels)


def leaderboard_bars(ctx: Context) -> Any:
    """Main metric per model (mean over traces) with its 95% interval; reference rows grey."""
    panels = []
    for target in TARGETS:
        metric = main_metric(target)
        frame = frames.main_metric_bars(ctx.board, target)
        if len(frame):
            panels.append((TITLES[target], metric, METRICS[metric].higher_is_better, frame))
    if not panels:
        raise Skip("no model has a scored result on every trace")
    missing = [m.model for m in ctx.board.models if m.status != "ok"]
    ceilings = [(CEILING_TITLES[k], mean_ceiling(ctx.board.ceiling, ctx.board.traces, k))
                for k in kinds(ctx.board.ceiling)]  # fmt: skip
    return drawing.leaderboard_bars(panels, [(t, v) for t, v in ceilings if v is not None], missing)


def accuracy_vs_latency(ctx: Context) -> Any:
    """Accuracy (and mse_z) against batch-1 online latency, the frontier and the budget band."""
    panels = []
    for target in TARGETS:
        metric = main_metric(target)
        higher = METRICS[metric].higher_is_better
        points = frames.latency_points(ctx.board, target)
        panels.append((TITLES[target], metric, higher, points, frames.frontier(points, higher)))
    if not any(len(p[3]) for p in panels):
        raise Skip("no model has both a mean score and an online latency")
    return drawing.accuracy_vs_latency(panels)


def confusion_matrix(ctx: Context) -> Any:
    """Row-normalised confusion matrix of the best task model on each trace's top tasks."""
    best = frames.best_model(ctx.board, "task")
    if best is None:
        raise Skip("no task model has a scored result on every trace")
    panels = []
    for trace in ctx.board.traces:
        stored = ctx.predictions(ctx.scored(best, trace)[0])
        if "task" not in stored:
            raise Skip(f"{best} stored no task predictions")
        runs = ctx.runs(trace)
        positions = stored["positions"].astype(np.int64)
        true, pred = runs.task[positions - runs.start], stored["task"].astype(np.int64)
        share, top = frames.confusion(true, pred, CONFUSION_TASKS)
        labels = [drawing.short(runs.vocabulary[int(t)], 20) for t in top]
        rest = f"rest (not top {CONFUSION_TASKS})"
        panels.append((ctx.label(trace), share, [*labels, rest], len(true)))
    return drawing.confusion_matrices(panels, best)


def ceiling_vs_best(ctx: Context) -> Any:
    """Per trace: the predictability ceiling, the best model, markov and majority (accuracy)."""
    frame = frames.ceiling_comparison(ctx.board)
    if not frame["series"].str.endswith("ceiling").any():
        raise Skip("no ceiling values (benchmark/scoring/ceiling.py or the data missing)")
    return drawing.ceiling_vs_best(ctx.labelled(frame), [ctx.label(t) for t in ctx.board.traces])


FIGURES: dict[str, Callable[[Context], Any]] = {
    "task_frequency": task_frequency,
    "delta_distribution": delta_distribution,
    "training_curves": training_curves,
    "delta_sequence": delta_sequence,
    "horizon_accuracy": horizon_accuracy,
    "leaderboard_bars": leaderboard_bars,
    "accuracy_vs_latency": accuracy_vs_latency,
    "confusion_matrix": confusion_matrix,
    "ceiling_vs_best": ceiling_vs_best,
}


def make_figures(
    root: Path | None = None,
    data_root: Path | None = None,
    out: Path | None = None,
    only: list[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, list[Path] | str]:
    """Draw every figure (or those in `only`); returns name -> files, or the reason it was
    skipped. Also writes `README.md` in the output folder."""
    from benchmark.reporting.board import collect

    say = log or (lambda _m: None)
    root = root or leaderboard_dir()
    out = out or root / "figures"
    unknown = sorted(set(only or ()) - set(FIGURES))
    if unknown:
        raise KeyError(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    board, stored = collect(root, data_root, log=say)
    ctx = Context(root, data_root, out, board, stored, say)
    done: dict[str, list[Path] | str] = {}
    for name, figure in FIGURES.items():
        if only and name not in only:
            continue
        try:
            done[name] = _save(figure(ctx), ctx, name)
            say(f"{name}: {', '.join(p.name for p in done[name])}")
        except Skip as reason:
            done[name] = f"skipped: {reason}"
            say(f"{name}: skipped ({reason})")
    if not only:
        write_text(out / "README.md", figures_readme(done, board))
    return done


def figures_readme(done: dict[str, list[Path] | str], board: Board) -> str:
    """figures/README.md: what each figure shows, its files, and the choices made."""
    lines = [
        "# Figures",
        "",
        "<!-- generated by `kernel-oracle figures` (make figures); do not edit -->",
        "",
        "Drawn from the leaderboard's Board, the result files in `../results/` (their schema: "
        f"`benchmark/results/store.py`) and the data on {len(board.traces)} trace(s): "
        f"{', '.join(board.traces)}. Each figure is here as PNG (150 dpi) and PDF.",
        "",
    ]
    for name, figure in FIGURES.items():
        if name in done:
            what = (figure.__doc__ or "").strip().splitlines()[0]
            status = done[name]
            files = (
                ", ".join(f"[{p.name}]({p.name})" for p in status)
                if isinstance(status, list)
                else status
            )
            lines.append(f"- **{name}**: {what} {files}")
    low, high = drawing.BUDGET_US
    lines += [
        "",
        "Choices:",
        "",
        f"- Scheduler budget (accuracy_vs_latency): the band {low:g}-{high:g} µs per decision. A "
        "context switch costs about 1-5 µs on current x86, and a predictor consulted at every "
        "switch has to stay within that order of magnitude. The frontier line joins the models "
        "that no faster model beats.",
        f"- delta_sequence: the first ~{ONE_STEP} scored test positions with stored one-step "
        "predictions (the best learned delta model on that trace, and ewma), then, from the "
        "first horizon-track origin after them, the stored free-run forecasts (README "
        '"Horizon track") of markov, ewma and the best learned delta and task models: each '
        "model's own predicted task (argmax) and run length fed back as the next run. Nothing "
        "is refitted for the figure. Log axis.",
        "- horizon_accuracy: acc@h at the recorded steps (means over seeds, 95% bootstrap "
        "bands over origins); horizontal lines: markov's and majority's one-step accuracy at "
        "the same origins.",
        f"- confusion_matrix: the rank-1 task model; each trace's {CONFUSION_TASKS} most "
        "frequent test tasks plus one row/column for all others; rows normalised (recall).",
        "- ceiling_vs_best and leaderboard_bars: the task-history ceiling is the Lempel-Ziv "
        "entropy rate + Fano bound of the test task sequence (benchmark/scoring/ceiling.py), a "
        "bound only for models that see the task history alone; the side-information ceiling "
        "(where computed) bounds every model. The best learned model is chosen per trace.",
        "- Only cells the leaderboard scores are drawn (failed, stale or missing cells are not).",
        "",
    ]
    return "\n".join(lines)
