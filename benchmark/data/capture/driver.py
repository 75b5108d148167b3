"""`capture()`: one recording of a scenario, from a quiet CPU to `capture.json` (README §3).

The order: check the machine and the options; wait until the CPU is quiet; start nginx, the
background loads and ab (`workload.py`) inside one `ProcessGroup` (`processes.py`); record perf
for the scenario's seconds while ab runs (`record.py`); stop everything by PID; export and
compress the texts; parse the new perf script text for the summary (runs, CPU time share);
and only then write `capture.json`, atomically, with every fact in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.atomic import write_json
from benchmark.data.capture.errors import CaptureError
from benchmark.data.capture.machine import machine_facts, missing_requirements, wait_until_quiet
from benchmark.data.capture.processes import (
    ProcessGroup,
    ProcessRef,
    set_process_affinity,
    sigterm_as_interrupt,
)
from benchmark.data.capture.record import (
    compress_to,
    export,
    parse_lost,
    perf_record_argv,
    record,
)
from benchmark.data.capture.scenario import Scenario
from benchmark.data.capture.throttle import CpuLimit
from benchmark.data.capture.workload import (
    ab_argv,
    parse_ab_output,
    scenario_url,
    start_background,
    start_nginx,
)
from benchmark.data.rawfiles import CAPTURE_JSON, PERF_SCRIPT_FILE, SCHED_MAP_FILE

CAPTURE_VERSION = 1
AB_SLACK_S = 2.0  # ab runs this much past warm-up + recording (the guest passes more)
# what a raw capture (`capture(raw=True)`) leaves: the two texts and the metadata so far
RAW_FILES = ("perf-script.txt", "sched-map.txt", "raw-meta.json")
OTHER_WORK_WARNING = 0.1  # a larger share of CPU time outside the scenario is warned about


@dataclass
class CaptureResult:
    """Where a capture wrote its files, its metadata, and the processes it started."""

    out: Path
    files: list[Path]
    meta: dict[str, Any]
    processes: list[ProcessRef] = field(default_factory=list)


def _check_options(
    scenario: Scenario, out: Path, force: bool, max_busy: float, quiet_timeout: float
) -> list[Path]:
    """Refuse what cannot work before anything starts; returns the files to be written."""
    if not 0 <= max_busy <= 1:
        raise CaptureError(f"--max-busy {max_busy:g}: give a fraction from 0 to 1 (1: no wait)")
    if not 0 <= quiet_timeout < float("inf"):
        raise CaptureError(f"--quiet-timeout {quiet_timeout:g}: give seconds >= 0")
    if out.exists() and not out.is_dir():
        raise CaptureError(f"{out}: not a folder; choose another --out")
    targets = [out / PERF_SCRIPT_FILE, out / SCHED_MAP_FILE, out / CAPTURE_JSON]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise CaptureError(f"{existing[0]} exists; pass --force to replace it or choose --out")
    problems = missing_requirements()
    if problems:
        raise CaptureError("; ".join(problems))
    if scenario.cpu not in os.sched_getaffinity(0):
        raise CaptureError(
            f"CPU {scenario.cpu} is not available here (CPUs: {sorted(os.sched_getaffinity(0))}); "
            "choose one with --cpu"
        )
    return targets


def summarize(script_txt: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Runs and CPU time share of the new trace (`capture.json`'s `summary`)."""
    from benchmark.data.datainfo import cpu_time_share
    from benchmark.data.traces import parse_trace

    try:
        parsed = parse_trace(script_txt, cpu=meta["cpu"], fmt="perf-script")
    except ValueError as exc:
        return {"runs": 0, "cpu_time_share": None, "problem": str(exc)}
    share = cpu_time_share(parsed.runs, meta["processes"])
    return {"runs": len(parsed.runs), "cpu_time_share": share}


