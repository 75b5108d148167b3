"""CLI commands of the data part: `capture`, `prepare` and `data` (README §3).

Every refusal is one line on stderr naming the file, the row or the option and the fix, with
exit code 2; untrusted text (file, task and scenario names) is printed as plain text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from benchmark.cli.app import app
from benchmark.core.text import console as make_console
from benchmark.core.text import plain
from benchmark.data.capturemeta import fields_help

console = make_console(stderr=True, soft_wrap=True)  # a message is one line


def _fail(exc: BaseException) -> typer.Exit:
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    console.print(f"error: {message}")
    return typer.Exit(2)


def _warn(message: str) -> None:
    console.print(f"warning: {message}")


@app.command()
def capture(
    scenario: str = typer.Option(..., "--scenario", help="A scenario of data/scenarios.toml."),
    seconds: float = typer.Option(None, "--seconds", help="Recording length (default: scenario)."),
    cpu: int = typer.Option(None, "--cpu", help="The CPU to load and trace (default: scenario)."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: data/raw/SCENARIO)."),
    scenarios: Path = typer.Option(None, "--scenarios", help="Another scenarios.toml."),
    force: bool = typer.Option(False, "--force", help="Replace an existing capture in --out."),
    max_busy: float = typer.Option(
        0.1, "--max-busy", help="Wait until other work keeps the CPU at most this busy (1: off)."
    ),
    quiet_timeout: float = typer.Option(
        900, "--quiet-timeout", help="Give up waiting for a quiet CPU after this many seconds."
    ),
    vm: bool = typer.Option(
        False, "--vm", help="Record inside the one-vCPU CFS guest (as a `vm = true` scenario)."
    ),
    icount: bool = typer.Option(
        False, "--icount", help="With --vm: qemu -icount shift=auto (instruction-counted time)."
    ),
) -> None:
    """Record a real trace of one CPU under an nginx + ab load (needs root, perf, nginx, ab;
    a `vm = true` scenario or --vm: qemu and mmdebstrap, README "CFS track")."""
    from benchmark.core.paths import data_dir
    from benchmark.data import capture as cap
    from benchmark.data.capture.driver import other_work_warning

    try:
        base = cap.load_scenario(scenario, scenarios)
        chosen = cap.with_overrides(base, seconds=seconds, cpu=cpu)
        target = out or data_dir() / "raw" / scenario
        with console.status(f"capturing {scenario}") as status:

            def log(message: str) -> None:
                status.update(f"{scenario}: {message}")

            if vm or chosen.vm:
                from benchmark.data.capture.vm import capture_vm

                if (target / "capture.json").exists() and not force:
                    raise cap.CaptureError(
                        f"{target / 'capture.json'} exists; pass --force to replace it or "
                        "choose --out"
                    )
                result = capture_vm(chosen, target, log=log, icount=icount or None)
            else:
                result = cap.capture(
                    chosen,
                    target,
                    force=force,
                    max_busy=max_busy,
                    quiet_timeout=quiet_timeout,
                    log=log,
                )
    except (cap.CaptureError, cap.ScenarioError, OSError) as exc:
        raise _fail(exc) from exc
    ab = result.meta["ab"]
    console.print(
        f"captured {scenario} ({chosen.seconds:g} s of CPU {chosen.cpu}) into "
        f"{result.out}: ab {ab['requests_per_second']} req/s, {ab['complete_requests']} "
        f"requests; perf lost events {result.meta['lost_events']}"
    )
    summary = result.meta["summary"]
    if summary.get("problem"):
        _warn(f"the new trace does not parse: {summary['problem']}")
    else:
        share = ", ".join(f"{k} {v:.1%}" for k, v in summary["cpu_time_share"].items())
        console.print(f"{summary['runs']:,} runs; CPU time: {share}")
        warning = other_work_warning(result.meta)
        if warning:
            _warn(warning)
    console.print("next: `kernel-oracle prepare` builds the run table, manifest and split")


@app.command("vm-image")
def vm_image() -> None:
    """Build (or rebuild) the CFS guest's image in build/vm/: mmdebstrap of Debian bookworm with
    nginx, ab, perf and Debian's 6.1 kernel, as ext4 (needs root, mmdebstrap, qemu)."""
    from benchmark.data import capture as cap
    from benchmark.data.capture.vm import VM_DIR, build_image

    try:
        with console.status("building the VM image") as status:
            facts = build_image(log=lambda m: status.update(m))
    except (cap.CaptureError, OSError) as exc:
        raise _fail(exc) from exc
    console.print(f"built {VM_DIR}: guest kernel {facts['kernel_release']}")


PREPARE_HELP = (
    "Turn DATA/raw/<trace>/ into DATA/traces/<trace>.parquet, splits.json and manifest.json "
    "(written last). Each raw folder holds perf-script.txt.xz (or .gz, or plain .txt; told "
    "apart by content), optionally sched-map.txt.xz/.gz/.txt (cross-checked), and "
    "capture.json, whose fields are all optional ({} is accepted; a missing fact shows as "
    f"'unknown'): {fields_help()}."
)


@app.command(help=PREPARE_HELP)
def prepare(
    data: Path = typer.Option(None, "--data", help="The data folder (default: data/)."),
    cpu: int = typer.Option(
        None,
        "--cpu",
        help="The CPU to read where capture.json names none (default: the only CPU in the file).",
    ),
) -> None:
    from benchmark.core.paths import data_dir
    from benchmark.data.prepare import PrepareError
    from benchmark.data.prepare import prepare as run_prepare

    root = data or data_dir()
    headroom = None
    if root.resolve() == data_dir().resolve() and (root / "manifest.json").is_file():
        from benchmark.core.paths import leaderboard_dir
        from benchmark.data.manifest import load_manifest
        from benchmark.reporting.ceilings import stored_headroom

        try:  # the committed board's headroom for the traces whose data it scored
            headroom = stored_headroom(leaderboard_dir() / "leaderboard.json", load_manifest(root))
        except (ValueError, OSError):
            headroom = None
    try:
        with console.status("preparing") as status:
            done = run_prepare(
                root, log=lambda m: status.update(m), warn=_warn, cpu=cpu, headroom=headroom
            )
    except (PrepareError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    for name, item in done.items():
        damage = item.facts["parse"]["perf_script"]["damage"]
        bad = ", ".join(f"{k} {v}" for k, v in damage.items() if v) or "none"
        agree = item.facts["parse"]["formats_agree"]
        console.print(
            f"{name}: {item.facts['runs']:,} runs, {item.facts['tasks']} tasks, "
            f"formats agree: {'not checked (no sched map)' if agree is None else agree}, "
            f"damage: {bad}"
        )
    console.print(f"wrote {root / 'manifest.json'} and {root / 'splits.json'}")


def _table(info: dict[str, Any]) -> Table:
    table = Table(title=f"kernel-oracle traces (manifest version {info['version']})")
    for col in (
        "trace",
        "runs",
        "tasks",
        "train/valid/test",
        "delta p50/p99 µs",
        "top tasks",
        "kernel",
        "sha256",
    ):
        table.add_column(col, overflow="fold")
    for t in info["traces"]:
        s, q = t["split"], t["delta_us"]
        top = ", ".join(f"{x['task']} {x['run_share']:.0%}" for x in t["top_tasks"][:3])
        cells = (
            t["name"],
            f"{t['runs']:,}",
            t["tasks"],
            f"{s['train']:,}/{s['valid']:,}/{s['test']:,}",
            f"{q['p50']}/{q['p99']}",
            top,
            t["kernel"],
            t["sha256"][:12] + ("… ok" if t["sha256_verified"] else ""),
        )
        table.add_row(*(plain(c) for c in cells))
    return table


@app.command("data")
def data_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    data: Path = typer.Option(None, "--data", help="The data folder (default: data/)."),
) -> None:
    """Show the shipped traces (runs, tasks, split, sha256 verified, machine, scenario)."""
    from benchmark.core.paths import data_dir
    from benchmark.data.datainfo import collect
    from benchmark.data.manifest import DataIntegrityError, check_data_root

    root = data or data_dir()
    problem = check_data_root(root)
    if problem:
        raise _fail(ValueError(problem))
    try:
        info = collect(root)
    except (DataIntegrityError, FileNotFoundError, KeyError, ValueError) as exc:
        raise _fail(exc) from exc
    from benchmark.core.paths import leaderboard_dir
    from benchmark.data.manifest import load_manifest
    from benchmark.reporting.ceilings import stored_headroom

    board_file = (leaderboard_dir() if data is None else root / "leaderboard") / "leaderboard.json"
    headroom = stored_headroom(board_file, load_manifest(root))
    for t in info["traces"]:  # None: no board has scored this trace's current data
        t["headroom"] = headroom.get(t["name"])
    info["headroom_source"] = str(board_file)
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True, allow_nan=False))
    else:
        make_console().print(_table(info))
