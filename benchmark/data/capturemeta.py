"""`capture.json`: what `kernel-oracle capture` records beside a trace, how `prepare` reads it.

Every field is optional for `prepare` (a hand-made `{}` is accepted): a missing fact is shown
as "unknown" in the manifest and the datasheet, and a missing `cpu` is taken from
`prepare --cpu N` or, when the file has switches of one CPU only, from the file. A field that
is present must have the type below; anything else is an error naming the file and the field
(README §3).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

UNKNOWN = "unknown"

# field -> what it holds (`kernel-oracle prepare --help` and README §3 quote this).
CAPTURE_FIELDS: dict[str, str] = {
    "cpu": "the traced CPU (integer); prepare reads that CPU's switches",
    "scenario": "the scenario table of data/scenarios.toml (name, description, seconds, "
    "nginx_workers, ab_concurrency, keepalive, body_bytes, cpu, warmup_seconds, background)",
    "machine": "kernel, kernel_version, machine, perf, nginx, ab (versions), cpu_model, "
    "cpu_count, hz, hz_source",
    "ab": "ab's requests_per_second, complete_requests, failed_requests, time_taken_s, exit_code",
    "lost_events": "events perf reported lost (integer)",
    "processes": "[{label, pid}] every process the capture started (nginx, its workers, ab, the "
    "background loads, perf, the capture itself): splits CPU time into scenario/recorder/other",
    "commands": "the exact commands run, in order",
    "summary": "runs and cpu_time_share of the new trace, as the capture saw it",
    "vm": "a guest capture's qemu version, accelerator, icount, vcpus, memory_mb, "
    "guest_seconds, slowdown (ab req/s on the host over the guest's), and the guest's "
    "kernel, scheduler and CFS tunables (guest)",
    "files": "bytes and text_bytes of each compressed text",
    "capture_version, captured_at_unix, cpu_busy_before, nginx_conf, nginx_workers_pids, "
    "perf_record_stderr, port, wall_seconds": "bookkeeping of the run, kept as recorded",
}
MACHINE_KEYS = ("kernel", "perf", "cpu_model", "cpu_count", "hz", "hz_source")
VM_KEYS = ("qemu", "accelerator", "icount", "vcpus", "memory_mb", "guest_seconds", "slowdown")
AB_KEYS = ("requests_per_second", "complete_requests", "failed_requests", "time_taken_s")
_TYPES: dict[str, tuple[type, ...]] = {
    "cpu": (int,),
    "scenario": (dict,),
    "machine": (dict,),
    "ab": (dict,),
    "lost_events": (int,),
    "processes": (list,),
    "commands": (list,),
}


class CaptureMetaError(ValueError):
    """`capture.json` is not JSON, not an object, or holds a field of the wrong type."""


def fields_help() -> str:
    """The fields as one paragraph, for `--help`."""
    return "; ".join(f"{name}: {what}" for name, what in CAPTURE_FIELDS.items())


def read_capture(path: Path) -> dict[str, Any]:
    """The checked contents of a `capture.json` (see `CAPTURE_FIELDS`)."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        where = f"{exc.reason} at byte {exc.start}"
        raise CaptureMetaError(f"{path}: not UTF-8 text ({where})") from exc
    except json.JSONDecodeError as exc:
        raise CaptureMetaError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "write {} if nothing is known about the capture"
        ) from exc
    except RecursionError as exc:
        raise CaptureMetaError(f"{path}: JSON nested too deeply to be a capture.json") from exc
    if not isinstance(meta, dict):
        raise CaptureMetaError(f"{path}: a JSON object is expected, got {type(meta).__name__}")
    for field, types in _TYPES.items():
        value = meta.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            raise CaptureMetaError(
                f"{path}: field {field!r} is {value!r}; expected {types[0].__name__} "
                f"({CAPTURE_FIELDS[field]}), or leave it out"
            )
    if isinstance(meta.get("cpu"), int) and meta["cpu"] < 0:
        raise CaptureMetaError(f"{path}: field 'cpu' is {meta['cpu']}; a CPU number is >= 0")
    for i, proc in enumerate(meta.get("processes") or []):
        pid = proc.get("pid") if isinstance(proc, dict) else None
        label = proc.get("label") if isinstance(proc, dict) else None
        if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(label, str):
            raise CaptureMetaError(
                f'{path}: processes[{i}] is {proc!r}; expected {{"label": str, "pid": int}}'
            )
    return meta


def known(value: Any) -> Any:
    """`value`, or "unknown" where it is missing."""
    return UNKNOWN if value is None else value


def capture_facts(meta: dict[str, Any]) -> dict[str, Any]:
    """The facts the manifest takes from `capture.json`, "unknown" where it does not say."""
    machine = meta.get("machine") or {}
    ab = meta.get("ab") or {}
    scenario = meta.get("scenario") or {}
    facts = {
        "scenario": known(scenario.get("name")),
        **{key: known(machine.get(key)) for key in MACHINE_KEYS},
        "ab": {**{key: known(ab.get(key)) for key in AB_KEYS}, **ab},
        "perf_lost_events": known(meta.get("lost_events")),
    }
    vm = meta.get("vm")
    if isinstance(vm, dict):  # a guest capture (the CFS track): how it was emulated
        guest = vm.get("guest") or {}
        facts["vm"] = {
            **{key: vm.get(key) for key in VM_KEYS},
            "scheduler": guest.get("scheduler"),
            "sched_tunables": guest.get("sched_tunables"),
        }
    return facts


EEVDF_SINCE = (6, 6)  # Linux 6.6 replaced CFS's pick with EEVDF


def scheduler_of(kernel: Any) -> str:
    """The fair scheduler of a kernel release: "cfs" before 6.6, "eevdf" from it, "unknown"
    when the release is not readable."""
    parts = str(kernel).split(".")
    try:
        version = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        return UNKNOWN
    return "cfs" if version < EEVDF_SINCE else "eevdf"
