"""Result files: one immutable, schema-versioned JSON per (model, trace, seed) (README §6).

`leaderboard/results/<model>/<trace>/seed<k>.json`, written atomically, with the compact
test-position predictions beside it (`seed<k>.npz`) so that figures and paired intervals never
need to re-train. The leaderboard is a pure function of these files.
"""

from __future__ import annotations

import io
import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import write_bytes, write_json
from benchmark.core.paths import REPO_ROOT, leaderboard_dir

SCHEMA_VERSION = 1
STATUS_OK = "ok"
STATUS_FAILED = "failed"
PACKAGES = ("numpy", "pandas", "scikit-learn", "lightgbm", "statsmodels", "torch", "optuna")


def results_dir(root: Path | None = None) -> Path:
    return (root or leaderboard_dir()) / "results"


def result_path(model: str, trace: str, seed: int, root: Path | None = None) -> Path:
    return results_dir(root) / model / trace / f"seed{seed}.json"


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


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write a result file atomically (temp file + rename)."""
    result = {"schema_version": SCHEMA_VERSION, **result}
    write_json(path, result)


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


def iter_results(root: Path | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Every result file under the results folder, sorted by path."""
    return [(p, read_result(p)) for p in sorted(results_dir(root).glob("*/*/seed*.json"))]


def write_predictions(
    path: Path, positions: np.ndarray, task: np.ndarray | None, delta_us: np.ndarray | None
) -> None:
    """Compact predictions: positions, argmax task ids and predicted delta (compressed npz)."""
    arrays: dict[str, np.ndarray] = {"positions": positions.astype(np.int32)}
    if task is not None:
        arrays["task"] = task.astype(np.int16 if task.max(initial=0) < 32767 else np.int32)
    if delta_us is not None:
        arrays["delta_us"] = delta_us.astype(np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}
