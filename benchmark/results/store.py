"""The results store (README §6): the one owner of the on-disk layout; nothing else builds or
globs these paths.

Layout under an output root (default `leaderboard/`; a holdout's is `DIR/leaderboard/`):

* `results/<model>/<trace>/seed<k>.json`: one schema-versioned result per (model, trace, seed),
  written atomically, with its test-position predictions beside it in `seed<k>.npz` (figures
  and paired intervals never re-train);
* `results/<model>/<trace>/seed<k>.failed.json`: the latest failed attempt of that run. A failed
  run never overwrites or deletes a good `seed<k>.json`: it is written beside it, and the board
  shows the cell as failed (the newer news) until a successful run of the same seed replaces
  the good file and removes the failure;
* `params/<model>-<target>.json`: tuned constructor parameters.

Stale seeds (those a new evaluation of (model, trace) did not produce) are cleared only after
every new seed succeeded (`clear_other_seeds`). Paths recorded inside a result are relative to
the repository (or the leaderboard or data folder), never absolute. Names used as path parts are
checked by `check_name`.
"""

from __future__ import annotations

import io
import json
import math
import platform
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import write_bytes, write_json
from benchmark.core.paths import REPO_ROOT, data_dir, leaderboard_dir
from benchmark.data.splits import SPLIT_VERSION
from benchmark.results import schema

SCHEMA_VERSION = 1
PARAMS_SCHEMA_VERSION = 1  # params files (benchmark/results/schemas/params.schema.json)
STATUS_OK = "ok"
STATUS_FAILED = "failed"
FAILED_SUFFIX = ".failed.json"
PACKAGES = ("numpy", "pandas", "scikit-learn", "lightgbm", "statsmodels", "torch", "optuna")
NAME_RULE = "letters, digits and _ . - only, not starting with '.', at most 64 characters"
_NAME = re.compile(r"(?!\.)[A-Za-z0-9_.\-]{1,64}")


# =============================================================================================
# Layout: every path of the store
# =============================================================================================
def check_name(name: str, what: str = "model name") -> str:
    """`name` if it is safe as one path part (`NAME_RULE`), else a one-line ValueError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} cannot name a results folder: use {NAME_RULE}")
    return name


# A learned model's untuned row (README §6): `<model>.default`, beside the tuned `<model>`.
DEFAULT_VARIANT = ".default"


def default_label(model: str) -> str:
    """The label of `model`'s default-parameters row (its results folder)."""
    return check_name(model + DEFAULT_VARIANT)


def is_default_label(label: str) -> bool:
    return label.endswith(DEFAULT_VARIANT)


def base_model(label: str) -> str:
    """The model a default row belongs to (`lstm.default` -> `lstm`); other labels unchanged."""
    return label[: -len(DEFAULT_VARIANT)] if is_default_label(label) else label


def results_dir(root: Path | None = None) -> Path:
    return (root or leaderboard_dir()) / "results"


def result_path(
    model: str, trace: str, seed: int, root: Path | None = None, *, failed: bool = False
) -> Path:
    """`results/<model>/<trace>/seed<k>.json` (or `seed<k>.failed.json` for a failed run)."""
    folder = results_dir(root) / check_name(model) / check_name(trace, "trace name")
    return folder / (f"seed{int(seed)}" + (FAILED_SUFFIX if failed else ".json"))


def predictions_path(result_file: Path) -> Path:
    """The `.npz` of test predictions beside a successful result file."""
    return result_file.with_suffix(".npz")


def holdout_out(holdout: Path) -> Path:
    """Where a private holdout's results go: inside the holdout folder, outside the repository."""
    return holdout / "leaderboard"


def params_path(model: str, target: str, root: Path | None = None) -> Path:
    return (root or leaderboard_dir()) / "params" / f"{check_name(model)}-{target}.json"


# What a params file records about when and from which commit it was written, not what it says.
PARAMS_STAMP_KEYS = ("date", "git_commit")


def store_params(path: Path, summary: dict[str, Any]) -> bool:
    """Write a params file, unless the one there says the same but for its date and commit
    (a re-run of a finished study keeps the file, so `make tune` twice changes nothing).
    True when written."""
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if isinstance(old, dict) and _unstamped(old) == _unstamped(json.loads(json.dumps(summary))):
            return False
    write_json(path, summary)
    return True


def _unstamped(params_file: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params_file.items() if k not in PARAMS_STAMP_KEYS}


def relative(path: str | Path) -> str:
    """`path` relative to the repository (or the leaderboard or data folder); a path outside
    them all is recorded by its file name only."""
    resolved = Path(path).resolve()
    for base in (REPO_ROOT, leaderboard_dir(), data_dir()):
        try:
            return resolved.relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            continue
    return resolved.name


