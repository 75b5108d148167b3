"""`kernel-oracle perf`: the harness benchmark (scoring, bootstrap, ceiling, online latency).

Numbers are printed, not asserted: speed goals are checked by reading this output on the
machine at hand, never by timed unit tests.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from benchmark.core.text import plain
from benchmark.core.threads import apply_threads
from benchmark.data.dataset import Runs, runs_from_frame
from benchmark.data.manifest import read_run_table, trace_names
from benchmark.results.store import stored_params
from benchmark.running.harness import ONLINE_WARMUP, LatencyProbe, add_fit_costs, param_groups
from benchmark.running.latency_targets import check_targets
from benchmark.running.protocol import accepts_targets
from benchmark.running.registry import build_model, get_model_class, registered
from benchmark.running.runner import resolve
from benchmark.scoring.throughput import throughput_benchmark

# Timed passes per fitted model, each statistic at its best pass (`harness.LatencyProbe`), in
# rounds over all the models timed: this machine kind changes speed under a benchmark (a fixed
# pure-Python loop reads 7.0 or 11.0 us, in phases of 0.5-10 s), so one pass, or several back
# to back, measure whichever phase they meet; rounds spread each model's passes over the run.
PASSES = 20


def perf_excerpt(trace: str, steps: int, fit_runs: int) -> Runs:
    """The first rows of `trace`, as `perf` fits and times on them: about `fit_runs` train
    rows, and valid and test rows enough for `steps` timed steps after the warm-up."""
    length = max(int(fit_runs / 0.7), int((steps + ONLINE_WARMUP + 10) / 0.3) + 1)
    return runs_from_frame(read_run_table(trace).iloc[:length], f"{trace}-perf")


def model_latencies(
    trace: str,
    steps: int,
    models: list[str],
    fit_runs: int,
    defaults: bool = False,
    passes: int = PASSES,
) -> list[dict[str, object]]:
    """Fit each model on the train rows of an excerpt of `trace` (about `fit_runs` of them),
    then time `steps` batch-1 steps (predict_next + update) over the valid and test rows that
    follow; the excerpt is long enough that every step is timed.

    A model runs on the parameters the leaderboard runs it on (its params files; one fit per
    parameter set, each with its own targets, combined as the harness combines them:
    `harness.add_fit_costs`), or on its defaults with `defaults`: the latency the board shows is
    the one timed here, not that of an untuned model. Every fit is timed `passes` times, in
    rounds (one pass of every fit, then the next round), and its p50 and p99 reported each at
    its best pass, the median pass's p50 beside them."""
    runs = perf_excerpt(trace, steps, fit_runs)
    fitted: list[tuple[str, str, float, list[LatencyProbe]]] = []
    apply_threads()
    for name in models:
        targets = get_model_class(name).targets
        params = {t: {} for t in targets} if defaults else stored_params(name, targets)[0]
        fit_s, probes = 0.0, []
        for group, values in param_groups(params):
            model = build_model(name, values)
            only = {"targets": list(group)} if accepts_targets(model) else {}  # as the harness
            t0 = time.perf_counter()
            model.fit(runs.train(), valid=runs.valid(), seed=0, **only)
            fit_s += time.perf_counter() - t0
            probes.append(LatencyProbe(model, runs, runs.split.valid[0], steps))
        used = "defaults" if not any(params.values()) else "params files"
        fitted.append((name, used, fit_s, probes))
    for _ in range(passes):
        for *_, probes in fitted:
            for probe in probes:
                probe.time_pass()
    rows = []
    for name, used, fit_s, probes in fitted:
        combined: dict[str, object] = {}
        for probe in probes:
            add_fit_costs(combined, probe.result())
        rows.append({"model": name, "fit_s": fit_s, "params": used, **combined})
    return rows


def run_perf(
    console: Console,
    trace: str | None,
    steps: int,
    models: list[str] | None,
    fit_runs: int,
    defaults: bool = False,
    passes: int | None = None,
) -> None:
    """Print the harness benchmark as two tables (bad names and traces fail before any timing);
    each model's p50 and p99 are each at its best of `passes` (default `PASSES`) timed passes."""
    passes = passes or PASSES
    trace = trace or trace_names()[0]
    if trace not in trace_names():
        raise KeyError(f"unknown trace {trace!r}; shipped traces: {', '.join(trace_names())}")
    names = models or sorted(registered())
    for name in names:
        resolve(name)
    console.print("timing scoring (1M predictions) and bootstrap (100k x 1,000 resamples) ...")
    numbers = throughput_benchmark(n_ceiling=1_000_000)
    table = Table(title="harness throughput (wall seconds)")
    for column in ("what", "size", "seconds", "target"):
        table.add_column(column, no_wrap=True)
    table.add_row(
        "validate + all metrics",
        f"{numbers['scoring_n']:,}",
        f"{numbers['scoring_s']:.3f}",
        "< 2 s",
    )
    table.add_row(
        f"bootstrap, {numbers['bootstrap_metrics']} metrics",
        f"{numbers['bootstrap_n']:,} x {numbers['bootstrap_resamples']:,}",
        f"{numbers['bootstrap_s']:.3f}",
        "< 5 s",
    )
    if "ceiling_s" in numbers:
        table.add_row(
            "predictability ceiling",
            f"{numbers.get('ceiling_n', 1_000_000):,}",
            f"{numbers['ceiling_s']:.3f}",
            "seconds",
        )
    console.print(table)

    latency = Table(
        title=f"online latency, batch 1: fit on {fit_runs:,} runs of {trace}, "
        f"then {steps:,} steps (predict_next + update), the best of {passes} passes"
    )
    columns = (
        "model", "parameters", "fit s", "p50 µs", "p99 µs", "median pass p50", "steps",
        "compile s", "state KiB",
    )  # fmt: skip
    for column in columns:
        latency.add_column(column, no_wrap=True)
    with console.status("fitting and timing models ..."):
        rows = model_latencies(trace, steps, names, fit_runs, defaults, passes)
    for row in rows:
        latency.add_row(
            plain(row["model"]),
            str(row["params"]),
            f"{row['fit_s']:.1f}",
            f"{row['online_p50_us']:.2f}",
            f"{row['online_p99_us']:.2f}",
            f"{row.get('online_p50_us_median_pass', row['online_p50_us']):.2f}",
            str(row["online_steps"]),
            _optional(row.get("online_compile_s"), "{:.2f}"),
            _optional(row.get("online_state_bytes"), "{:.1f}", 1 / 1024),
        )
    console.print(latency)
    targets = Table(title="latency targets (issue 13; accuracy from the stored results)")
    for column in ("target", "verdict", "detail"):
        targets.add_column(column)
    for verdict in check_targets(rows):
        met = {True: "met", False: "MISSED", None: "not checked"}[verdict.met]
        targets.add_row(plain(verdict.what), met, plain(verdict.detail))
    console.print(targets)


def _optional(value: object, spec: str, scale: float = 1.0) -> str:
    """A number of the latency table, or "-" for a model without a compiled online path."""
    return "-" if not isinstance(value, (int, float)) else spec.format(value * scale)
