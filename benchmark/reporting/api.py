"""The loading API for figure authors (README "For figure authors"): stored results as pandas.

    from benchmark.reporting.api import load_results, load_predictions, load_board

* `load_results()`: one row per (model, variant, trace, seed, metric) of every result file the
  leaderboard accepts, with the board's verdict on its cell in `status`;
* `load_predictions(model, trace, seed)`: each scored test position's predicted and true task
  and run length (the truth from the verified data, `benchmark.data`);
* `load_board()`: the tables of `leaderboard.json`.

Which files count, which are stale and when a cell is failed are the leaderboard's rules, applied
by calling the same reading code (README §6), never re-implemented here. Nothing here imports
a model library (torch, lightgbm, statsmodels): a figure script stays light.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.paths import leaderboard_dir
from benchmark.data.manifest import MANIFEST_VERSION, load_manifest
from benchmark.data.splits import SPLIT_VERSION
from benchmark.results import schema
from benchmark.results.store import (
    Stored,
    base_model,
    is_default_label,
    read_results,
    stored_predictions,
)

RESULT_COLUMNS = (
    "model", "variant", "trace", "seed", "metric", "target", "value", "low", "high",
    "direction", "status", "run_status", "params_hash", "data_sha256", "file",
)  # fmt: skip
IDENTITY = ("model", "trace", "seed")
MEAN = "mean"  # the `trace` of a board row that is the mean over traces


def _read(
    root: Path | None, data_root: Path | None
) -> tuple[list[Stored], list[dict], dict[tuple[str, str], str]]:
    """(accepted results, refused entries, each (model, trace) cell's status), all decided by
    the leaderboard's own code: the store's reading rules and the board's cells."""
    from benchmark.reporting.assemble import make_board

    manifest = load_manifest(data_root)
    accepted, refused = read_results(root or leaderboard_dir(), manifest)
    board = make_board(accepted, refused, manifest)
    cells = {
        (r.model, t): c.status
        for r in (*board.models, *board.default_models)
        for t, c in r.per_trace.items()
    }
    return accepted, refused, cells


def params_hash(params: Any) -> str:
    """First 12 hex digits of the sha256 of the parameters as canonical JSON."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def variant(result: dict[str, Any]) -> str:
    """`tuned` when any target's parameters came from a params file (`params_source` names a
    .json file), else `default` (the constructor's defaults, or a profile's fast parameters;
    always for a `<model>.default` row)."""
    if result.get("variant"):
        return str(result["variant"])
    if is_default_label(str(result.get("model", ""))):
        return "default"
    sources = (result.get("params_source") or {}).values()
    return "tuned" if any(str(source).endswith(".json") for source in sources) else "default"


def load_results(
    root: str | Path | None = None, *, data_root: str | Path | None = None
) -> pd.DataFrame:
    """Every accepted result under `root` (default `leaderboard/`), one row per metric.

    `status` is the cell's verdict on the board (`failed` for every seed of a cell in which one
    run failed: filter on `status == "ok"` to get what the board scores); `run_status` is the
    run's own. A failed run is one row with no metric. Stale results are left out (they are in
    `load_board().refused`).
    """
    accepted, _, cells = _read(_path(root), _path(data_root))
    rows = []
    for s in accepted:
        r = s.result
        base = {
            "model": base_model(s.model),  # a default row is its model's `default` variant
            "variant": variant(r),
            "trace": s.trace,
            "seed": s.seed,
            "status": cells[(s.model, s.trace)],
            "run_status": r.get("status"),
            "params_hash": params_hash(r.get("params")),
            "data_sha256": r.get("data_sha256"),
            "file": s.file,
        }
        metrics = r.get("metrics") or {}
        if not metrics:
            rows.append({**base, "metric": None})
        for name, entry in sorted(metrics.items()):
            rows.append(
                {
                    **base,
                    "metric": name,
                    "target": entry.get("target"),
                    "value": entry.get("value"),
                    "low": entry.get("low"),
                    "high": entry.get("high"),
                    "direction": "higher" if entry.get("higher_is_better") else "lower",
                }
            )
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    for column in ("value", "low", "high"):
        frame[column] = frame[column].astype(float)
    return frame.sort_values(["model", "variant", "trace", "seed", "metric"], ignore_index=True)


def load_predictions(
    model: str,
    trace: str,
    seed: int = 0,
    *,
    root: str | Path | None = None,
    data_root: str | Path | None = None,
) -> pd.DataFrame:
    """One row per scored test position: `position` (row of the trace's parquet), predicted
    and true task (`pred_task`, `true_task` names; `*_task_id` vocabulary ids) and run length
    (`pred_delta_us`, `true_delta_us`). Columns of a target the model does not predict are
    absent. A stale or missing run, or one of a cell the board shows as failed (a run of that
    model on that trace failed), is a one-line error."""
    from benchmark.data.dataset import load_trace

    root_path = _path(root) or leaderboard_dir()
    accepted, refused, cells = _read(root_path, _path(data_root))
    found = [s for s in accepted if (s.model, s.trace, s.seed) == (model, trace, seed)]
    failed = cells.get((model, trace)) == "failed"
    stored = stored_predictions(root_path, found[0]) if len(found) == 1 and not failed else None
    if stored is None:
        why = [e["reason"] for e in refused if (e["model"], e["trace"], e["seed"]) == (
            model, trace, seed)]  # fmt: skip
        reason = (
            "failed: a run of this cell failed (see load_board().failed)" if failed
            else "predictions file missing" if found else why[0] if why else "no result file"
        )  # fmt: skip
        raise LookupError(
            f"{root_path}/results/{model}/{trace}: seed {seed}: {reason}; "
            f"run `kernel-oracle evaluate --model {model}` to (re)create it"
        )
    runs = load_trace(trace, _path(data_root))
    positions = stored["positions"].astype(np.int64)
    local = positions - runs.start
    out: dict[str, Any] = {"position": positions}
    if "task" in stored:
        vocabulary = np.asarray(runs.vocabulary, dtype=object)
        out["pred_task_id"] = stored["task"].astype(np.int64)
        out["true_task_id"] = runs.task[local].astype(np.int64)
        out["pred_task"] = vocabulary[out["pred_task_id"]]
        out["true_task"] = vocabulary[out["true_task_id"]]
    if "delta_us" in stored:
        out["pred_delta_us"] = stored["delta_us"].astype(np.float64)
        out["true_delta_us"] = runs.delta_us[local].astype(np.float64)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class BoardTables:
    """`leaderboard.json` as tables (`trace` is `mean` for a row's mean over traces):

    * `scores`: one row per (model, trace, metric) the board scores: value, 95% interval,
      seed spread (`seed_std`, `seed_min`, `seed_max`), direction, the cell's status; plus
      the pseudo-metrics `normalized` (share of the markov-to-ceiling gap closed) and
      `mse_ratio` (mse_z over the best reference's);
    * `standings`: one row per (model, trace, target): `rank`, `tied`, `rank_text` (`2=`), and
      the paired difference to the next model below (`next_*`) and to markov (`markov_*`);
    * `models` (kind, status, seeds, tags, suspected leak, costs), `ceilings` (one row per
      trace and kind), `budgets` (best model within each latency budget), `failed`, `refused`;
    * `horizon`: one row per (model, trace, horizon metric): `metric` (acc, mse_z, total_err or
      prefix), its step `h` (None for prefix), value, 95% interval and seed spread;
      `horizon_falls`: per (model, trace) the first step below markov's / majority's acc@1;
    * `board`: the raw JSON (with its `warnings` and `notes`)."""

    scores: pd.DataFrame
    standings: pd.DataFrame
    models: pd.DataFrame
    ceilings: pd.DataFrame
    budgets: pd.DataFrame
    failed: pd.DataFrame
    refused: pd.DataFrame
    board: dict[str, Any]
    horizon: pd.DataFrame | None = None
    horizon_falls: pd.DataFrame | None = None


PSEUDO_METRICS = {"normalized": ("task", "higher"), "mse_ratio": ("delta", "lower")}


SCORE_FIELDS = ("value", "low", "high", "seed_std", "seed_min", "seed_max")


def _scores(board: dict[str, Any], model: dict[str, Any], trace: str, part: dict) -> list[dict]:
    """The score rows of one cell (or of a row's mean, where `part` is the row itself)."""
    entries = {}
    for name, entry in (part["metrics"] if "metrics" in part else part["mean"]).items():
        facts = board["metrics"][name]
        direction = "higher" if facts["higher_is_better"] else "lower"
        entries[name] = (facts["target"], direction, entry)
    for name, (target, direction) in PSEUDO_METRICS.items():
        if part.get(name):
            entries[name] = (target, direction, part[name])
    identity = {"model": model["model"], "kind": model["kind"], "trace": trace}
    return [
        {**identity, "metric": name, "target": target, "direction": direction,
         "status": part["status"], **{k: entry.get(k) for k in SCORE_FIELDS}}
        for name, (target, direction, entry) in entries.items()
    ]  # fmt: skip


def _standings(model: dict[str, Any], trace: str, part: dict) -> list[dict]:
    """The standing rows of one cell (or of a row's mean)."""
    rows = []
    for target, s in part.get("standing", {}).items():
        row = {
            "model": model["model"],
            "trace": trace,
            "target": target,
            "rank": s["rank"],
            "tied": s["tied"],
            "rank_text": f"{s['rank']}{'=' if s['tied'] else ''}",
        }
        for prefix in ("next", "markov"):
            comparison = s.get(f"vs_{prefix}") or {}
            diff = comparison.get("diff") or {}
            row[f"{prefix}_model"] = comparison.get("other")
            row[f"{prefix}_diff"] = diff.get("value")
            row[f"{prefix}_low"] = diff.get("low")
            row[f"{prefix}_high"] = diff.get("high")
            row[f"{prefix}_tie"] = comparison.get("tie")
            row[f"{prefix}_evidence"] = comparison.get("evidence")
        rows.append(row)
    return rows


HORIZON_COLUMNS = ["model", "kind", "trace", "metric", "h", *SCORE_FIELDS]


def _horizon(model: dict[str, Any], trace: str, part: dict) -> list[dict]:
    """The horizon-track rows of one cell (or of a row's mean)."""
    rows = []
    for name, entry in sorted((part.get("horizon") or {}).items()):
        metric, _, h = name.partition("@")
        rows.append({"model": model["model"], "kind": model["kind"], "trace": trace,
                     "metric": metric, "h": int(h) if h else None,
                     **{k: entry.get(k) for k in SCORE_FIELDS}})  # fmt: skip
    return rows


def load_board(path: str | Path | None = None) -> BoardTables:
    """The board in `path` (default `leaderboard/leaderboard.json`), checked against its schema."""
    board = schema.load(_path(path) or leaderboard_dir() / "leaderboard.json", "board")
    scores, standings, models, horizon = [], [], [], []
    for m in board["models"]:
        for trace, part in [*m["per_trace"].items(), (MEAN, m)]:
            scores += _scores(board, m, trace, part)
            standings += _standings(m, trace, part)
            horizon += _horizon(m, trace, part)
        models.append(
            {
                **{k: m[k] for k in ("model", "kind", "status", "seeds", "suspected_leak")},
                "targets": ",".join(m["targets"]),
                "tags": ",".join(m["tags"]),
                **m["costs"],
            }
        )
    ceilings = [  # one row per (trace, kind of ceiling: task_history, side_information)
        {"trace": t, "kind": kind, **entry}
        for t, by_kind in sorted(board["ceiling"].items())
        for kind, entry in sorted(by_kind.items())
    ]
    budgets = [
        {"budget_us": b["budget_us"], "target": target, **b[target]}
        for b in board["budgets"]
        for target in ("task", "delta")
        if b.get(target)
    ]
    return BoardTables(
        scores=pd.DataFrame(scores),
        standings=pd.DataFrame(standings),
        models=pd.DataFrame(models),
        ceilings=pd.DataFrame(ceilings),
        budgets=pd.DataFrame(budgets),
        failed=pd.DataFrame(board["failed"], columns=[*IDENTITY, "error", "file"]),
        refused=pd.DataFrame(board["refused"], columns=["file", *IDENTITY, "reason"]),
        board=board,
        horizon=pd.DataFrame(horizon, columns=HORIZON_COLUMNS),
        horizon_falls=pd.DataFrame(
            board.get("horizon_falls") or [],
            columns=["model", "trace", "below_markov", "below_majority"],
        ),
    )


def data_version(data_root: str | Path | None = None) -> dict[str, Any]:
    """What to cite for the data (CITATION.cff holds the same): the manifest's version, the split
    version, and `data_sha256`, the sha256 of the manifest's `sha256sum`-style listing
    (`<sha256>  <path>` lines sorted by path), so any change to any shipped file changes it."""
    manifest = load_manifest(_path(data_root))
    listing = "".join(f"{sha}  {path}\n" for path, sha in sorted(manifest["files"].items()))
    return {
        "manifest_version": manifest.get("version", MANIFEST_VERSION),
        "split_version": SPLIT_VERSION,
        "data_sha256": hashlib.sha256(listing.encode()).hexdigest(),
        "traces": sorted(manifest["traces"]),
    }


def _path(value: str | Path | None) -> Path | None:
    return Path(value) if value is not None else None
