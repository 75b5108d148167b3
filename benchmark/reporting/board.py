"""The leaderboard (README §6): build the tables from the result files alone.

Evaluating lives in `benchmark.running.runner`; the `leaderboard` command runs it, then calls
`build`. `build` is a pure function of a results folder and a data manifest (plus the per-trace
predictability ceilings, computed from the data's test task sequence): it writes README.md,
leaderboard.csv, leaderboard.json and index.html.

Aggregation (also stated in the generated README):

* per trace: the mean over seeds of each metric and of its 95% bootstrap interval's ends (the
  interval covers the test positions' sampling noise; the spread over seeds is `seed_std`);
* across traces: the unweighted mean of the per-trace values (README §5), with an interval of
  half-widths `sqrt(sum(h_i^2)) / k` (independent traces, normal approximation); given only when
  the model has a scored result on every trace, so that means are over the same traces;
* a result whose `data_sha256` differs from the manifest's (or of a trace the manifest lacks, or
  of another split version) is refused as stale: listed, never scored;
* a failed run makes its (model, trace) cell `failed` (a model with one failed seed of three is
  failed there: the other seeds are not silently used instead); such a model gets no mean and no
  rank;
* costs are means over traces of the seed means: fit seconds, batch-1 online latency p50/p99.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmark.core.atomic import write_text
from benchmark.core.paths import leaderboard_dir
from benchmark.data.splits import SPLIT_VERSION
from benchmark.results.store import STATUS_OK, read_result, results_dir
from benchmark.scoring.metrics import METRICS

BOARD_SCHEMA = 1
MAIN_METRIC = {"task": "acc", "delta": "mse_z"}
TARGET_METRICS = {
    "task": ("acc", "acc_comm", "top3", "macro_f1", "log_loss"),
    "delta": ("mse_z", "mae_us", "msle"),
}
COSTS = ("fit_s", "predict_s", "online_p50_us", "online_p99_us", "peak_rss_mb")


# =============================================================================================
# Building: results folder + manifest -> board (a plain dict) -> files
# =============================================================================================
def model_kind(name: str) -> str:
    """reference (majority/markov/ewma), baseline (another registered model) or submission."""
    from models import REFERENCE, REGISTRY

    if name in REFERENCE:
        return "reference"
    return "baseline" if name in REGISTRY else "submission"


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _seed_mean(results: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """Mean over seeds of a metric's value and interval ends; None if any seed lacks it."""
    entries = [r.get("metrics", {}).get(metric) for r in results]
    if not entries or any(e is None or not _finite(e.get("value")) for e in entries):
        return None
    values = [float(e["value"]) for e in entries]
    lows = [float(e["low"]) if _finite(e.get("low")) else float(e["value"]) for e in entries]
    highs = [float(e["high"]) if _finite(e.get("high")) else float(e["value"]) for e in entries]
    return {
        "value": _mean(values),
        "low": _mean(lows),
        "high": _mean(highs),
        "seed_std": statistics.stdev(values) if len(values) > 1 else None,
    }


