"""The prose of the board's README (and page): what each number is and how it is made
(README §5, §6), in one place."""

from __future__ import annotations

from collections.abc import Callable

from benchmark.reporting.boardtypes import Board
from benchmark.reporting.budget import BUDGETS_US
from benchmark.scoring.metrics import METRICS

Escape = Callable[[object], str]

CEILINGS = (
    "Two **ceilings** bound top-1 accuracy on each trace's test rows, each for what it "
    "covers. The **task-history ceiling** is the maximum predictability of the task sequence "
    "alone: its entropy rate estimated by Lempel-Ziv (Kontoyiannis' estimator) and Fano's "
    "inequality solved for the best achievable top-1 accuracy (Song et al., Science 2010); it "
    "bounds only models that see the task history alone (tagged `task-only`), so a model that "
    "also reads run lengths, end states or times can lie above it (marked †, not a leak). The "
    "**side-information ceiling** conditions on the side information every model is handed "
    "and bounds every model: an acc interval entirely above it is flagged as a **suspected "
    "leak**. The normalized score is the share of the gap from markov to the ceiling that "
    "covers every model (the side-information one; the task-history one where it is missing) "
    "that a model closes: `(acc - acc_markov) / (ceiling - acc_markov)`. The **headroom** row "
    "is the task-history ceiling minus markov's accuracy: what a trace leaves to learn beyond "
    "first-order statistics."
)
TRANSFER = (
    "Each model's rank on this holdout against its rank on the shipped traces (the committed "
    "board), per target, and Spearman's rank correlation of the two orders (tied ranks "
    "averaged): near 1, the shipped ranking carries to this capture; near 0 or below, it does "
    "not. Only models ranked on both boards count; fewer than three give no rho."
)
SIGNIFICANCE = (
    "Each model minus the next one below it and minus markov, on the same test positions: the "
    "paired 95% moving-block bootstrap interval of the difference, from the stored predictions "
    "(`seed<k>.npz`) and the truth. A difference whose interval covers 0, or that is smaller "
    "than either model's seed spread (min-max over seeds), is a tie, and tied models share a "
    "rank (`2=`). Without stored predictions for both, overlapping intervals are a tie "
    '("intervals overlap").'
)
BUDGETS = (
    "The best model whose online p50 latency per decision (its best run's: README \"Latency "
    'budget") fits each budget '
    f"({', '.join(f'{b:g}' for b in BUDGETS_US)} µs), by acc (task) and by mse_z (delta). A "
    "context switch costs about 1-4 µs."
)
HORIZON = (
    "Each model forecasts the next 64 switches from fixed, evenly spaced test origins (2,000 "
    'per trace on the full board, the same for every model; README "Horizon track"): by '
    "default a free run, its own "
    "top-1 task and run length fed back as the next observed run. acc@h: the share of origins "
    "whose h-th forecast task is right; prefix: the mean number of leading steps right before "
    "the first error (at most 64); mse_z@h: the h-th run length's error, as mse_z. Means over "
    "traces with 95% intervals (moving-block bootstrap over origins, blocks spanning 64 rows). "
    "At h = 1 the forecast is the one-step prediction at those origins."
)
HORIZON_FALLS = (
    "How far ahead a free run stays at least as accurate as a reference's one-step prediction: "
    "the first recorded step h whose acc@h is below markov's (then majority's) one-step "
    "accuracy at the same origins (their acc@1) on that trace; `> 64`: not within the horizon."
)
SCHEDULERS = (
    "Each model's mean over the traces of each scheduler (EEVDF: kernel 6.18 on the host; CFS: "
    "Linux 6.1 in a one-vCPU qemu guest, the KernelOracle paper's setup) and its place among "
    "the models by that mean, beside the overall mean over every trace (which ranks). The "
    "parameters were tuned on the EEVDF traces only (the CFS traces are a held-out scheduler). "
    "Spearman's rho compares the two orders (tied values averaged; fewer than three models "
    "give none): near 1, a model that is better on one scheduler is better on the other."
)
TUNING = (
    "Every tuned learned model also runs on its defaults (`<model>.default`, seed 0, not "
    "ranked). Tuned − default on the same test positions, mean over traces, with the paired 95% "
    "block-bootstrap interval (✓: tuning helped beyond the interval); then the traces where the "
    "per-trace paired interval says better or worse. The tuned row is its seeds' mean. The "
    "parameters were chosen on the valid rows only (`make tune`, README §6)."
)
REFUSED = (
    "These result files do not match the current data (or cannot be read) and are not scored; "
    "re-run their evaluations."
)


