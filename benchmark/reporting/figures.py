"""Paper figures from stored results and the data (README §6), drawn with seaborn.

`make_figures` writes PNG (150 dpi) and PDF of each figure into `leaderboard/figures/`, and a
`README.md` there that says what each one shows and which choices were made. Nothing is
re-trained, with one exception stated below: the free-run continuation of the delta sequence
refits the two reference predictors (markov, ewma: a counting pass over train + valid, well under
a second) because no stored result can say what a model predicts from its own predictions.

Choices (also in the generated README):

* the scheduler's budget in the latency figure is the band 1-10 µs per decision: a context
  switch on current x86 costs about 1-5 µs, and a predictor consulted at every switch has to stay
  within the same order of magnitude to be usable inside the kernel;
* the confusion matrix is that of the best task model (rank 1 by mean accuracy), over each
  trace's 8 most frequent test tasks plus one row/column for all the others, rows normalised;
* the delta sequence shows the first 160 scored test positions with one-step predictions (stored),
  then a free run of 80 steps in which markov and ewma receive their own predicted task (argmax)
  and predicted delta as the next observed run;
* deltas are drawn on a log axis (run lengths span four orders of magnitude).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import write_text
from benchmark.core.paths import leaderboard_dir

DPI = 150
TOP_TASKS = 12
CONFUSION_TASKS = 8
ONE_STEP = 160
FREE_RUN = 80
BUDGET_US = (1.0, 10.0)
FREE_RUN_MODELS = ("markov", "ewma")
REFERENCE_COLOR = "#8c8c8c"
LEARNED_COLOR = "#3b75af"
CEILING_COLOR = "#c44e52"
SEQUENCE_COLORS = {"ewma": "#dd8452", "markov": "#55a868"}


class Skip(Exception):
    """A figure that cannot be drawn from what is stored (the reason goes into the README)."""


@dataclass
class Context:
    root: Path
    data_root: Path | None
    out: Path
    board: dict[str, Any]
    results: list[dict[str, Any]]
    log: Callable[[str], None]
    _runs: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, Any] = field(default_factory=dict)

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

    def ok_results(self, model: str | None = None, trace: str | None = None) -> list[dict]:
        return [
            r
            for r in self.results
            if r.get("status") == "ok"
            and (model is None or r["model"] == model)
            and (trace is None or r["trace"] == trace)
        ]

    def predictions(self, result: dict[str, Any]) -> dict[str, np.ndarray]:
        from benchmark.results.store import read_predictions, results_dir

        rel = Path(result["_file"]).with_suffix(".npz")
        path = results_dir(self.root) / rel
        if not path.exists():
            raise Skip(f"{rel} (stored predictions) is missing")
        return read_predictions(path)


def _setup() -> Any:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", font_scale=1.15)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "pdf.fonttype": 42})
    return plt


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


def _short(name: str, width: int = 26) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _models(ctx: Context) -> dict[str, dict[str, Any]]:
    return {m["model"]: m for m in ctx.board["models"]}


def _best(ctx: Context, target: str, trace: str | None = None, learned: bool = False) -> str | None:
    """The best model for `target`: rank 1 overall, or the best scored on one trace."""
    from benchmark.reporting.board import MAIN_METRIC
    from benchmark.scoring.metrics import METRICS

    metric = MAIN_METRIC[target]
    candidates = []
    for m in ctx.board["models"]:
        if target not in m["targets"] or (learned and m["kind"] == "reference"):
            continue
        if trace is None:
            entry = m["mean"].get(metric)
        else:
            cell = m["per_trace"].get(trace, {})
            entry = cell.get("metrics", {}).get(metric) if cell.get("status") == "ok" else None
        if entry is not None:
            candidates.append((METRICS[metric].sort_key(entry["value"]), m["model"]))
    return min(candidates)[1] if candidates else None


# =============================================================================================
# Data figures
# =============================================================================================
def task_frequency(ctx: Context) -> list[Path]:
    """Share of runs of each trace's most frequent tasks (thread = comm:pid)."""
    plt = _setup()
    traces = ctx.board["traces"]
    if not traces:
        raise Skip("no traces in the manifest")
    fig, axes = plt.subplots(1, len(traces), figsize=(4.4 * len(traces), 4.6), squeeze=False)
    for ax, trace in zip(axes[0], traces, strict=True):
        tasks = ctx.table(trace)["task"].astype(str)
        share = tasks.value_counts(normalize=True)
        top = share.iloc[:TOP_TASKS]
        rest = float(share.iloc[TOP_TASKS:].sum())
        labels = [_short(t) for t in top.index] + (
            [f"{len(share) - TOP_TASKS} others"] * (rest > 0)
        )
        values = list(top.to_numpy()) + ([rest] if rest > 0 else [])
        colors = [LEARNED_COLOR] * len(top) + [REFERENCE_COLOR] * (rest > 0)
        ax.barh(range(len(values)), values, color=colors)
        for i, value in enumerate(values):
            text = f"{value:.1%}" if value >= 0.001 else f"{value:.2%}"
            ax.text(value, i, f" {text}", va="center", ha="left", fontsize=7.5)
        ax.set_xlim(0, max(values) * 1.3)
        ax.set_yticks(range(len(values)), labels)
        ax.invert_yaxis()
        ax.set_title(f"{trace}\n{len(tasks):,} runs, {len(share)} tasks")
        ax.set_xlabel("share of runs")
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    fig.suptitle("Which task runs: the most frequent tasks per trace", y=1.02)
    fig.tight_layout()
    return _save(fig, ctx, "task_frequency")


