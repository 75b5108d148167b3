"""The data manifest: sha256 of every shipped file; loading verifies it and refuses altered data."""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.core.paths import data_dir
from benchmark.data.capturemeta import scheduler_of

MANIFEST_VERSION = 1
RUN_TABLE_COLUMNS = ("t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state")


class DataIntegrityError(RuntimeError):
    """A data file does not match the sha256 recorded in `data/manifest.json`."""


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_command(root: Path) -> str:
    """The command that (re)builds a data folder's manifest, as a user would type it."""
    if root.resolve() == data_dir().resolve():
        return "`kernel-oracle prepare`"
    return f"`kernel-oracle prepare --data {shlex.quote(str(root))}`"


def load_manifest(root: Path | None = None) -> dict[str, Any]:
    """`data/manifest.json` as a dict; a missing or malformed file is a one-line error."""
    root = root or data_dir()
    path = root / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest; run {prepare_command(root)} first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise DataIntegrityError(
            f"{path}: not valid JSON ({exc}); rebuild it with {prepare_command(root)}"
        ) from exc
    if not (
        isinstance(manifest, dict)
        and isinstance(manifest.get("files"), dict)
        and isinstance(manifest.get("traces"), dict)
    ):
        raise DataIntegrityError(
            f"{path}: not a manifest (no `files` and `traces` objects); rebuild it with "
            f"{prepare_command(root)}"
        )
    return manifest


def check_data_root(root: Path) -> str | None:
    """None when `root` is a prepared data folder, else one line: what is wrong and the fix.

    For commands that take a data folder (`evaluate --holdout DIR`): a missing folder, a folder
    of raw captures not yet prepared, a missing or malformed manifest or split file."""
    fix = prepare_command(root)
    layout = "raw/<trace>/ with perf-script.txt.xz (or .gz) and capture.json"
    if not root.exists():
        return f"{root}: no such folder; a data folder holds {layout}; then run {fix}"
    if not root.is_dir():
        return f"{root}: not a folder; a data folder holds {layout}"
    if not (root / "manifest.json").exists():
        if (root / "raw").is_dir():
            return f"{root}: raw captures but no manifest.json yet; run {fix}"
        return (
            f"{root}: no manifest.json and no raw/ folder; a data folder holds {layout}; "
            f"then run {fix}"
        )
    try:
        manifest = load_manifest(root)
    except DataIntegrityError as exc:
        return str(exc)
    if not manifest["traces"]:
        return f"{root / 'manifest.json'}: lists no traces; run {fix}"
    if not (root / "splits.json").is_file():
        return f"{root / 'splits.json'}: missing; run {fix}"
    return None


def trace_names(root: Path | None = None) -> list[str]:
    """Names of the traces the manifest lists, sorted."""
    return sorted(load_manifest(root)["traces"])


def trace_schedulers(root: Path | None = None) -> dict[str, str]:
    """Per trace (sorted), the scheduler of the kernel it was recorded on (`scheduler_of`)."""
    traces = load_manifest(root)["traces"]
    return {name: scheduler_of(traces[name].get("kernel")) for name in sorted(traces)}


def verify_file(relpath: str, root: Path | None = None, manifest: dict | None = None) -> Path:
    """Check one data file (path relative to the data folder) against the manifest."""
    root = root or data_dir()
    manifest = manifest or load_manifest(root)
    path = root / relpath
    expected = manifest["files"].get(relpath)
    if expected is None:
        raise DataIntegrityError(f"{path}: not listed in {root / 'manifest.json'}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: listed in the manifest but missing")
    actual = sha256_file(path)
    if actual != expected:
        raise DataIntegrityError(
            f"{path}: sha256 {actual[:12]}... does not match the manifest's {expected[:12]}...; "
            "the file was altered. Restore it (git checkout) or re-run `kernel-oracle prepare`."
        )
    return path


def trace_sha256(name: str, root: Path | None = None) -> str:
    """The manifest's sha256 of a trace's parquet file (recorded in every result)."""
    manifest = load_manifest(root)
    return manifest["files"][f"traces/{name}.parquet"]


def read_run_table(name: str, root: Path | None = None) -> pd.DataFrame:
    """The verified run table of trace `name` (README §3 columns, rows in time order)."""
    root = root or data_dir()
    manifest = load_manifest(root)
    if name not in manifest["traces"]:
        raise KeyError(
            f"unknown trace {name!r}; shipped traces: {', '.join(sorted(manifest['traces']))}"
        )
    path = verify_file(f"traces/{name}.parquet", root, manifest)
    return pd.read_parquet(path)
