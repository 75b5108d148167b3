"""Per-trace facts: computed from the data by `prepare`, stored in the manifest, shown by
`kernel-oracle data` and written into the datasheet (`data/README.md`) — never typed by hand."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.paths import data_dir
from benchmark.data.capturemeta import MACHINE_KEYS, UNKNOWN, capture_facts, known, scheduler_of
from benchmark.data.manifest import MANIFEST_VERSION, load_manifest, verify_file
from benchmark.data.splits import TraceSplit, read_splits

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_TASKS = 10
BEGIN = "<!-- BEGIN GENERATED: kernel-oracle prepare writes this section; do not edit -->"
END = "<!-- END GENERATED -->"


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


def delta_quantiles(delta_us: pd.Series) -> dict[str, float]:
    """min, p1 ... p99, max and mean of the run lengths in µs."""
    values = delta_us.to_numpy(dtype=np.float64)
    out = {"min": _r(values.min())}
    for q in QUANTILES:
        out[f"p{round(q * 100)}"] = _r(np.quantile(values, q))
    out["max"] = _r(values.max())
    out["mean"] = _r(values.mean())
    return out


def top_tasks(runs: pd.DataFrame, n: int = TOP_TASKS) -> list[dict[str, Any]]:
    """The `n` tasks with most runs: task, runs, share of runs, share of CPU time."""
    total_runs = len(runs)
    total_time = float(runs["delta_us"].sum())
    grouped = runs.groupby("task", sort=False)["delta_us"].agg(["size", "sum"])
    grouped = grouped.reset_index().sort_values(
        ["size", "task"], ascending=[False, True], kind="mergesort"
    )
    return [
        {
            "task": str(row.task),
            "runs": int(row.size),
            "run_share": _r(row.size / total_runs, 4),
            "time_share": _r(row.sum / total_time, 4) if total_time else 0.0,
        }
        for row in grouped.head(n).itertuples(index=False)
    ]


RECORDER_LABELS = ("perf record", "perf record child", "capture driver")
ROLES = ("nginx", "ab", "background", "kernel", "idle")
MANY_TASKS_SHARE = 0.01  # a task with at least this share of the runs competes for "next"


def role_of(comm: str) -> str:
    """What a command name is in a scenario: nginx, ab, a background load (`ko-*`), idle, or
    kernel (every other thread: kworkers, ksoftirqd, migration, rcu, ...)."""
    if comm == "<idle>":
        return "idle"
    if comm in ("nginx", "ab"):
        return comm
    return "background" if comm.startswith("ko-") else "kernel"


def task_mix(runs: pd.DataFrame) -> dict[str, Any]:
    """Why a trace is hard to predict: the share of runs of each role, the top task's share,
    and how many tasks hold at least `MANY_TASKS_SHARE` of the runs."""
    comm = runs["comm"].astype(str)
    roles = comm.map(role_of).value_counts(normalize=True)
    shares = runs["task"].value_counts(normalize=True)
    return {
        "run_share_by_role": {r: _r(float(roles.get(r, 0.0)), 4) for r in ROLES},
        "top_task_run_share": _r(float(shares.iloc[0]), 4) if len(shares) else 0.0,
        "tasks_over_1pct": int((shares >= MANY_TASKS_SHARE).sum()),
    }


def cpu_time_share(runs: pd.DataFrame, processes: list[dict[str, Any]]) -> dict[str, float]:
    """How the CPU's time split between the scenario's processes (nginx, ab, background
    loads), the recorder (perf, the capture itself), idle and everything else."""
    recorder = {p["pid"] for p in processes if p["label"] in RECORDER_LABELS}
    scenario = {p["pid"] for p in processes if p["label"] not in RECORDER_LABELS}
    pid = runs["pid"].to_numpy()
    delta = runs["delta_us"].to_numpy()
    total = float(delta.sum()) or 1.0
    idle = pid == 0
    in_scenario = np.isin(pid, list(scenario)) & ~idle
    in_recorder = np.isin(pid, list(recorder)) & ~idle
    other = ~(idle | in_scenario | in_recorder)
    return {
        "scenario": _r(delta[in_scenario].sum() / total, 4),
        "recorder": _r(delta[in_recorder].sum() / total, 4),
        "idle": _r(delta[idle].sum() / total, 4),
        "other": _r(delta[other].sum() / total, 4),
    }


def trace_facts(
    runs: pd.DataFrame,
    split: TraceSplit,
    capture: dict[str, Any],
    parse: dict[str, Any],
    *,
    cpu: int | None,
    raw: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the manifest records about one trace (JSON-ready, deterministic).

    `capture` is the trace's `capture.json` (facts it lacks are "unknown"), `cpu` the CPU the
    switches were read from, `raw` the raw files and their compression."""
    t = runs["t_ns"].to_numpy()
    facts = capture_facts(capture)
    return {
        "scenario": facts["scenario"],
        "runs": len(runs),
        "tasks": int(runs["task"].nunique()),
        "comms": int(runs["comm"].nunique()),
        "duration_s": _r((t[-1] - t[0]) / 1e9 + runs["delta_us"].iat[-1] / 1e6, 3),
        "switches_per_s": _r(len(runs) / max((t[-1] - t[0]) / 1e9, 1e-9), 1),
        "idle_run_share": _r(float((runs["pid"] == 0).mean()), 4),
        "cpu_time_share": cpu_time_share(runs, capture.get("processes") or []),
        "top_tasks": top_tasks(runs),
        "task_mix": task_mix(runs),
        "delta_us": delta_quantiles(runs["delta_us"]),
        "end_states": {str(k): int(v) for k, v in sorted(runs["end_state"].value_counts().items())},
        "split": {
            "train": split.train[1] - split.train[0],
            "valid": split.valid[1] - split.valid[0],
            "test": split.test[1] - split.test[0],
        },
        "split_rows": {
            "train": list(split.train),
            "valid": list(split.valid),
            "test": list(split.test),
        },
        "vocabulary": len(split.vocabulary),
        "sigma_us": _r(split.sigma_us, 3),
        **{key: facts[key] for key in MACHINE_KEYS},
        "cpu": known(cpu),
        "ab": facts["ab"],
        "perf_lost_events": facts["perf_lost_events"],
        **({"vm": facts["vm"]} if "vm" in facts else {}),  # a guest capture: how it was emulated
        "parse": parse,
        **({"raw": raw} if raw else {}),
        "capture": capture,
    }