def _trace_mean(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Unweighted mean over traces; interval half-widths combined as independent."""
    k = len(cells)
    value = _mean([c["value"] for c in cells])
    down = math.sqrt(math.fsum((c["value"] - c["low"]) ** 2 for c in cells)) / k
    up = math.sqrt(math.fsum((c["high"] - c["value"]) ** 2 for c in cells)) / k
    return {"value": value, "low": value - down, "high": value + up}


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error or "unknown error")
    message = str(error.get("message", "")).strip().splitlines()
    first = message[0] if message else ""
    text = f"{error.get('type', 'Error')}: {first}" if first else str(error.get("type", "Error"))
    return text[:300]


def read_results(root: Path, manifest: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """(accepted results, refused entries) from every result file under `root`/results."""
    traces = manifest.get("traces", {})
    files = manifest.get("files", {})
    accepted, refused = [], []
    base = results_dir(root)
    for path in sorted(base.glob("*/*/seed*.json")):
        rel = path.relative_to(base).as_posix()
        try:
            result = read_result(path)
        except ValueError as error:
            refused.append(
                {
                    "file": rel,
                    "model": None,
                    "trace": None,
                    "seed": None,
                    "reason": f"unreadable: {str(error).split(': ', 1)[-1][:200]}",
                }
            )
            continue
        entry = {
            "file": rel,
            "model": str(result.get("model")),
            "trace": str(result.get("trace")),
            "seed": result.get("seed"),
        }
        trace = entry["trace"]
        expected = files.get(f"traces/{trace}.parquet")
        if trace not in traces or expected is None:
            refused.append({**entry, "reason": f"trace {trace!r} is not in the data manifest"})
        elif result.get("data_sha256") != expected:
            got = str(result.get("data_sha256"))[:12]
            refused.append(
                {
                    **entry,
                    "reason": f"stale: data sha256 {got}... is not the manifest's "
                    f"{expected[:12]}...",
                }
            )
        elif result.get("split_version") != SPLIT_VERSION:
            refused.append(
                {
                    **entry,
                    "reason": f"stale: split version {result.get('split_version')!r}, "
                    f"current {SPLIT_VERSION}",
                }
            )
        else:
            accepted.append({**result, "_file": rel})
    return accepted, refused


def collect(
    root: Path,
    manifest: dict[str, Any],
    ceilings: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The leaderboard as a plain dict (what leaderboard.json holds)."""
    traces = sorted(manifest.get("traces", {}))
    accepted, refused = read_results(root, manifest)
    by_model: dict[str, dict[str, list[dict]]] = {}
    for result in accepted:
        by_model.setdefault(result["model"], {}).setdefault(result["trace"], []).append(result)

    models = []
    failed_runs = []
    for name in sorted(by_model):
        per_trace_results = by_model[name]
        targets = sorted(
            {t for rs in per_trace_results.values() for r in rs for t in r.get("targets") or []}
        )
        per_trace: dict[str, Any] = {}
        for trace in traces:
            results = sorted(per_trace_results.get(trace, []), key=lambda r: r.get("seed", 0))
            if not results:
                per_trace[trace] = {"status": "missing", "seeds": [], "metrics": {}, "costs": {}}
                continue
            bad = [r for r in results if r.get("status") != STATUS_OK]
            for r in bad:
                failed_runs.append(
                    {
                        "model": name,
                        "trace": trace,
                        "seed": r.get("seed"),
                        "error": _error_text(r.get("error")),
                    }
                )
            cell: dict[str, Any] = {
                "status": "failed" if bad else "ok",
                "seeds": [r.get("seed") for r in results],
                "metrics": {},
                "costs": {},
            }
            if not bad:
                for target in targets:
                    for metric in TARGET_METRICS.get(target, ()):
                        entry = _seed_mean(results, metric)
                        if entry is not None:
                            cell["metrics"][metric] = entry
                for cost in COSTS:
                    values = [r.get("costs", {}).get(cost) for r in results]
                    if values and all(_finite(v) for v in values):
                        cell["costs"][cost] = _mean([float(v) for v in values])
            per_trace[trace] = cell
        statuses = {c["status"] for c in per_trace.values()}
        status = (
            "failed" if "failed" in statuses else "incomplete" if "missing" in statuses else "ok"
        )
        mean: dict[str, Any] = {}
        costs: dict[str, float] = {}
        if status == "ok" and traces:
            for target in targets:
                for metric in TARGET_METRICS.get(target, ()):
                    cells = [per_trace[t]["metrics"].get(metric) for t in traces]
                    if all(c is not None for c in cells):
                        mean[metric] = _trace_mean(cells)  # type: ignore[arg-type]
            for cost in COSTS:
                values = [per_trace[t]["costs"].get(cost) for t in traces]
                if all(v is not None for v in values):
                    costs[cost] = _mean(values)  # type: ignore[arg-type]
        seeds = max((len(c["seeds"]) for c in per_trace.values()), default=0)
        models.append(
            {
                "model": name,
                "kind": model_kind(name),
                "targets": targets,
                "status": status,
                "seeds": seeds,
                "per_trace": per_trace,
                "mean": mean,
                "costs": costs,
                "rank": {},
            }
        )

    for target, metric in MAIN_METRIC.items():
        ranked = [m for m in models if target in m["targets"] and metric in m["mean"]]
        ranked.sort(
            key=lambda m: (METRICS[metric].sort_key(m["mean"][metric]["value"]), m["model"])
        )
        for position, m in enumerate(ranked, 1):
            m["rank"][target] = position

    ceiling = {t: ceilings[t] for t in traces if ceilings and t in ceilings}
    return {
        "schema": BOARD_SCHEMA,
        "traces": traces,
        "data_sha256": {t: manifest.get("files", {}).get(f"traces/{t}.parquet") for t in traces},
        "split_version": SPLIT_VERSION,
        "metrics": {
            name: {
                "target": m.target,
                "higher_is_better": m.higher_is_better,
                "description": m.description,
            }
            for name, m in METRICS.items()
        },
        "main_metric": dict(MAIN_METRIC),
        "models": models,
        "ceiling": ceiling,
        "failed": failed_runs,
        "refused": refused,
        "result_files": len(accepted) + len(refused),
    }


def shows(model: dict[str, Any], target: str) -> bool:
    """Whether a model has a row for `target` (one whose targets are unknown, because it failed
    before they could be read, has a `failed` row in both tables)."""
    return target in model["targets"] or not model["targets"]


def ordered(board: dict[str, Any], target: str) -> list[dict[str, Any]]:
    """Models predicting `target`: ranked ones first (by rank), then the rest by name."""
    rows = [m for m in board["models"] if shows(m, target)]
    return sorted(rows, key=lambda m: (m["rank"].get(target, math.inf), m["model"]))


# -- the predictability ceiling -----------------------------------------------------------------
CEILING_KEYS = ("max_predictability", "pi_max", "predictability")


def ceiling_value(entry: dict[str, Any] | None) -> float | None:
    """The maximum predictability in a `benchmark.scoring.ceiling.ceiling` result."""
    if not entry:
        return None
    for key in CEILING_KEYS:
        if _finite(entry.get(key)):
            return float(entry[key])
    return None


def compute_ceilings(
    traces: Iterable[str], data_root: Path | None = None, log: Callable[[str], None] | None = None
) -> dict[str, dict[str, Any]]:
    """`ceiling.ceiling` of each trace's test task sequence (empty if unavailable)."""
    try:
        from benchmark.scoring.ceiling import ceiling
    except ImportError as error:
        if log:
            log(f"no ceiling rows: benchmark.scoring.ceiling is not available ({error})")
        return {}
    from benchmark.data.dataset import load_trace

    out = {}
    for trace in traces:
        try:
            runs = load_trace(trace, data_root)
        except (FileNotFoundError, KeyError, ValueError) as error:
            if log:
                log(f"no ceiling for {trace}: {error}")
            continue
        lo, hi = runs.split.test
        entry = ceiling(runs.task[lo:hi])
        out[trace] = {k: _plain(v) for k, v in dict(entry).items()}
    return out


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, non-finite floats to None."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def build(
    root: Path | None = None,
    out_dir: Path | None = None,
    data_root: Path | None = None,
    ceilings: dict[str, dict[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write README.md, leaderboard.csv, leaderboard.json and index.html from result files alone.

    `root` holds results/ (default: the leaderboard folder); files go to `out_dir` (default
    `root`). `ceilings` (trace -> ceiling dict) default to `compute_ceilings` on the data.
    """
    from benchmark.data.manifest import load_manifest
    from benchmark.reporting import render

    root = root or leaderboard_dir()
    out_dir = out_dir or root
    manifest = load_manifest(data_root)
    if ceilings is None:
        ceilings = compute_ceilings(sorted(manifest.get("traces", {})), data_root, log)
    board = collect(root, manifest, ceilings)
    write_text(out_dir / "README.md", render.markdown(board))
    write_text(out_dir / "leaderboard.csv", render.csv_text(board))
    write_text(out_dir / "leaderboard.json", render.json_text(board))
    write_text(out_dir / "index.html", render.html_page(board))
    return board
