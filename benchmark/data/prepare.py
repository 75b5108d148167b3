"""`kernel-oracle prepare`: data/raw/<trace>/ -> traces/<trace>.parquet, manifest.json, splits.json.

For every folder of `data/raw/` holding a capture (`perf-script.txt.xz`, `sched-map.txt.xz`,
`capture.json`): parse the perf script text on the captured CPU into the run table, parse the
map text too and check that both give the same switches, write the run table as parquet
(byte-identical for the same raw files), compute the fixed split (`data/splits.py`) and record
the sha256 of every file with the per-trace facts in the manifest. The datasheet's generated
section is rewritten from the same facts.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmark.core.atomic import write_bytes, write_json
from benchmark.core.paths import data_dir
from benchmark.data.capture import CAPTURE_JSON, PERF_SCRIPT_FILE, SCHED_MAP_FILE
from benchmark.data.datainfo import collect, trace_facts, update_readme
from benchmark.data.manifest import MANIFEST_VERSION, RUN_TABLE_COLUMNS, sha256_file
from benchmark.data.splits import TraceSplit, compute_split, write_splits
from benchmark.data.traces import compare_formats, parse_trace

MIN_RUNS, MAX_RUNS = 100_000, 400_000  # the range a shipped trace should be in


class PrepareError(RuntimeError):
    """The raw data cannot be turned into a trace; the message names the file."""


@dataclass
class Prepared:
    """One prepared trace."""

    name: str
    runs: pd.DataFrame
    split: TraceSplit
    facts: dict[str, Any]
    files: dict[str, str]  # path relative to the data folder -> sha256


def raw_traces(root: Path) -> list[str]:
    """Names of the folders of `root/raw` that hold a perf script capture, sorted."""
    raw = root / "raw"
    return sorted(p.name for p in raw.glob("*") if (p / PERF_SCRIPT_FILE).exists())


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


def prepare_trace(root: Path, name: str, log: Callable[[str], None] = lambda _: None) -> Prepared:
    """Parse and check one raw capture; write its parquet; return its split and facts."""
    folder = root / "raw" / name
    meta_path = folder / CAPTURE_JSON
    if not meta_path.exists():
        raise PrepareError(
            f"{meta_path}: missing; a raw trace needs the capture.json that "
            "`kernel-oracle capture` writes (CPU, scenario, machine)"
        )
    capture = json.loads(meta_path.read_text())
    cpu = capture.get("cpu")
    log(f"{name}: parsing {PERF_SCRIPT_FILE}")
    script = parse_trace(folder / PERF_SCRIPT_FILE, cpu=cpu, fmt="perf-script")
    parse: dict[str, Any] = {
        "perf_script": {
            **script.damage.to_json(),
            "switches": script.switches,
            "time_resolution_ns": script.time_resolution_ns,
        },
        "formats_agree": None,
    }
    map_path = folder / SCHED_MAP_FILE
    if map_path.exists():
        log(f"{name}: parsing {SCHED_MAP_FILE} and comparing")
        mapped = parse_trace(map_path, cpu=cpu, fmt="sched-map")
        problem = compare_formats(script.runs, mapped.runs)
        if problem:
            raise PrepareError(
                f"{folder}: {PERF_SCRIPT_FILE} and {SCHED_MAP_FILE} disagree: {problem}"
            )
        parse["sched_map"] = {**mapped.damage.to_json(), "switches": mapped.switches}
        parse["formats_agree"] = True
    runs = script.runs
    if not MIN_RUNS <= len(runs) <= MAX_RUNS:
        log(f"{name}: note: {len(runs)} runs, outside the {MIN_RUNS}-{MAX_RUNS} of shipped traces")
    split = compute_split(runs)
    parquet_rel = f"traces/{name}.parquet"
    write_bytes(root / parquet_rel, parquet_bytes(runs))
    files = {
        f"raw/{name}/{p.name}": sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()
    }
    files[parquet_rel] = sha256_file(root / parquet_rel)
    facts = trace_facts(runs, split, capture, parse)
    return Prepared(name=name, runs=runs, split=split, facts=facts, files=files)


def prepare(
    root: Path | None = None,
    *,
    log: Callable[[str], None] = lambda _: None,
    readme: bool = True,
) -> dict[str, Prepared]:
    """Prepare every raw trace under `root` (default: data/); write manifest and splits."""
    root = root or data_dir()
    names = raw_traces(root)
    if not names:
        raise PrepareError(
            f"{root / 'raw'}: no captures (folders with {PERF_SCRIPT_FILE}); record one with "
            "`kernel-oracle capture --scenario NAME`"
        )
    done = {name: prepare_trace(root, name, log) for name in names}
    for stale in sorted((root / "traces").glob("*.parquet")):
        if stale.stem not in done:
            log(f"removing {stale}: no raw capture for it")
            stale.unlink()
    write_splits(root / "splits.json", {n: p.split for n, p in done.items()})
    files = {rel: sha for p in done.values() for rel, sha in p.files.items()}
    files["splits.json"] = sha256_file(root / "splits.json")
    manifest = {
        "version": MANIFEST_VERSION,
        "files": dict(sorted(files.items())),
        "traces": {n: p.facts for n, p in sorted(done.items())},
    }
    write_json(root / "manifest.json", manifest)
    readme_path = root / "README.md"
    if readme and readme_path.exists() and update_readme(readme_path, collect(root, verify=False)):
        log(f"updated the generated section of {readme_path}")
    return done