def delta_distribution(ctx: Context) -> list[Path]:
    """Distribution of run lengths (delta_us) per trace, log axis."""
    import pandas as pd
    import seaborn as sns

    plt = _setup()
    traces = ctx.board["traces"]
    if not traces:
        raise Skip("no traces in the manifest")
    frames = []
    for trace in traces:
        delta = ctx.table(trace)["delta_us"].to_numpy(np.float64)
        delta = delta[delta > 0]
        frames.append(pd.DataFrame({"delta_us": delta, "trace": trace}))
    frame = pd.concat(frames, ignore_index=True)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    sns.histplot(
        frame,
        x="delta_us",
        hue="trace",
        log_scale=True,
        element="step",
        fill=False,
        stat="density",
        common_norm=False,
        bins=80,
        ax=ax,
    )
    for trace, color in zip(traces, sns.color_palette(n_colors=len(traces)), strict=True):
        median = float(np.median(frame.loc[frame["trace"] == trace, "delta_us"]))
        ax.axvline(median, color=color, linestyle=":", linewidth=1)
    ax.set_xlabel("run length delta_us (µs, log scale; dotted: medians)")
    ax.set_ylabel("density")
    ax.set_title("How long a task holds the CPU")
    fig.tight_layout()
    return _save(fig, ctx, "delta_distribution")


# =============================================================================================
# Result figures
# =============================================================================================
def training_curves(ctx: Context) -> list[Path]:
    """Per-epoch / per-round curves stored in the results (train and valid losses)."""
    import pandas as pd
    import seaborn as sns

    _setup()
    rows = []
    for result in ctx.ok_results():
        for group, curve in (result.get("training_curve") or {}).items():
            if not isinstance(curve, dict):
                continue
            xkey = next((k for k in ("epoch", "round", "iteration", "step") if k in curve), None)
            for key, values in curve.items():
                if key == xkey or not isinstance(values, list) or not values:
                    continue
                if not all(isinstance(v, int | float) for v in values if v is not None):
                    continue
                steps = curve[xkey] if xkey else list(range(1, len(values) + 1))
                for step, value in zip(steps, values, strict=False):
                    if value is None or not math.isfinite(float(value)):
                        continue
                    rows.append(
                        {
                            "model": result["model"]
                            + ("" if group in ("task+delta", "delta+task") else f" ({group})"),
                            "trace": result["trace"],
                            "seed": f"seed {result.get('seed', 0)}",
                            "series": key,
                            "step": step,
                            "value": float(value),
                        }
                    )
    if not rows:
        raise Skip("no stored result has a training curve (only iterative models record one)")
    frame = pd.DataFrame(rows)
    # Losses only (the curve keys that say loss), so that one y axis per panel makes sense.
    losses = frame[frame["series"].str.contains("loss")]
    frame = losses if len(losses) else frame
    models = sorted(frame["model"].unique())
    grid = sns.relplot(
        frame,
        x="step",
        y="value",
        hue="series",
        style="seed",
        col="trace",
        row="model",
        row_order=models,
        kind="line",
        height=2.4,
        aspect=1.45,
        facet_kws={"sharey": "row", "sharex": False, "margin_titles": True},
        linewidth=1.2,
    )
    from matplotlib.ticker import MaxNLocator

    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    grid.set_axis_labels("epoch / round", "loss")
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    grid.figure.suptitle("Training curves (stored with the results)", y=1.01)
    return _save(grid.figure, ctx, "training_curves")