def write_capture(
    out: Path, meta: dict[str, Any], script_txt: Path, map_txt: Path
) -> dict[str, Any]:
    """Compress both texts into `out`, add `files` and `summary` to `meta`, then write
    `capture.json` (last, atomically). Returns the metadata written."""
    sizes = {
        PERF_SCRIPT_FILE: compress_to(script_txt, out / PERF_SCRIPT_FILE),
        SCHED_MAP_FILE: compress_to(map_txt, out / SCHED_MAP_FILE),
    }
    meta = {
        **meta,
        "files": {
            name: {"bytes": sizes[name], "text_bytes": txt.stat().st_size}
            for name, txt in ((PERF_SCRIPT_FILE, script_txt), (SCHED_MAP_FILE, map_txt))
        },
    }
    meta["summary"] = summarize(script_txt, meta)
    write_json(out / CAPTURE_JSON, meta)
    return meta


def _run_load(
    scenario: Scenario,
    tmp: Path,
    group: ProcessGroup,
    log: Callable[[str], None],
    limit: CpuLimit | None = None,
    ab_slack_s: float = AB_SLACK_S,
) -> dict[str, Any]:
    """Start nginx (inside `limit`, if any), the loads and ab; record perf; wait for ab.
    Returns the metadata so far."""
    cpu = scenario.cpu
    port, conf_text, workers = start_nginx(scenario, tmp, group, log)
    if limit is not None:
        log(f"limiting nginx to {scenario.nginx_cpu_limit:g} of a CPU ({limit.path})")
        for ref in [r for r in group.refs if r.label == "nginx"] + workers:
            limit.add(ref.pid)
    start_background(scenario, tmp, group, log)
    ab_seconds = scenario.warmup_seconds + scenario.seconds + ab_slack_s
    ab_out = tmp / "ab.txt"
    url = scenario_url(scenario, port)
    with open(ab_out, "wb") as ab_handle:
        ab_cmd = ab_argv(scenario, cpu, url, ab_seconds)
        ab = group.start("ab", ab_cmd, stdout=ab_handle, stderr=subprocess.STDOUT)
    extra = []  # (the process, its output file) of each extra client
    for i, client in enumerate(scenario.extra_clients):
        out_file = tmp / f"ab-{i + 1}.txt"
        with open(out_file, "wb") as handle:
            argv = ab_argv(scenario, cpu, url, ab_seconds, client)
            extra.append((group.start(f"ab client {i + 1}", argv, stdout=handle,
                                      stderr=subprocess.STDOUT), out_file))  # fmt: skip
    time.sleep(scenario.warmup_seconds)
    if ab.poll() is not None:
        raise CaptureError(f"ab exited early ({ab.returncode}): {ab_out.read_text()[-500:]}")
    perf_argv = perf_record_argv(cpu, scenario.seconds, tmp / "perf.data")
    log(f"recording {scenario.seconds:g} s of CPU {cpu}: {' '.join(perf_argv)}")
    perf_stderr, perf_stdout = record(group, perf_argv, scenario.seconds)
    ab_alive_at_end = ab.poll() is None
    try:
        ab.wait(timeout=ab_seconds + 30)
    except subprocess.TimeoutExpired as exc:
        raise CaptureError("ab did not stop at its time limit") from exc
    ab_text = ab_out.read_text(errors="replace")
    if not ab_alive_at_end:
        raise CaptureError(f"ab ended before the recording did: {ab_text.strip()[-500:]}")
    clients = []
    for proc, out_file in extra:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired as exc:
            raise CaptureError("an extra ab client did not stop at its time limit") from exc
        clients.append(
            {**parse_ab_output(out_file.read_text(errors="replace")), "exit_code": proc.returncode}
        )
    return {
        "scenario": scenario.to_json(),
        "cpu": cpu,
        "port": port,
        "nginx_conf": conf_text,
        "nginx_workers_pids": [w.pid for w in workers],
        "ab": {**parse_ab_output(ab_text), "exit_code": ab.returncode},
        "extra_clients": clients,
        "nginx_cpu_limit": limit.settings() if limit is not None else None,
        "perf_record_stderr": perf_stderr.strip().splitlines()[-5:],
        "_perf_output": perf_stderr + perf_stdout,
        "machine": machine_facts(),
        "captured_at_unix": int(time.time()),
    }