# ----------------------------------------------------------------------------- reading back


def collect(root: Path | None = None, *, verify: bool = True) -> dict[str, Any]:
    """`{"version", "traces": [...]}` from the manifest and split file, every file verified."""
    root = root or data_dir()
    manifest = load_manifest(root)
    if verify:
        for relpath in sorted(manifest["files"]):
            verify_file(relpath, root, manifest)
    splits = read_splits(root / "splits.json")
    missing = sorted(set(manifest["traces"]) - set(splits))
    if missing:
        raise KeyError(f"{root / 'splits.json'}: no split for trace {missing[0]!r}; re-run prepare")
    return info_from(manifest, verified=verify)


def info_from(manifest: dict[str, Any], *, verified: bool) -> dict[str, Any]:
    """The `collect` answer built from a manifest held in memory (`prepare` renders the
    datasheet from it before anything is written)."""
    traces = [
        {
            "name": name,
            "sha256": manifest["files"][f"traces/{name}.parquet"],
            "sha256_verified": verified,
            "parquet": f"traces/{name}.parquet",
            **manifest["traces"][name],
            "scheduler": scheduler_of(manifest["traces"][name].get("kernel")),
        }
        for name in sorted(manifest["traces"])
    ]
    return {"version": manifest.get("version", MANIFEST_VERSION), "traces": traces}


# ----------------------------------------------------------------------------- the datasheet


def _fmt_int(n: int) -> str:
    return f"{n:,}"


HEADROOM_NOTE = (
    "headroom: the task-history ceiling minus markov's test accuracy, from the committed "
    "leaderboard (`leaderboard/leaderboard.json`; `kernel-oracle leaderboard` refreshes this "
    "column; — where the board has no score for the trace's current data). Task mix: the share "
    "of runs that are the top task, the tasks with at least 1% of the runs, and the share of "
    "runs by role (nginx / ab / background loads / kernel threads / idle)."
)


def _mix_cells(t: dict[str, Any], headroom: Mapping[str, float | None]) -> str:
    mix = t.get("task_mix")
    value = headroom.get(t["name"])
    room = "—" if value is None else f"{value:.3f}"
    if not mix:
        return f"| {room} | {UNKNOWN} | {UNKNOWN} | {UNKNOWN} |"
    roles = " / ".join(f"{mix['run_share_by_role'][r]:.0%}" for r in ROLES)
    return f"| {room} | {mix['top_task_run_share']:.1%} | {mix['tasks_over_1pct']} | {roles} |"


def render_markdown(
    info: dict[str, Any], headroom: Mapping[str, float | None] | None = None
) -> str:
    """The datasheet's generated section: overview table (with each trace's `headroom` from the
    board, where known), then per-trace details."""
    headroom = headroom or {}
    lines = [
        "| trace | runs | tasks | duration s | switches/s | train / valid / test | sigma_us "
        "| delta p50 µs | lost (parser) | ab req/s | CPU time: scenario / other | headroom "
        "| top task | tasks ≥ 1% | runs: nginx / ab / background / kernel / idle |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    for t in info["traces"]:
        s = t["split"]
        lines.append(
            f"| `{t['name']}` | {_fmt_int(t['runs'])} | {t['tasks']} | {t['duration_s']} "
            f"| {_fmt_int(round(t['switches_per_s']))} "
            f"| {_fmt_int(s['train'])} / {_fmt_int(s['valid'])} / {_fmt_int(s['test'])} "
            f"| {t['sigma_us']} | {t['delta_us']['p50']} "
            f"| {t['parse']['perf_script']['damage']['lost']} "
            f"| {(t.get('ab') or {}).get('requests_per_second')} "
            f"| {t['cpu_time_share']['scenario']:.1%} / {t['cpu_time_share']['other']:.1%} "
            + _mix_cells(t, headroom)
        )
    lines += ["", HEADROOM_NOTE]
    for t in info["traces"]:
        lines += ["", f"### `{t['name']}`", ""]
        scenario = t["capture"].get("scenario") or {}
        lines.append(f"{scenario.get('description', '')}")
        lines.append("")
        lines.append(_reproduce(t["name"], scenario, t["cpu"]))
        lines.append(
            f"- recorded: CPU {t['cpu']} of {t['cpu_count']} ({t['cpu_model']}), kernel "
            f"`{t['kernel']}`, `{t['perf']}`, HZ {t['hz']} ({t['hz_source']})"
        )
        vm = t.get("vm")
        if vm:
            knobs = ", ".join(f"{k} {v:,}" for k, v in (vm.get("sched_tunables") or {}).items())
            lines.append(
                f"- scheduler: {t['scheduler']} (guest kernel), {vm.get('vcpus')} vCPU under "
                f"qemu {vm.get('accelerator')} (`{vm.get('qemu')}`, icount "
                f"{vm.get('icount') or 'off'}), emulation slowdown {vm.get('slowdown')}x "
                f"(ab req/s, host / guest); tunables: {knobs or 'unknown'}"
            )
        ab = t.get("ab") or {}
        lines.append(
            f"- load: ab {ab.get('complete_requests')} requests, "
            f"{ab.get('requests_per_second')} req/s, {ab.get('failed_requests')} failed; "
            f"perf lost events: {t['perf_lost_events']}"
        )
        q = t["delta_us"]
        order = ["min", *(f"p{round(x * 100)}" for x in QUANTILES), "max", "mean"]
        lines.append("- delta_us: " + ", ".join(f"{k} {q[k]}" for k in order if k in q))
        lines.append(
            f"- split rows (half-open): train {t['split_rows']['train']}, valid "
            f"{t['split_rows']['valid']}, test {t['split_rows']['test']}; vocabulary "
            f"{t['vocabulary']} labels (with `<other>`); idle share of runs {t['idle_run_share']}"
        )
        share = t["cpu_time_share"]
        lines.append(
            "- CPU time: "
            + ", ".join(f"{k} {share[k]:.1%}" for k in ("scenario", "recorder", "idle", "other"))
            + " (scenario = the processes the capture started; recorder = perf and the capture)"
        )
        ps = t["parse"]["perf_script"]
        damage = ", ".join(f"{k} {v}" for k, v in ps["damage"].items())
        lines.append(f"- damage (perf script): {damage}")
        after = ps.get("lost_after", {})
        if after:
            lines.append(
                "- the task that had been switched in before each lost event: "
                + ", ".join(f"`{k}` {v}" for k, v in after.items())
            )
        agree = t["parse"]["formats_agree"]
        agree = "not checked (no sched map)" if agree is None else agree
        lines.append(f"- both formats agree: {agree}")
        lines += [
            "",
            "| top task | runs | share of runs | share of CPU time |",
            "| --- | ---: | ---: | ---: |",
        ]
        for task in t["top_tasks"]:
            lines.append(
                f"| `{task['task']}` | {_fmt_int(task['runs'])} | {task['run_share']:.2%} "
                f"| {task['time_share']:.2%} |"
            )
        lines += ["", "Commands:", "", "```"]
        lines += [_shorten(c) for c in t["capture"].get("commands") or []]
        lines.append("```")
    return "\n".join(lines) + "\n"


def _reproduce(name: str, scenario: dict[str, Any], cpu: Any) -> str:
    """The datasheet's `reproduce:` line (unknown when capture.json names no scenario)."""
    if not scenario.get("name"):
        return f"- reproduce: {UNKNOWN} (its capture.json names no scenario)"
    seconds = scenario.get("seconds")
    seconds = f"{seconds:g}" if isinstance(seconds, (int, float)) else known(seconds)
    return (
        f"- reproduce: `kernel-oracle capture --scenario {scenario['name']} --seconds "
        f"{seconds} --cpu {cpu} --out data/raw/{name}` then `kernel-oracle prepare` (as root)"
    )


def _shorten(command: str) -> str:
    """A command for the datasheet: the inline Python of a background load elided."""
    marker = " -c 'import ctypes"
    if marker not in command:
        return command
    kind = re.search(r"ko-([a-z-]+)", command)
    name = f"ko-{kind.group(1)}" if kind else "background"
    loop = f"<the {name} loop of benchmark/data/capture/workload.py>"
    return f"{command.split(marker, 1)[0]} -c '{loop}'"


def readme_with(
    text: str, info: dict[str, Any], headroom: Mapping[str, float | None] | None = None
) -> str | None:
    """The datasheet `text` with its generated section rendered from `info`; None when the text
    has no generated section (a README of the user's own, left alone)."""
    if BEGIN not in text or END not in text:
        return None
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{render_markdown(info, headroom)}{END}{tail}"