REPRODUCIBILITY = (
    "Each result records its thread count, CPU model and the instruction sets numpy (and torch, "
    "where used) dispatched to. On the same machine kind and packages every number here "
    "reproduces exactly (a test runs decision_tree and lstm twice; regenerating this board "
    "reproduced every earlier lstm, gru, kernel_oracle_lstm, tree, reference and arima metric "
    "on the traces whose split did not change, to the last digit). Tree and reference results "
    "also reproduce across machines. Neural results may move across CPU models (measured "
    "before: gru keepalive seed 1 acc 0.9545 on one CPU, 0.9644 on another, same packages); "
    "read such differences against the seed spread shown, never as wins."
)


def intro(board: Board, escape: Escape) -> list[str]:
    traces = board.traces
    return [
        "# Leaderboard",
        "",
        "<!-- generated by `kernel-oracle leaderboard` (make leaderboard) from the result files "
        "in results/; do not edit -->",
        "",
        f"Built from {board.result_files} result files in `results/` on "
        f"{len(traces)} trace(s): {', '.join(f'`{escape(t)}`' for t in traces)} "
        f"(split version {board.split_version}; data sha256 in `leaderboard.json`). "
        "Sortable page: `index.html`; the same numbers: `leaderboard.csv`, `leaderboard.json`; "
        "figures: `figures/`.",
        "",
        "Each row is a model; `#` is its rank on the mean over traces (`2=`: tied, see *Are the "
        "ranks significant?*), then the mean of the main metric with its interval and seed "
        "spread, the other metrics, and the main metric per trace with the model's rank there. "
        "Intervals are 95% moving-block bootstrap intervals over test positions. ↑ higher is "
        "better, ↓ lower is better. *(ref)* marks the reference predictors (majority, markov, "
        "ewma) that every learned model should beat.",
        "",
    ]


def how(escape: Escape) -> list[str]:
    """The bullets of "How the numbers are made"."""
    return [
        "A cell is the mean over seeds (stochastic models: several seeds; others: one); its "
        "interval ends are the seeds' mean interval ends, and `seeds a–b` is its seed spread. A "
        "cell whose seeds used different parameters or code commits is `stale`: never averaged.",
        "The mean over traces is given only for models with a scored result on every trace; "
        "its interval combines the per-trace half-widths as independent "
        "(sqrt of the sum of squares, divided by the number of traces).",
        "`failed`: a run failed (see Failed runs), also when a good result of the same seed is "
        "stored beside the failure; it is never replaced by another run. `—`: not run on that "
        "trace (or its result was refused).",
        "`÷ best ref`: mse_z over the lowest mse_z of the reference predictors on that trace; "
        "its mean over traces is geometric.",
        "Costs: fit seconds, and the batch-1 online latency of one scheduler step "
        "(predict_next + update) in microseconds, p50 and p99: a trace's cell shows its run's "
        "(the best seed's), a model's row its best run's (this machine kind's slow phases only "
        'raise a run\'s latency; README "Latency budget"); other costs are means over traces.',
        "Metrics: "
        + "; ".join(
            f"`{name}` ({m.target}, {m.direction} is better): {escape(m.description)}"
            for name, m in METRICS.items()
        )
        + ".",
    ]