def capture(
    scenario: Scenario,
    out: Path,
    *,
    log: Callable[[str], None] = print,
    force: bool = False,
    max_busy: float = 0.1,
    quiet_timeout: float = 900.0,
    raw: bool = False,
    ab_slack_s: float = AB_SLACK_S,
) -> CaptureResult:
    """Run one capture of `scenario` (its `cpu` and `seconds`) and write it into `out`.

    It first waits until other work leaves the CPU at most `max_busy` busy (1 disables it).
    `raw` (the guest of `capture --vm`): leave the uncompressed texts and the metadata so far
    (`RAW_FILES`) in `out`, for the host to compress and summarize (`write_capture`).
    `ab_slack_s`: how much longer ab runs than warm-up + recording (perf starts slowly in an
    emulated guest)."""
    targets = _check_options(scenario, out, force, max_busy, quiet_timeout)
    cpu = scenario.cpu
    busy_before = wait_until_quiet(cpu, max_busy, quiet_timeout, log) if max_busy < 1 else None
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="kernel-oracle-capture-"))
    group = ProcessGroup(log)
    affinity = os.sched_getaffinity(0)
    others = affinity - {cpu}
    if others:  # keep this driver (all its threads, e.g. a progress spinner) off the traced CPU
        set_process_affinity(others)
    try:
        limit = CpuLimit(scenario.nginx_cpu_limit) if scenario.nginx_cpu_limit else None
        with sigterm_as_interrupt(), limit or nullcontext(), group:
            meta = _run_load(scenario, tmp, group, log, limit, ab_slack_s)
        refs = group.refs
        commands = group.commands
        log("exporting perf script and perf sched map text")
        script_txt, map_txt = tmp / "perf-script.txt", tmp / "sched-map.txt"
        printed = export(tmp / "perf.data", script_txt, map_txt, commands)
        meta["lost_events"] = parse_lost(meta.pop("_perf_output") + printed)
        meta.update(
            capture_version=CAPTURE_VERSION,
            cpu_busy_before=None if busy_before is None else round(busy_before, 3),
            processes=[{"label": r.label, "pid": r.pid} for r in refs]
            + [{"label": "capture driver", "pid": os.getpid()}],
            commands=commands,
            wall_seconds=round(time.time() - started, 1),
        )
        out.mkdir(parents=True, exist_ok=True)
        if raw:
            for src, name in zip((script_txt, map_txt), RAW_FILES, strict=False):
                shutil.copyfile(src, out / name)
            write_json(out / RAW_FILES[2], meta)
        else:
            log("compressing (xz preset 9) and summarizing")
            meta = write_capture(out, meta, script_txt, map_txt)
    finally:
        set_process_affinity(affinity)
        shutil.rmtree(tmp, ignore_errors=True)
    leftovers = [r for r in refs if r.running()]
    if leftovers:
        raise CaptureError(f"processes still running after the capture: {leftovers}")
    return CaptureResult(out=out, files=targets, meta=meta, processes=refs)


def other_work_warning(meta: dict[str, Any]) -> str | None:
    """The warning for a capture whose CPU went in large part (over `OTHER_WORK_WARNING`) to
    tasks outside the scenario, or None. On the host that is other work on the CPU, and a
    quieter moment helps; inside the CFS guest (`meta["vm"]`) it is the guest kernel's own
    threads under emulation (rcu_preempt, ksoftirqd: 24-40% on cfs-paper), which capturing
    again does not change."""
    share = (meta.get("summary", {}).get("cpu_time_share") or {}).get("other", 0)
    if share <= OTHER_WORK_WARNING:
        return None
    if meta.get("vm"):
        return (
            f"{share:.0%} of the guest's CPU time went to tasks outside the scenario: under "
            "emulation the guest kernel's own threads (rcu_preempt, ksoftirqd) take this "
            "share; it is the emulation, not other work, and capturing again will not lower it"
        )
    return (
        f"{share:.0%} of the CPU's time went to tasks outside the scenario (other work on that "
        "CPU); capture again when it is quiet"
    )
