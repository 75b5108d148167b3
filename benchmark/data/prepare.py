"""`kernel-oracle prepare`: <data>/raw/<trace>/ -> traces/*.parquet, splits.json, manifest.json.

For every capture folder of `<data>/raw/` (`rawfiles.py`: the perf script text xz, gzip or
plain, an optional sched map, `capture.json` as `capturemeta.py` documents it): parse the perf
script text on the captured CPU into the run table, parse the map too and check that both give
the same switches, compute the fixed split (`splits.py`) and the facts (`datainfo.py`). Only
when every trace has parsed and the datasheet has rendered is anything written: the parquet
files (byte-identical for the same raw files), `splits.json`, the datasheet's generated section,
then the manifest, last and atomically (README §3). A crash leaves no new manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.core.atomic import write_bytes, write_json
from benchmark.core.paths import data_dir
from benchmark.data.capturemeta import read_capture
from benchmark.data.datainfo import BEGIN, END, info_from, readme_with, trace_facts
from benchmark.data.manifest import (
    MANIFEST_VERSION,
    RUN_TABLE_COLUMNS,
    load_manifest,
    sha256_file,
)
from benchmark.data.rawfiles import CAPTURE_JSON, RawFolder, missing_sched_map, raw_folders
from benchmark.data.splits import TraceSplit, compute_split, write_splits
from benchmark.data.traces import compare_formats, parse_trace

MIN_RUNS, MAX_RUNS = 100_000, 400_000  # the range a shipped trace should be in


class PrepareError(RuntimeError):
    """The raw data cannot be turned into a trace; the message names the file."""


@dataclass
class Prepared:
    """One prepared trace (nothing of it written yet)."""

    name: str
    runs: pd.DataFrame
    split: TraceSplit
    facts: dict[str, Any]
    files: dict[str, str]  # path relative to the data folder -> sha256
    parquet: bytes = b""
    warnings: list[str] = field(default_factory=list)


def parquet_bytes(runs: pd.DataFrame) -> bytes:
    """The run table as parquet bytes; the same table always gives the same bytes."""
    table = pa.Table.from_pandas(runs[list(RUN_TABLE_COLUMNS)], preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        compression="zstd",
        compression_level=9,
        use_dictionary=["task", "comm", "end_state"],
        write_statistics=False,
    )
    return buffer.getvalue()


def _capture_meta(raw: RawFolder) -> dict[str, Any]:
    if raw.capture_json is None:
        raise PrepareError(
            f"{raw.folder / CAPTURE_JSON}: missing; a raw trace needs the capture.json that "
            "`kernel-oracle capture` writes (write {} if nothing is known: see "
            "`kernel-oracle prepare --help` for its fields)"
        )
    try:
        return read_capture(raw.capture_json)
    except ValueError as exc:
        raise PrepareError(str(exc)) from exc


def _cpu(raw: RawFolder, meta: dict[str, Any], cpu: int | None) -> tuple[int | None, str]:
    """The CPU to read and where that came from (capture.json, --cpu, or the file itself)."""
    recorded = meta.get("cpu")
    if recorded is not None and cpu is not None and recorded != cpu:
        raise PrepareError(
            f"{raw.capture_json}: says cpu {recorded}, --cpu says {cpu}; drop --cpu or fix "
            "capture.json"
        )
    if recorded is not None:
        return recorded, "capture.json"
    if cpu is not None:
        return cpu, "--cpu"
    return None, "the only CPU in the file"


def prepare_trace(
    raw: RawFolder, *, cpu: int | None = None, log: Callable[[str], None] = lambda _: None
) -> Prepared:
    """Parse and check one raw capture into its run table, split and facts (writes nothing)."""
    meta = _capture_meta(raw)
    cpu, cpu_source = _cpu(raw, meta, cpu)
    log(f"{raw.name}: parsing {raw.perf_script.name}")
    try:
        script = parse_trace(raw.perf_script, cpu=cpu, fmt="perf-script")
    except ValueError as exc:
        where = f" (CPU {cpu} from {cpu_source})" if cpu is not None and "CPU" in str(exc) else ""
        raise PrepareError(f"{exc}{where}") from exc
    parse: dict[str, Any] = {
        "perf_script": {
            **script.damage.to_json(),
            "switches": script.switches,
            "time_resolution_ns": script.time_resolution_ns,
        },
        "formats_agree": None,
        "cpu_source": cpu_source,
    }
    warnings = []
    if raw.sched_map is None:
        warnings.append(missing_sched_map(raw))
    else:
        log(f"{raw.name}: parsing {raw.sched_map.name} and comparing")
        try:
            mapped = parse_trace(raw.sched_map, cpu=script.cpu, fmt="sched-map")
        except ValueError as exc:
            raise PrepareError(str(exc)) from exc
        problem = compare_formats(script.runs, mapped.runs)
        if problem:
            raise PrepareError(
                f"{raw.folder}: {raw.perf_script.name} and {raw.sched_map.name} disagree: {problem}"
            )
        parse["sched_map"] = {**mapped.damage.to_json(), "switches": mapped.switches}
        parse["formats_agree"] = True
    runs = script.runs
    if script.damage.total:
        warnings.append(f"{raw.name}: damage in {script.damage.summary(raw.perf_script)}")
    if not MIN_RUNS <= len(runs) <= MAX_RUNS:
        warnings.append(
            f"{raw.name}: {len(runs):,} runs, outside the {MIN_RUNS:,}-{MAX_RUNS:,} of the "
            "shipped traces (intervals will be wide below that)"
        )
    try:
        split = compute_split(runs)
    except ValueError as exc:
        raise PrepareError(f"{raw.perf_script}: {exc}") from exc
    parquet = parquet_bytes(runs)
    rel = f"raw/{raw.name}"
    files = {f"{rel}/{name}": sha256_file(raw.folder / name) for name in raw.found}
    files[f"traces/{raw.name}.parquet"] = hashlib.sha256(parquet).hexdigest()
    facts = trace_facts(runs, split, meta, parse, cpu=script.cpu, raw=raw.compressions())
    return Prepared(raw.name, runs, split, facts, files, parquet, warnings)


def _readme(
    path: Path, manifest: dict[str, Any], headroom: Mapping[str, float | None] | None = None
) -> tuple[str | None, str | None]:
    """(the new datasheet text or None if unchanged, a warning or None) for `path`."""
    if not path.is_file():
        raise PrepareError(f"{path}: not a file; the datasheet is a Markdown file (or absent)")
    text = path.read_text(encoding="utf-8", errors="replace")
    new = readme_with(text, info_from(manifest, verified=False), headroom)
    if new is None:
        return None, (
            f"{path}: no generated section ({BEGIN} ... {END}), left as it is; add the two "
            "marker lines where prepare may write the trace table"
        )
    return (None if new == text else new), None


def refresh_datasheet(root: Path, headroom: Mapping[str, float | None]) -> bool:
    """Re-render the datasheet's generated section of `root` from its manifest with `headroom`
    (what `kernel-oracle leaderboard` calls after writing the board); True when it changed."""
    path = root / "README.md"
    if not path.is_file() or not (root / "manifest.json").is_file():
        return False
    new, _ = _readme(path, load_manifest(root), headroom)
    if new is None:
        return False
    write_bytes(path, new.encode("utf-8"))
    return True


def prepare(
    root: Path | None = None,
    *,
    log: Callable[[str], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
    readme: bool = True,
    cpu: int | None = None,
    headroom: Mapping[str, float | None] | None = None,
) -> dict[str, Prepared]:
    """Prepare every raw trace under `root` (default: data/); `cpu` for captures whose
    capture.json names none; `headroom` (trace -> value, from the board) fills the datasheet's
    column. `log` gets progress, `warn` each warning (a small trace, damage,
    no sched map, a README without a generated section). Writes parquet, splits, datasheet,
    and the manifest last."""
    root = root or data_dir()
    if cpu is not None and cpu < 0:
        raise PrepareError(f"--cpu {cpu}: a CPU number is >= 0")
    try:
        folders = raw_folders(root)
    except ValueError as exc:
        raise PrepareError(str(exc)) from exc
    done = {raw.name: prepare_trace(raw, cpu=cpu, log=log) for raw in folders}
    warnings = [w for item in done.values() for w in item.warnings]
    files = {rel: sha for p in done.values() for rel, sha in p.files.items()}
    manifest = {
        "version": MANIFEST_VERSION,
        "files": files,
        "traces": {n: p.facts for n, p in sorted(done.items())},
    }
    # As it will be read back (keys sorted), so that the datasheet renders the same from both.
    manifest = json.loads(json.dumps(manifest, sort_keys=True, allow_nan=False))
    files = manifest["files"]
    readme_path = root / "README.md"
    readme_text = None
    if readme and readme_path.exists():
        readme_text, warning = _readme(readme_path, manifest, headroom)
        warnings += [warning] if warning else []
    for warning in warnings:
        warn(warning)
    # Everything is known: write, the manifest last.
    for name, item in done.items():
        write_bytes(root / "traces" / f"{name}.parquet", item.parquet)
    write_splits(root / "splits.json", {n: p.split for n, p in done.items()})
    files["splits.json"] = sha256_file(root / "splits.json")
    manifest["files"] = dict(sorted(files.items()))
    if readme_text is not None:
        write_bytes(readme_path, readme_text.encode("utf-8"))
        log(f"updated the generated section of {readme_path}")
    write_json(root / "manifest.json", manifest)
    for stale in sorted((root / "traces").glob("*.parquet")):
        if stale.stem not in done:
            log(f"removing {stale}: no raw capture for it")
            stale.unlink()
    return done
