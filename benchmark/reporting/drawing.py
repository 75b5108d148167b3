"""Draw each figure from its frame (`benchmark.reporting.frames`) with seaborn/matplotlib
(README §6). Each function takes numbers only and returns the matplotlib Figure, unsaved, so a
test can read back what was drawn."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

REFERENCE_COLOR = "#8c8c8c"
LEARNED_COLOR = "#3b75af"
CEILING_COLOR = "#c44e52"
FRONTIER_COLOR = "#2f6b3b"
SEQUENCE_COLORS = {"ewma": "#dd8452", "markov": "#55a868"}
FREE_RUN_COLORS = ("#3b75af", "#8172b3", "#937860", "#da8bc3")
BUDGET_US = (1.0, 10.0)
CEILING_SERIES_COLORS = {
    "task-history ceiling": CEILING_COLOR,
    "side-information ceiling": "#8c2d30",
    "markov": "#999999",
    "majority": "#cccccc",
}


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend with the figures' seaborn theme."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", font_scale=1.15)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "pdf.fonttype": 42})
    return plt


def short(name: str, width: int = 26) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _kind_color(kind: str) -> str:
    return REFERENCE_COLOR if kind == "reference" else LEARNED_COLOR


def task_frequency(shares: dict[str, pd.DataFrame], runs: dict[str, int], tasks: dict[str, int]):
    """One panel per trace: horizontal bars of the task shares (`frames.task_shares`)."""
    plt = pyplot()
    n = len(shares)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 4.6), squeeze=False)
    for ax, (trace, frame) in zip(axes[0], shares.items(), strict=True):
        values = frame["share"].to_numpy()
        colors = [REFERENCE_COLOR if o else LEARNED_COLOR for o in frame["others"]]
        ax.barh(range(len(values)), values, color=colors)
        for i, value in enumerate(values):
            text = f"{value:.1%}" if value >= 0.001 else f"{value:.2%}"
            ax.text(value, i, f" {text}", va="center", ha="left", fontsize=7.5)
        ax.set_xlim(0, max(values) * 1.3)
        ax.set_yticks(range(len(values)), [short(t) for t in frame["label"]])
        ax.invert_yaxis()
        ax.set_title(f"{trace}\n{runs[trace]:,} runs, {tasks[trace]} tasks")
        ax.set_xlabel("share of runs")
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    fig.suptitle("Which task runs: the most frequent tasks per trace", y=1.02)
    fig.tight_layout()
    return fig


def delta_distribution(frame: pd.DataFrame):
    """Step histograms of `delta_us` per trace on a log axis, with each trace's median dotted."""
    import seaborn as sns

    plt = pyplot()
    traces = list(dict.fromkeys(frame["trace"]))
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
    return fig


def training_curves(frame: pd.DataFrame):
    """One row of panels per model, one column per trace; a line per series and seed."""
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    pyplot()
    grid = sns.relplot(
        frame,
        x="step",
        y="value",
        hue="series",
        style="seed",
        col="trace",
        row="model",
        row_order=sorted(frame["model"].unique()),
        kind="line",
        height=2.4,
        aspect=1.45,
        facet_kws={"sharey": "row", "sharex": False, "margin_titles": True},
        linewidth=1.2,
    )
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    grid.set_axis_labels("epoch / round", "loss")
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    grid.figure.suptitle("Training curves (stored with the results)", y=1.01)
    return grid.figure


@dataclass
class SequencePanel:
    """One trace of the delta-sequence figure: the true deltas of the window, stored one-step
    predictions and free runs, with x = test position offset."""

    trace: str
    truth: np.ndarray
    free_start: int
    one_step: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    free_runs: dict[str, np.ndarray] = field(default_factory=dict)