def _free_run(model: str, trace: str, start: int, steps: int, ctx: Context) -> np.ndarray:
    """`model` (refitted with its stored params) fed its own predictions from `start` on."""
    from benchmark.running.harness import stored_params
    from benchmark.running.protocol import RunRow
    from benchmark.running.registry import get_model_class

    cls = get_model_class(model)
    params, _ = stored_params(model, ["delta"])
    runs = ctx.runs(trace)
    fitted = cls(**params["delta"]).fit(runs.train(), valid=runs.valid(), seed=0)
    stream = fitted.online(runs.rows(runs.start, start))
    task_comm = runs.task_comm
    out = np.empty(steps)
    for k in range(steps):
        proba, delta = stream.predict_next()
        task = int(np.argmax(proba)) if proba is not None else 0
        out[k] = float(delta)
        stream.update(RunRow(task, int(task_comm[task]), float(delta), 0, -1, 0, 0))
    return out


def delta_sequence(ctx: Context) -> list[Path]:
    """Predicted vs actual delta over test positions, then a free-run continuation."""
    plt = _setup()
    traces = [t for t in ctx.board["traces"] if ctx.ok_results(trace=t)]
    if not traces:
        raise Skip("no scored results")
    fig, axes = plt.subplots(len(traces), 1, figsize=(11, 3.1 * len(traces)), squeeze=False)
    notes = []
    for ax, trace in zip(axes[:, 0], traces, strict=True):
        runs = ctx.runs(trace)
        p0 = runs.split.test[0]
        window = min(ONE_STEP + FREE_RUN, runs.split.test[1] - p0)
        positions = np.arange(p0, p0 + window)
        x = positions - p0
        ax.plot(x, runs.delta_us[positions], color="black", linewidth=1.4, label="actual")
        free_start = min(ONE_STEP, window)
        shown = []
        best = _best(ctx, "delta", trace, learned=True)
        for model in [best, "ewma"]:
            if model is None or model in shown:
                continue
            results = ctx.ok_results(model, trace)
            if not results:
                continue
            stored = ctx.predictions(sorted(results, key=lambda r: r.get("seed", 0))[0])
            if "delta_us" not in stored:
                continue
            index = {int(p): i for i, p in enumerate(stored["positions"])}
            keep = [i for i in range(free_start) if int(positions[i]) in index]
            values = [stored["delta_us"][index[int(positions[i])]] for i in keep]
            ax.plot(
                x[keep],
                values,
                linewidth=1.1,
                alpha=0.9,
                color=SEQUENCE_COLORS.get(model, LEARNED_COLOR),
                label=f"{model}: one-step (stored predictions)",
            )
            shown.append(model)
        steps = window - free_start
        if steps > 0:
            for model, style in zip(FREE_RUN_MODELS, ("--", ":"), strict=True):
                try:
                    values = _free_run(model, trace, p0 + free_start, steps, ctx)
                except Exception as error:  # a missing model is a note, not a crash
                    notes.append(f"free run of {model} on {trace}: {error}")
                    continue
                ax.plot(
                    np.arange(free_start, window),
                    values,
                    linestyle=style,
                    linewidth=1.6,
                    color=SEQUENCE_COLORS[model],
                    label=f"{model}: free run (own predictions fed back)",
                )
            ax.axvline(free_start, color="#444", linewidth=0.8)
            ax.text(
                free_start,
                1.0,
                " free run →",
                transform=ax.get_xaxis_transform(),
                va="top",
                ha="left",
                fontsize=9,
            )
        ax.set_yscale("log")
        ax.set_xlim(0, window - 1)
        ax.set_title(f"{trace}: run length of each switch, from the first test position")
        ax.set_xlabel("test position (switches after the split)")
        ax.set_ylabel("delta_us (log)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    for note in notes:
        ctx.log(note)
    return _save(fig, ctx, "delta_sequence")


def leaderboard_bars(ctx: Context) -> list[Path]:
    """Main metric per model (mean over traces) with its 95% interval; reference rows grey."""
    from benchmark.reporting.board import MAIN_METRIC, ordered
    from benchmark.reporting.render import _mean_ceiling

    plt = _setup()
    panels = []
    for target in ("task", "delta"):
        metric = MAIN_METRIC[target]
        rows = [m for m in ordered(ctx.board, target) if metric in m["mean"]]
        if rows:
            panels.append((target, metric, rows))
    if not panels:
        raise Skip("no model has a scored result on every trace")
    height = max(len(rows) for _, _, rows in panels) * 0.42 + 1.3
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), height), squeeze=False)
    for ax, (target, metric, rows) in zip(axes[0], panels, strict=True):
        names = [m["model"] for m in rows]
        values = np.array([m["mean"][metric]["value"] for m in rows])
        lows = np.array([m["mean"][metric]["low"] for m in rows])
        highs = np.array([m["mean"][metric]["high"] for m in rows])
        colors = [REFERENCE_COLOR if m["kind"] == "reference" else LEARNED_COLOR for m in rows]
        y = np.arange(len(rows))
        ax.barh(y, values, color=colors)
        ax.errorbar(
            values,
            y,
            xerr=[values - lows, highs - values],
            fmt="none",
            ecolor="black",
            capsize=3,
            linewidth=1,
        )
        ax.set_yticks(y, [_short(n) for n in names])
        ax.invert_yaxis()
        better = ctx.board["metrics"][metric]["higher_is_better"]
        ax.set_xlabel(f"{metric} ({'higher' if better else 'lower'} is better), mean over traces")
        ax.set_title("next task" if target == "task" else "run length")
        if target == "task":
            ceiling = _mean_ceiling(ctx.board)
            if ceiling is not None:
                ax.axvline(ceiling, color=CEILING_COLOR, linestyle="--", linewidth=1.2)
                ax.text(ceiling, -0.7, " ceiling", color=CEILING_COLOR, va="bottom", fontsize=9)
            ax.set_xlim(0, 1.02)
    from matplotlib.patches import Patch

    fig.legend(
        handles=[
            Patch(color=LEARNED_COLOR, label="learned model"),
            Patch(color=REFERENCE_COLOR, label="reference predictor"),
        ],
        loc="lower center",
        ncol=2,
        frameon=False,
        bbox_to_anchor=(0.5, -0.04),
    )
    missing = [m["model"] for m in ctx.board["models"] if m["status"] != "ok"]
    fig.suptitle(
        "Leaderboard (95% intervals)"
        + (f"; not shown (failed or incomplete): {', '.join(missing)}" if missing else ""),
        y=1.02,
    )
    fig.tight_layout()
    return _save(fig, ctx, "leaderboard_bars")