def relative_text(text: str) -> str:
    """Free text (a traceback) with the repository's absolute prefix taken off its paths."""
    return text.replace(f"{REPO_ROOT}/", "")


def stored_params(
    model: str, targets: Iterable[str], override: Path | None = None, root: Path | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Parameters per target: `override` for all, else the tuned file, else the defaults;
    and where each came from (a relative path, or "default")."""
    params: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for target in sorted(targets):
        path = override or params_path(model, target, root)
        if path.exists():
            try:
                obj = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise ValueError(f"{path}: not valid JSON ({error})") from error
            if not isinstance(obj, dict) or not isinstance(obj.get("params", obj), dict):
                raise ValueError(f"{path}: expected a JSON object of parameters")
            params[target] = dict(obj.get("params", obj))
            sources[target] = relative(path)
        elif override is not None:
            raise FileNotFoundError(f"--params {override}: no such file")
        else:
            params[target] = {}
            sources[target] = "default"
    return params, sources


# =============================================================================================
# Writing
# =============================================================================================
def package_versions() -> dict[str, str]:
    """Versions of Python and the packages whose numbers a result depends on."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def git_commit() -> str | None:
    """The repository's HEAD commit (with `-dirty` when the tree has changes), if available."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def json_safe(value: Any) -> Any:
    """Standard JSON: numpy scalars to Python numbers, NaN and infinities to null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write a result file atomically (temp file + rename), as standard JSON."""
    write_json(path, json_safe({"schema_version": SCHEMA_VERSION, **result}))


def write_predictions(
    path: Path,
    positions: np.ndarray,
    task: np.ndarray | None,
    delta_us: np.ndarray | None,
    forecast: dict[str, np.ndarray] | None = None,
) -> None:
    """Compact predictions: positions, argmax task ids and predicted delta; with `forecast`,
    the horizon track's origins and forecast tasks and run lengths (`horizon_*`, [n, H]), in
    the same narrow dtypes (compressed npz)."""
    forecast = forecast or {}
    arrays: dict[str, np.ndarray] = {"positions": positions.astype(np.int32)}
    for key, ids in (("task", task), ("horizon_task", forecast.get("horizon_task"))):
        if ids is not None:
            arrays[key] = ids.astype(np.int16 if ids.max(initial=0) < 32767 else np.int32)
    for key, us in (("delta_us", delta_us), ("horizon_delta_us", forecast.get("horizon_delta_us"))):
        if us is not None:
            arrays[key] = us.astype(np.float32)
    if "horizon_origins" in forecast:
        arrays["horizon_origins"] = forecast["horizon_origins"].astype(np.int32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def record(
    result: dict[str, Any], predictions: dict[str, Any] | None, root: Path | None = None
) -> Path:
    """Store one run's result by the layout's rule; returns the result file written.

    A success writes `seed<k>.npz`, then `seed<k>.json` (replacing an older one), then removes
    `seed<k>.failed.json`. A failure writes `seed<k>.failed.json` only, so a good result is
    never lost to a failed re-run.
    """
    model, trace, seed = result["model"], result["trace"], result["seed"]
    if result["status"] != STATUS_OK:
        path = result_path(model, trace, seed, root, failed=True)
        write_result(path, result)
        return path
    path = result_path(model, trace, seed, root)
    if predictions is not None:
        npz = predictions_path(path)
        write_predictions(
            npz,
            predictions["positions"],
            predictions["task"],
            predictions["delta_us"],
            {k: v for k, v in predictions.items() if k.startswith("horizon_")},
        )
        result = {**result, "predictions_file": npz.name}
    write_result(path, result)
    result_path(model, trace, seed, root, failed=True).unlink(missing_ok=True)
    return path


def clear_other_seeds(
    model: str, trace: str, seeds: Iterable[int], root: Path | None = None
) -> list[Path]:
    """Remove the files of (model, trace) seeds outside `seeds`; call only after every seed in
    `seeds` succeeded. Returns the removed files."""
    keep = {int(s) for s in seeds}
    folder = result_path(model, trace, 0, root).parent
    removed = []
    for path in sorted(folder.glob("seed*")) if folder.is_dir() else []:
        digits = path.name.removeprefix("seed").split(".", 1)[0]
        if digits.isascii() and digits.isdigit() and int(digits) not in keep:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


# =============================================================================================
# Reading
# =============================================================================================
def read_result(path: Path) -> dict[str, Any]:
    """Read one result file; another schema version is a clear error naming the file."""
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}); delete it and re-run") from error
    if result.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{path}: result schema {result.get('schema_version')!r}, this code reads "
            f"{SCHEMA_VERSION}; re-run `kernel-oracle evaluate` for it"
        )
    return result


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


# =============================================================================================
# Accepting: which stored results the board scores (README §6)
# =============================================================================================
# `seed<k>.json` (a result) or `seed<k>.failed.json` (a failed attempt beside it).
_RESULT_FILE = re.compile(r"seed(0|[1-9][0-9]*)(\.failed)?\.json")


@dataclass(frozen=True)
class Stored:
    """One accepted result file: its path relative to results/ and its content."""

    file: str
    result: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.result.get("model"))

    @property
    def trace(self) -> str:
        return str(self.result.get("trace"))

    @property
    def seed(self) -> int:
        return int(self.result["seed"])  # checked by read_results: the file name's seed

    @property
    def ok(self) -> bool:
        return self.result.get("status") == STATUS_OK


def _refusal(file: str, result: dict[str, Any] | None, reason: str) -> dict[str, Any]:
    result = result or {}
    model, trace = result.get("model"), result.get("trace")
    return {
        "file": file,
        "model": None if model is None else str(model),
        "trace": None if trace is None else str(trace),
        "seed": result.get("seed"),
        "reason": reason,
    }


def _stale(result: dict[str, Any], manifest: dict[str, Any]) -> str | None:
    """Why a result does not belong to the manifest's data, or None."""
    trace = str(result.get("trace"))
    expected = manifest.get("files", {}).get(f"traces/{trace}.parquet")
    if trace not in manifest.get("traces", {}) or expected is None:
        return f"trace {trace!r} is not in the data manifest"
    if result.get("data_sha256") != expected:
        got = str(result.get("data_sha256"))[:12]
        return f"stale: data sha256 {got}... is not the manifest's {expected[:12]}..."
    if result.get("split_version") != SPLIT_VERSION:
        return f"stale: split version {result.get('split_version')!r}, current {SPLIT_VERSION}"
    return None


def _invalid(result: dict[str, Any], file: str) -> str | None:
    """Why a result does not match the published result schema, or None."""
    try:
        schema.check(result, "result", file)
    except schema.SchemaError as error:
        return "invalid: " + str(error).split(": ", 1)[-1].split("; write it again")[0][:300]
    return None


def read_results(
    root: Path | None, manifest: dict[str, Any]
) -> tuple[list[Stored], list[dict[str, Any]]]:
    """(accepted results, refused entries) of every result file under `root`/results.

    Refused (listed, never scored): a file that cannot be read or has another schema version,
    a result of other data (trace not in the manifest, another sha256 or split version), one
    that does not match the published result schema (`benchmark.results.schema`), a file name
    other than `seed<k>.json` / `seed<k>.failed.json`, and a seed other than the name's `k`.
    A `seed<k>.failed.json` is accepted
    as the failure it records, beside any good `seed<k>.json`: the board then shows the cell as
    failed and never falls back on the good file or on another seed.
    """
    base = results_dir(root)
    accepted: list[Stored] = []
    refused: list[dict[str, Any]] = []
    for path in sorted(base.glob("*/*/seed*.json")):
        rel = path.relative_to(base).as_posix()
        try:
            result = read_result(path)
            if not isinstance(result, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError, AttributeError) as error:
            text = str(error).split(": ", 1)[-1][:200] or "not a JSON object"
            refused.append(_refusal(rel, None, f"unreadable: {text}"))
            continue
        name = _RESULT_FILE.fullmatch(path.name)
        seed = result.get("seed")
        reason = _stale(result, manifest) or _invalid(result, rel)
        if name is None:
            reason = "not a result file name (seed<k>.json or seed<k>.failed.json)"
        elif reason is None and (type(seed) is not int or seed != int(name.group(1))):
            reason = f"its seed {seed!r} is not the seed {name.group(1)} its file name says"
        elif reason is None and name.group(2) and result.get("status") == STATUS_OK:
            reason = "a .failed.json file whose status is ok"
        if reason is not None:
            refused.append(_refusal(rel, result, reason))
        else:
            accepted.append(Stored(rel, result))
    return accepted, refused


def stored_predictions(root: Path | None, stored: Stored) -> dict[str, np.ndarray] | None:
    """The test predictions beside an accepted good result (None if absent or unreadable)."""
    path = predictions_path(results_dir(root) / stored.file)
    if not stored.ok or not path.is_file():
        return None
    try:
        return read_predictions(path)
    except (OSError, ValueError, KeyError):
        return None