def delta_sequence(panels: Sequence[SequencePanel]):
    """Actual vs predicted delta per trace, then each free run after the marker."""
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.1 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        window = len(panel.truth)
        ax.plot(np.arange(window), panel.truth, color="black", linewidth=1.4, label="actual")
        for model, (x, values) in panel.one_step.items():
            color = SEQUENCE_COLORS.get(model, LEARNED_COLOR)
            label = f"{model}: one-step (stored predictions)"
            ax.plot(x, values, linewidth=1.1, alpha=0.9, color=color, label=label)
        styles = ("--", ":", "-.", (0, (5, 1)))
        for k, (model, values) in enumerate(panel.free_runs.items()):
            ax.plot(
                np.arange(panel.free_start, panel.free_start + len(values)),
                values,
                linestyle=styles[k % len(styles)],
                linewidth=1.6,
                color=SEQUENCE_COLORS.get(model, FREE_RUN_COLORS[k % len(FREE_RUN_COLORS)]),
                label=f"{model}: free run (stored forecast)",
            )
        if panel.free_start < window:
            ax.axvline(panel.free_start, color="#444", linewidth=0.8)
            transform = ax.get_xaxis_transform()
            ax.text(panel.free_start, 1.0, " free run →", transform=transform, va="top", fontsize=9)
        ax.set_yscale("log")
        ax.set_xlim(0, window - 1)
        ax.set_title(f"{panel.trace}: run length of each switch, from the first test position")
        ax.set_xlabel("test position (switches after the split)")
        ax.set_ylabel("delta_us (log)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def leaderboard_bars(
    panels: Sequence[tuple[str, str, bool, pd.DataFrame]],
    ceilings: Sequence[tuple[str, float]],
    missing: Sequence[str],
):
    """Per target (title, metric, higher is better, `frames.main_metric_bars`): a bar per
    model with its interval; each mean ceiling (label, value) as a line on the acc panel."""
    from matplotlib.patches import Patch

    plt = pyplot()
    height = max(len(frame) for *_, frame in panels) * 0.42 + 1.3
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), height), squeeze=False)
    for ax, (title, metric, higher, frame) in zip(axes[0], panels, strict=True):
        values, lows, highs = (frame[k].to_numpy() for k in ("value", "low", "high"))
        y = np.arange(len(frame))
        ax.barh(y, values, color=[_kind_color(k) for k in frame["kind"]])
        err = [values - lows, highs - values]
        ax.errorbar(values, y, xerr=err, fmt="none", ecolor="black", capsize=3, linewidth=1)
        ax.set_yticks(y, [short(n) for n in frame["model"]])
        ax.invert_yaxis()
        better = "higher" if higher else "lower"
        ax.set_xlabel(f"{metric} ({better} is better), mean over traces")
        ax.set_title(title)
        if metric == "acc":
            for (label, value), style in zip(ceilings, ("--", ":"), strict=False):
                color = CEILING_SERIES_COLORS.get(label, CEILING_COLOR)
                ax.axvline(value, color=color, linestyle=style, linewidth=1.2)
                ax.text(value, -0.7, f" {label}", color=color, va="bottom", fontsize=8)
            ax.set_xlim(0, 1.02)
    handles = [
        Patch(color=LEARNED_COLOR, label="learned model"),
        Patch(color=REFERENCE_COLOR, label="reference predictor"),
    ]
    anchor = (0.5, -0.04)
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=anchor)
    note = f"; not shown (failed or incomplete): {', '.join(missing)}" if missing else ""
    fig.suptitle("Leaderboard (95% intervals)" + note, y=1.02)
    fig.tight_layout()
    return fig