def accuracy_vs_latency(ctx: Context) -> list[Path]:
    """Accuracy (and mse_z) against batch-1 online latency, with the scheduler's budget band."""
    plt = _setup()
    panels = [("task", "acc"), ("delta", "mse_z")]
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.8))
    drawn = 0
    labels: list[Any] = []
    for ax, (target, metric) in zip(axes, panels, strict=True):
        ax.axvspan(*BUDGET_US, color="#55a868", alpha=0.15, linewidth=0)
        ax.text(
            math.sqrt(BUDGET_US[0] * BUDGET_US[1]),
            0.02,
            "scheduler budget\n1–10 µs",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8.5,
            color="#2f6b3b",
        )
        for m in ctx.board["models"]:
            entry = m["mean"].get(metric)
            p50, p99 = m["costs"].get("online_p50_us"), m["costs"].get("online_p99_us")
            if target not in m["targets"] or entry is None or not p50:
                continue
            color = REFERENCE_COLOR if m["kind"] == "reference" else LEARNED_COLOR
            ax.errorbar(
                p50,
                entry["value"],
                xerr=[[0.0], [max(0.0, (p99 or p50) - p50)]],
                yerr=[[entry["value"] - entry["low"]], [entry["high"] - entry["value"]]],
                fmt="o",
                color=color,
                ecolor=color,
                elinewidth=1,
                capsize=2,
                markersize=6,
            )
            labels.append(
                ax.annotate(
                    _short(m["model"], 20),
                    (p50, entry["value"]),
                    textcoords="offset points",
                    xytext=(5, 4),
                    fontsize=8.5,
                )
            )
            drawn += 1
        ax.set_xscale("log")
        better = ctx.board["metrics"][metric]["higher_is_better"]
        ax.set_xlabel("online latency per decision, µs (dot: p50; bar to p99; log)")
        ax.set_ylabel(f"{metric} ({'higher' if better else 'lower'} is better)")
        ax.set_title("next task" if target == "task" else "run length")
    if not drawn:
        plt.close(fig)
        raise Skip("no model has both a mean score and an online latency")
    fig.suptitle("Accuracy against the cost of one prediction (grey: reference predictors)", y=1.02)
    fig.tight_layout()
    _declutter(fig, labels)
    return _save(fig, ctx, "accuracy_vs_latency")


def _declutter(fig: Any, texts: list[Any]) -> None:
    """Move annotation labels down until none overlaps another (greedy, top to bottom)."""
    if not texts:
        return
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed: list[Any] = []
    for text in sorted(texts, key=lambda t: -t.get_window_extent(renderer).y0):
        for _ in range(40):
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            dx, dy = text.xyann
            text.xyann = (dx, dy - (box.height + 1) * 72.0 / fig.dpi)
        placed.append(text.get_window_extent(renderer))


def confusion_matrix(ctx: Context) -> list[Path]:
    """Row-normalised confusion matrix of the best task model on each trace's top tasks."""
    import seaborn as sns

    plt = _setup()
    best = _best(ctx, "task")
    if best is None:
        raise Skip("no task model has a scored result on every trace")
    traces = [t for t in ctx.board["traces"] if ctx.ok_results(best, t)]
    fig, axes = plt.subplots(1, len(traces), figsize=(5.6 * len(traces), 5.4), squeeze=False)
    for ax, trace in zip(axes[0], traces, strict=True):
        result = sorted(ctx.ok_results(best, trace), key=lambda r: r.get("seed", 0))[0]
        stored = ctx.predictions(result)
        if "task" not in stored:
            raise Skip(f"{best} stored no task predictions")
        runs = ctx.runs(trace)
        positions = stored["positions"].astype(np.int64)
        true = runs.task[positions - runs.start]
        pred = stored["task"].astype(np.int64)
        ids, counts = np.unique(true, return_counts=True)
        top = ids[np.argsort(-counts, kind="stable")][:CONFUSION_TASKS]
        lookup = {int(t): i for i, t in enumerate(top)}
        k = len(top)
        t_idx = np.array([lookup.get(int(t), k) for t in true])
        p_idx = np.array([lookup.get(int(p), k) for p in pred])
        matrix = np.zeros((k + 1, k + 1))
        np.add.at(matrix, (t_idx, p_idx), 1)
        rows = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        labels = [_short(runs.vocabulary[int(t)], 20) for t in top] + [
            f"rest (not top {CONFUSION_TASKS})"
        ]
        sns.heatmap(
            share,
            ax=ax,
            vmin=0,
            vmax=1,
            cmap="Blues",
            annot=True,
            fmt=".2f",
            annot_kws={"fontsize": 7},
            xticklabels=labels,
            yticklabels=labels,
            cbar=False,
            square=True,
        )
        ax.set_xlabel("predicted task")
        ax.set_ylabel("true task")
        ax.set_xticklabels(labels, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_title(f"{trace} ({len(positions):,} test positions)")
    fig.suptitle(f"Confusion matrix of the best task model, {best} (rows sum to 1)", y=1.0)
    fig.tight_layout()
    return _save(fig, ctx, "confusion_matrix")


def ceiling_vs_best(ctx: Context) -> list[Path]:
    """Per trace: the predictability ceiling, the best model, markov and majority (accuracy)."""
    from benchmark.reporting.board import ceiling_value

    plt = _setup()
    traces = ctx.board["traces"]
    ceilings = {t: ceiling_value(ctx.board["ceiling"].get(t)) for t in traces}
    if not any(v is not None for v in ceilings.values()):
        raise Skip("no ceiling values (benchmark/scoring/ceiling.py or the data missing)")
    models = _models(ctx)
    series: list[tuple[str, list[float | None], list[str], str]] = [
        ("ceiling (LZ + Fano)", [ceilings[t] for t in traces], [""] * len(traces), CEILING_COLOR)
    ]
    best_values, best_names = [], []
    for trace in traces:
        name = _best(ctx, "task", trace, learned=True)
        best_names.append(name or "")
        cell = models[name]["per_trace"][trace]["metrics"]["acc"] if name else None
        best_values.append(cell["value"] if cell else None)
    series.append(("best learned model", best_values, best_names, LEARNED_COLOR))
    for ref, color in (("markov", "#999999"), ("majority", "#cccccc")):
        if ref in models:
            values = []
            for trace in traces:
                cell = models[ref]["per_trace"][trace]
                entry = cell["metrics"].get("acc") if cell["status"] == "ok" else None
                values.append(entry["value"] if entry else None)
            series.append((ref, values, [""] * len(traces), color))
    fig, ax = plt.subplots(figsize=(max(6.5, 2.6 * len(traces) + 2.5), 4.6))
    width = 0.8 / len(series)
    for i, (_label, values, names, color) in enumerate(series):
        xs = np.arange(len(traces)) + (i - (len(series) - 1) / 2) * width
        for x, value, name in zip(xs, values, names, strict=True):
            if value is None:
                continue
            ax.bar(x, value, width=width * 0.95, color=color)
            text = f"{value:.3f}" + (f"\n{_short(name, 14)}" if name else "")
            ax.text(x, value + 0.01, text, ha="center", va="bottom", fontsize=7.5)
    from matplotlib.patches import Patch

    handles = [Patch(color=color, label=label) for label, _, _, color in series]
    ax.set_xticks(np.arange(len(traces)), traces)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("top-1 accuracy (thread level)")
    ax.set_title("How far from the ceiling: predictability limit vs models, per trace")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return _save(fig, ctx, "ceiling_vs_best")


FIGURES: dict[str, Callable[[Context], list[Path]]] = {
    "task_frequency": task_frequency,
    "delta_distribution": delta_distribution,
    "training_curves": training_curves,
    "delta_sequence": delta_sequence,
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
    from benchmark.data.manifest import load_manifest
    from benchmark.reporting.board import collect, compute_ceilings, read_results

    say = log or (lambda _m: None)
    root = root or leaderboard_dir()
    out = out or root / "figures"
    unknown = sorted(set(only or ()) - set(FIGURES))
    if unknown:
        raise KeyError(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    manifest = load_manifest(data_root)
    ceilings = compute_ceilings(sorted(manifest.get("traces", {})), data_root, say)
    board = collect(root, manifest, ceilings)
    results, _ = read_results(root, manifest)
    ctx = Context(root, data_root, out, board, results, say)
    done: dict[str, list[Path] | str] = {}
    for name, draw in FIGURES.items():
        if only and name not in only:
            continue
        try:
            done[name] = draw(ctx)
            say(f"{name}: {', '.join(p.name for p in done[name])}")
        except Skip as reason:
            done[name] = f"skipped: {reason}"
            say(f"{name}: skipped ({reason})")
    if not only:
        write_text(out / "README.md", figures_readme(done, board))
    return done


def figures_readme(done: dict[str, list[Path] | str], board: dict[str, Any]) -> str:
    lines = [
        "# Figures",
        "",
        "<!-- generated by `kernel-oracle figures` (make figures); do not edit -->",
        "",
        "Drawn from the result files in `../results/` (their schema: `benchmark/results/store.py`) "
        f"and the data on {len(board['traces'])} trace(s): {', '.join(board['traces'])}. "
        "Each figure is here as PNG (150 dpi) and PDF.",
        "",
    ]
    for name, draw in FIGURES.items():
        if name not in done:
            continue
        what = (draw.__doc__ or "").strip().splitlines()[0]
        status = done[name]
        files = (
            ", ".join(f"[{p.name}]({p.name})" for p in status)
            if isinstance(status, list)
            else status
        )
        lines.append(f"- **{name}**: {what} {files}")
    lines += [
        "",
        "Choices:",
        "",
        f"- Scheduler budget (accuracy_vs_latency): the band {BUDGET_US[0]:g}-{BUDGET_US[1]:g} µs "
        "per decision. A context switch costs about 1-5 µs on current x86, and a predictor "
        "consulted at every switch has to stay within that order of magnitude.",
        f"- delta_sequence: the first {ONE_STEP} scored test positions with stored one-step "
        "predictions (the best learned delta model on that trace, and ewma), then "
        f"{FREE_RUN} steps of free run: markov and ewma, refitted with their stored parameters "
        "(a counting pass, no training), receive their own predicted task (argmax) and delta as "
        "the next observed run. Learned models are not re-trained for it, so their free runs "
        "are not drawn. Log axis.",
        f"- confusion_matrix: the rank-1 task model; each trace's {CONFUSION_TASKS} most "
        "frequent test tasks plus one row/column for all others; rows normalised (recall).",
        "- ceiling_vs_best: the ceiling is the Lempel-Ziv entropy rate + Fano bound of the test "
        "task sequence (benchmark/scoring/ceiling.py); the best learned model is chosen per trace.",
        "",
    ]
    return "\n".join(lines)