def accuracy_vs_latency(panels: Sequence[tuple[str, str, bool, pd.DataFrame, pd.DataFrame]]):
    """Per target (title, metric, higher is better, `frames.latency_points`, its
    `frames.frontier`): p50 dots with a bar to p99 and the metric's interval, the frontier as a
    step line, and the scheduler's budget band."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.25 * len(panels), 4.8), squeeze=False)
    labels = []
    for ax, (title, metric, higher, points, front) in zip(axes[0], panels, strict=True):
        ax.axvspan(*BUDGET_US, color="#55a868", alpha=0.15, linewidth=0)
        ax.text(
            math.sqrt(BUDGET_US[0] * BUDGET_US[1]),
            0.02,
            f"scheduler budget\n{BUDGET_US[0]:g}–{BUDGET_US[1]:g} µs",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8.5,
            color=FRONTIER_COLOR,
        )
        for point in points.itertuples():
            color = _kind_color(point.kind)
            ax.errorbar(
                point.p50_us,
                point.value,
                xerr=[[0.0], [max(0.0, point.p99_us - point.p50_us)]],
                yerr=[[point.value - point.low], [point.high - point.value]],
                fmt="o",
                color=color,
                ecolor=color,
                elinewidth=1,
                capsize=2,
                markersize=6,
            )
            at = (point.p50_us, point.value)
            text = ax.annotate(short(point.model, 20), at, textcoords="offset points",
                               xytext=(5, 4), fontsize=8.5)  # fmt: skip
            labels.append(text)
        if len(front):
            ax.step(front["p50_us"], front["value"], where="post", color=FRONTIER_COLOR,
                    linewidth=1.3, linestyle="-", label="frontier", gid="frontier")  # fmt: skip
            ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.set_xscale("log")
        ax.set_xlabel("online latency per decision, µs (dot: p50; bar to p99; log)")
        ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)")
        ax.set_title(title)
    fig.suptitle("Accuracy against the cost of one prediction (grey: reference predictors)", y=1.02)
    fig.tight_layout()
    _declutter(fig, labels)
    return fig


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


def confusion_matrices(panels: Sequence[tuple[str, np.ndarray, list[str], int]], model: str):
    """Per trace (title, `frames.confusion` share matrix, labels, positions): a heatmap."""
    import seaborn as sns

    plt = pyplot()
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(5.6 * n, 5.4), squeeze=False)
    for ax, (trace, share, labels, positions) in zip(axes[0], panels, strict=True):
        sns.heatmap(share, ax=ax, vmin=0, vmax=1, cmap="Blues", annot=True, fmt=".2f",
                    annot_kws={"fontsize": 7}, xticklabels=labels, yticklabels=labels,
                    cbar=False, square=True)  # fmt: skip
        ax.set_xlabel("predicted task")
        ax.set_ylabel("true task")
        ax.set_xticklabels(labels, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_title(f"{trace} ({positions:,} test positions)")
    fig.suptitle(f"Confusion matrix of the best task model, {model} (rows sum to 1)", y=1.0)
    fig.tight_layout()
    return fig


def ceiling_vs_best(frame: pd.DataFrame, traces: Sequence[str]):
    """Grouped bars per trace (`frames.ceiling_comparison`), each labelled with its value."""
    from matplotlib.patches import Patch

    plt = pyplot()
    series = list(dict.fromkeys(frame["series"]))
    colors = {s: CEILING_SERIES_COLORS.get(s, LEARNED_COLOR) for s in series}
    fig, ax = plt.subplots(figsize=(max(6.5, 2.6 * len(traces) + 2.5), 4.6))
    width = 0.8 / len(series)
    position = {t: i for i, t in enumerate(traces)}
    for i, name in enumerate(series):
        for row in frame[frame["series"] == name].itertuples():
            x = position[row.trace] + (i - (len(series) - 1) / 2) * width
            ax.bar(x, row.value, width=width * 0.95, color=colors[name])
            text = f"{row.value:.3f}" + (f"\n{short(row.model, 14)}" if row.model else "")
            ax.text(x, row.value + 0.01, text, ha="center", va="bottom", fontsize=7.5)
    handles = [Patch(color=colors[s], label=s) for s in series]
    ax.set_xticks(np.arange(len(traces)), traces)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("top-1 accuracy (thread level)")
    ax.set_title("How far from the ceiling: predictability limit vs models, per trace")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def horizon_accuracy(
    frame: pd.DataFrame, traces: Sequence[str], levels: dict[str, dict[str, float]]
):
    """acc@h against h per trace (`frames.horizon_curves`), with each reference's one-step
    accuracy (`levels`: trace -> name -> acc) as a horizontal line."""
    plt = pyplot()
    cols = 2 if len(traces) > 1 else 1
    rows = -(-len(traces) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.3 * rows), squeeze=False)
    models = list(dict.fromkeys(frame["model"]))
    palette = plt.get_cmap("tab10")
    for ax, trace in zip(axes.ravel(), traces, strict=False):
        part = frame[frame["trace"] == trace]
        for i, model in enumerate(models):
            line = part[part["model"] == model]
            if line.empty:
                continue
            reference = line["kind"].iloc[0] == "reference"
            ax.plot(line["h"], line["acc"], marker="o", markersize=3, linewidth=1.2,
                    linestyle="--" if reference else "-", color=palette(i % 10),
                    label=short(model, 18))  # fmt: skip
            ax.fill_between(line["h"], line["low"], line["high"], color=palette(i % 10),
                            alpha=0.12, linewidth=0)  # fmt: skip
        for k, (name, acc) in enumerate(sorted(levels.get(trace, {}).items())):
            ax.axhline(acc, color="#444", linewidth=0.8, linestyle=(0, (1, 2 + k)))
            ax.text(1, acc, f" {name} one-step", fontsize=7, va="bottom", color="#444")
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 1.02)
        ax.set_title(trace)
        ax.set_xlabel("steps ahead h (log2)")
        ax.set_ylabel("acc@h")
    for ax in axes.ravel()[len(traces) :]:
        ax.set_visible(False)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(6, len(labels)), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 1.0))  # fmt: skip
    fig.suptitle("Horizon track: accuracy h switches ahead (free run)", y=1.03)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig
