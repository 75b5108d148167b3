"""Record a real single-CPU scheduler trace under an nginx + ab load (`kernel-oracle capture`).

One capture: a generated nginx config on 127.0.0.1 and a free port, the scenario's background
loads, ab with `-t` before `-n` (ab's `-t` otherwise caps `-n` at 50000), all pinned to one CPU
with `taskset`; after a short warm-up `perf record` takes the sched_switch and sched_wakeup
events of that CPU for the scenario's seconds. Every process it started is stopped by its PID
(never by name), also on an error or Ctrl-C. The recording is exported as `perf script --ns`
text and `perf sched map` text, both xz-compressed, next to `capture.json` (the machine, the
tools, the scenario, ab's throughput, lost events and the exact commands).
"""

from __future__ import annotations

import gzip
import lzma
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.core.atomic import write_bytes, write_json

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from benchmark.core.paths import data_dir

CAPTURE_VERSION = 1
PERF_SCRIPT_FILE = "perf-script.txt.xz"
SCHED_MAP_FILE = "sched-map.txt.xz"
CAPTURE_JSON = "capture.json"
PERF_SCRIPT_FIELDS = "comm,tid,cpu,time,event,trace"
PERF_MMAP_PAGES = "4096"  # 16 MiB ring buffer per CPU: no lost events at 100k+ switches/s
AB_REQUESTS = 100_000_000  # with -t first, -n only bounds the run; ab stops at the time limit
BACKGROUND_KINDS = ("cpu-hog", "timer", "fsync")

# Requirement -> (how to find it, how to get it).
REQUIREMENTS = {
    "perf": "apt-get install linux-perf (Debian) or linux-tools-$(uname -r) (Ubuntu)",
    "nginx": "apt-get install nginx-light",
    "ab": "apt-get install apache2-utils",
    "taskset": "apt-get install util-linux",
}


class CaptureError(RuntimeError):
    """A capture cannot start or failed; the message says what to do."""


class ScenarioError(ValueError):
    """`scenarios.toml` is missing, malformed or lacks the asked scenario."""


@dataclass(frozen=True)
class Background:
    """One background load on the traced CPU: a niced CPU hog, a periodic timer, an fsync writer."""

    kind: str
    nice: int = 0
    period_ms: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """What runs on the traced CPU while perf records (one table of `data/scenarios.toml`)."""

    name: str
    description: str = ""
    nginx_workers: int = 1
    ab_concurrency: int = 10
    keepalive: bool = False
    body_bytes: int = 4096
    seconds: float = 10.0
    cpu: int = 1
    warmup_seconds: float = 1.0
    background: tuple[Background, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["background"] = [asdict(b) for b in self.background]
        return out


def scenarios_path() -> Path:
    """The shipped scenario file, `data/scenarios.toml`."""
    return data_dir() / "scenarios.toml"


def _scenario_from_table(name: str, table: dict[str, Any], path: Path) -> Scenario:
    known = {f for f in Scenario.__dataclass_fields__ if f != "name"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ScenarioError(
            f"{path}: scenario {name!r} has unknown key(s) {', '.join(unknown)}; "
            f"known keys: {', '.join(sorted(known))}"
        )
    loads = []
    for item in table.get("background", []):
        if not isinstance(item, dict) or item.get("kind") not in BACKGROUND_KINDS:
            raise ScenarioError(
                f"{path}: scenario {name!r}: background entry {item!r} needs kind = one of "
                f"{', '.join(BACKGROUND_KINDS)}"
            )
        extra = sorted(set(item) - {"kind", "nice", "period_ms"})
        if extra:
            raise ScenarioError(f"{path}: scenario {name!r}: background key(s) {extra} unknown")
        if item["kind"] in ("timer", "fsync") and float(item.get("period_ms", 0)) <= 0:
            raise ScenarioError(f"{path}: scenario {name!r}: {item['kind']} needs period_ms > 0")
        loads.append(
            Background(
                kind=item["kind"],
                nice=int(item.get("nice", 0)),
                period_ms=float(item.get("period_ms", 0.0)),
            )
        )
    fields = {k: v for k, v in table.items() if k != "background"}
    scenario = Scenario(name=name, background=tuple(loads), **fields)
    if scenario.nginx_workers < 1 or scenario.ab_concurrency < 1 or scenario.seconds <= 0:
        raise ScenarioError(
            f"{path}: scenario {name!r} needs nginx_workers >= 1, ab_concurrency >= 1, seconds > 0"
        )
    return scenario


def load_scenarios(path: Path | None = None) -> dict[str, Scenario]:
    """Every scenario of a `scenarios.toml` (tables under `[scenarios.NAME]`)."""
    path = path or scenarios_path()
    if not path.exists():
        raise ScenarioError(f"{path}: no scenario file")
    try:
        obj = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    tables = obj.get("scenarios")
    if not isinstance(tables, dict) or not tables:
        raise ScenarioError(f"{path}: no [scenarios.NAME] tables")
    return {name: _scenario_from_table(name, t, path) for name, t in tables.items()}


def load_scenario(name: str, path: Path | None = None) -> Scenario:
    """One scenario by name; an unknown name lists the known ones."""
    scenarios = load_scenarios(path)
    if name not in scenarios:
        raise ScenarioError(
            f"unknown scenario {name!r}; known: {', '.join(sorted(scenarios))} "
            f"(in {path or scenarios_path()})"
        )
    return scenarios[name]


# ----------------------------------------------------------------------------- requirements


def missing_requirements() -> list[str]:
    """One line per missing piece (root, perf, nginx, ab, taskset), saying how to get it."""
    problems = []
    if os.geteuid() != 0:
        problems.append(
            "capture needs root (perf records kernel tracepoints): run it as root or with sudo"
        )
    for tool, how in REQUIREMENTS.items():
        if shutil.which(tool) is None:
            problems.append(f"capture needs `{tool}`, which is not on PATH: {how}")
    return problems


def perf_can_record(cpu: int) -> str | None:
    """None when `perf record` of sched_switch on `cpu` works here, else perf's complaint."""
    if shutil.which("perf") is None:
        return "perf is not installed (" + REQUIREMENTS["perf"] + ")"
    with tempfile.TemporaryDirectory(prefix="kernel-oracle-probe-") as tmp:
        cmd = ["perf", "record", "-q", "-e", "sched:sched_switch", "-C", str(cpu)]
        cmd += ["-o", f"{tmp}/probe.data", "--", "sleep", "0.05"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{shlex.join(cmd)}` failed: {exc}"
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return f"`{shlex.join(cmd)}` exited {proc.returncode}: {' | '.join(lines[-3:])}"
    return None


# ----------------------------------------------------------------------------- processes


def _proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


@dataclass(frozen=True)
class ProcessRef:
    """A process this capture started (or nginx started for it), named by PID and start time."""

    pid: int
    start_time: int | None
    label: str

    def running(self) -> bool:
        """True while the same process (not a reused PID, not a zombie) still exists."""
        if self.start_time is None or _proc_start_time(self.pid) != self.start_time:
            return False
        return _proc_state(self.pid) not in (None, "Z", "X")


def _children(pid: int) -> list[int]:
    """PIDs of the direct children of `pid` (from /proc/PID/task/*/children)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(out))


class ProcessGroup:
    """Starts processes and stops every one of them by PID when the `with` block ends."""

    def __init__(self, log: Callable[[str], None] = lambda _: None) -> None:
        self.log = log
        self.popens: list[tuple[subprocess.Popen, ProcessRef]] = []
        self.extra: list[ProcessRef] = []  # grandchildren, e.g. nginx workers
        self.commands: list[str] = []

    def start(self, label: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Start `argv` in its own session (Ctrl-C reaches only us) and remember it."""
        self.commands.append(shlex.join(argv))
        proc = subprocess.Popen(list(argv), start_new_session=True, **kwargs)
        self.popens.append((proc, ProcessRef(proc.pid, _proc_start_time(proc.pid), label)))
        return proc

    def adopt_children(self, proc: subprocess.Popen, label: str) -> list[ProcessRef]:
        """Remember the current children of `proc` (nginx's workers) so they are stopped too."""
        refs = [ProcessRef(p, _proc_start_time(p), label) for p in _children(proc.pid)]
        self.extra += refs
        return refs

    @property
    def refs(self) -> list[ProcessRef]:
        """Every process started, children included."""
        return [ref for _, ref in self.popens] + self.extra

    def stop_all(self, grace: float = 3.0) -> None:
        """SIGTERM each started process (newest first), wait, then SIGKILL what is left.

        Children of the started processes (nginx's workers, also ones respawned since) are
        remembered first, so that they are checked and stopped by PID too."""
        known = {ref.pid for ref in self.extra}
        for proc, ref in self.popens:
            if proc.poll() is None:
                for pid in set(_children(proc.pid)) - known:
                    label = f"{ref.label} child"
                    self.extra.append(ProcessRef(pid, _proc_start_time(pid), label))
        for proc, ref in reversed(self.popens):
            if proc.poll() is None and ref.running():
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc, ref in reversed(self.popens):
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{ref.label} (pid {ref.pid}) ignored SIGTERM; sending SIGKILL")
                proc.kill()
                proc.wait(timeout=5)
        for ref in self.extra:
            end = time.monotonic() + grace
            while ref.running() and time.monotonic() < end:
                time.sleep(0.05)
            if ref.running():
                self.log(f"{ref.label} (pid {ref.pid}) still running; sending SIGKILL")
                os.kill(ref.pid, signal.SIGKILL)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so `finally` blocks stop the processes."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# ----------------------------------------------------------------------------- the loads


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_config(tmp: Path, port: int, workers: int) -> str:
    """An nginx config that keeps every file in `tmp` and serves `tmp/www` on 127.0.0.1:port."""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# generated by kernel-oracle capture
daemon off;
master_process on;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    sendfile on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    default_type application/octet-stream;
{temp_paths}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {tmp}/www;
        location / {{ }}
    }}
}}
"""


_SET_NAME = (  # prctl(PR_SET_NAME): the load shows in the trace as `ko-<kind>`
    "import ctypes\ntry:\n    ctypes.CDLL(None).prctl(15, {name!r}, 0, 0, 0)\n"
    "except Exception:\n    pass\n"
)

_BACKGROUND_CODE = {
    "cpu-hog": "while True:\n    pass\n",
    "timer": (
        "import time\nperiod = {period_s!r}\nnext_t = time.monotonic()\nwhile True:\n"
        "    next_t += period\n    wait = next_t - time.monotonic()\n"
        "    if wait > 0:\n        time.sleep(wait)\n    else:\n        next_t = time.monotonic()\n"
    ),
    "fsync": (
        "import os, time\nperiod = {period_s!r}\nblock = os.urandom(4096)\n"
        "fd = os.open({path!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
        "while True:\n    os.pwrite(fd, block, 0)\n    os.fsync(fd)\n    time.sleep(period)\n"
    ),
}


def background_argv(load: Background, cpu: int, tmp: Path, index: int) -> list[str]:
    """The command of one background load: a small Python loop named `ko-<kind>`, pinned."""
    name = f"ko-{load.kind}".encode()[:15]
    code = _SET_NAME.format(name=name) + _BACKGROUND_CODE[load.kind].format(
        period_s=load.period_ms / 1000.0, path=str(tmp / f"fsync-{index}.dat")
    )
    argv = ["taskset", "-c", str(cpu)]
    if load.nice:
        argv += ["nice", "-n", str(load.nice)]
    return [*argv, sys.executable, "-c", code]


def ab_argv(scenario: Scenario, cpu: int, url: str, seconds: float) -> list[str]:
    """ab with `-t` before `-n` (so `-n` is not capped at 50000), pinned to the CPU."""
    argv = ["taskset", "-c", str(cpu), "ab", "-q", "-r", "-t", str(max(1, math.ceil(seconds)))]
    argv += ["-n", str(AB_REQUESTS), "-c", str(scenario.ab_concurrency)]
    if scenario.keepalive:
        argv.append("-k")
    return [*argv, url]


def parse_ab_output(text: str) -> dict[str, Any]:
    """ab's requests/s, completed and failed requests (None when ab printed no summary)."""

    def number(label: str) -> float | None:
        match = re.search(rf"^{label}:\s+([0-9.]+)", text, re.MULTILINE)
        return float(match.group(1)) if match else None

    complete = number("Complete requests")
    failed = number("Failed requests")
    return {
        "requests_per_second": number("Requests per second"),
        "complete_requests": int(complete) if complete is not None else None,
        "failed_requests": int(failed) if failed is not None else None,
        "time_taken_s": number("Time taken for tests"),
    }


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float, errlog: Path) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            log = errlog.read_text() if errlog.exists() else ""
            raise CaptureError(f"nginx exited with {proc.returncode} at start: {log.strip()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise CaptureError(f"nginx did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


# ----------------------------------------------------------------------------- machine facts


def _read_kernel_hz() -> dict[str, Any]:
    """CONFIG_HZ from the kernel config if readable, else USER_HZ from getconf (labelled)."""
    release = platform.release()
    for path in (Path(f"/boot/config-{release}"), Path("/proc/config.gz")):
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
        match = re.search(r"^CONFIG_HZ=(\d+)$", text, re.MULTILINE)
        if match:
            return {"hz": int(match.group(1)), "hz_source": f"CONFIG_HZ in {path}"}
    try:
        ticks = subprocess.run(["getconf", "CLK_TCK"], capture_output=True, text=True).stdout
        return {"hz": int(ticks), "hz_source": "USER_HZ from `getconf CLK_TCK` (not CONFIG_HZ)"}
    except (OSError, ValueError):
        return {"hz": None, "hz_source": "unreadable"}


def _tool_version(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (proc.stdout + proc.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def machine_facts() -> dict[str, Any]:
    """Kernel release, perf/nginx/ab versions, CPU model and count, HZ."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "machine": platform.machine(),
        "perf": _tool_version(["perf", "--version"]),
        "nginx": _tool_version(["nginx", "-v"]),
        "ab": _tool_version(["ab", "-V"]),
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        **_read_kernel_hz(),
    }


def parse_lost(text: str) -> int:
    """Lost events reported by perf (`LOST n events`, `lost n chunks`, `--stats` LOST lines)."""
    total = 0
    for pattern in (
        r"LOST (\d+) events",
        r"lost (\d+) chunks",
        r"LOST(?:_SAMPLES)? events:\s+(\d+)",
    ):
        total += sum(int(n) for n in re.findall(pattern, text))
    return total


# ----------------------------------------------------------------------------- a quiet CPU


def _cpu_times(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one CPU from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
            return sum(values) - idle, sum(values)
    raise CaptureError(f"CPU {cpu} is not in /proc/stat")


def cpu_busy(cpu: int, seconds: float = 2.0) -> float:
    """The fraction of the last `seconds` that `cpu` spent running something."""
    busy0, total0 = _cpu_times(cpu)
    time.sleep(seconds)
    busy1, total1 = _cpu_times(cpu)
    return (busy1 - busy0) / max(total1 - total0, 1)


def wait_until_quiet(
    cpu: int, max_busy: float, timeout: float, log: Callable[[str], None]
) -> float:
    """Wait until other work leaves `cpu` at most `max_busy` busy; returns the last reading.

    A capture records everything that runs on the CPU, so other heavy work there (a test run,
    a build) would become part of the trace. Raises CaptureError after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        busy = cpu_busy(cpu)
        if busy <= max_busy:
            return busy
        if time.monotonic() > end:
            raise CaptureError(
                f"CPU {cpu} stayed {busy:.0%} busy with other work for {timeout:.0f} s (limit "
                f"{max_busy:.0%}); move that work to other CPUs (`taskset -c 0 ...`), or pass "
                "--max-busy 1 to record anyway"
            )
        log(f"CPU {cpu} is {busy:.0%} busy with other work; waiting for it to be quiet")


# ----------------------------------------------------------------------------- the capture


@dataclass
class CaptureResult:
    """Where a capture wrote its files, its metadata, and the processes it started."""

    out: Path
    files: list[Path]
    meta: dict[str, Any]
    processes: list[ProcessRef] = field(default_factory=list)


def _compress_to(src: Path, dst: Path) -> int:
    """xz-compress (preset 9) `src` into `dst` atomically; returns the compressed size."""
    comp = lzma.LZMACompressor(preset=9)
    chunks = []
    with open(src, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            chunks.append(comp.compress(block))
    chunks.append(comp.flush())
    data = b"".join(chunks)
    write_bytes(dst, data)
    return len(data)


def _run_export(argv: list[str], dst: Path, commands: list[str]) -> str:
    """Run a perf export command with stdout into `dst`; returns its stderr."""
    commands.append(shlex.join(argv) + f" > {dst.name}")
    with open(dst, "wb") as handle:
        proc = subprocess.run(argv, stdout=handle, stderr=subprocess.PIPE, text=False)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise CaptureError(f"`{shlex.join(argv)}` exited {proc.returncode}: {err.strip()[-500:]}")
    return err


def _set_process_affinity(cpus: set[int]) -> None:
    """Pin every thread of this process to `cpus` (sched_setaffinity(0) moves one thread)."""
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except (ProcessLookupError, ValueError):
            continue  # a thread that just ended


def _other_cpus(cpu: int) -> str | None:
    """The CPUs other than `cpu` this process may use (where perf itself runs), or None."""
    others = sorted(os.sched_getaffinity(0) - {cpu})
    return ",".join(map(str, others)) if others else None


def capture(
    scenario: Scenario,
    out: Path,
    *,
    log: Callable[[str], None] = print,
    force: bool = False,
    max_busy: float = 0.1,
    quiet_timeout: float = 900.0,
) -> CaptureResult:
    """Run one capture of `scenario` (its `cpu` and `seconds`) and write it into `out`.

    It first waits until other work leaves the CPU at most `max_busy` busy (1 disables it)."""
    problems = missing_requirements()
    if problems:
        raise CaptureError("\n".join(problems))
    cpu = scenario.cpu
    if cpu not in os.sched_getaffinity(0):
        raise CaptureError(
            f"CPU {cpu} is not available here (CPUs: {sorted(os.sched_getaffinity(0))}); "
            "choose one with --cpu"
        )
    targets = [out / PERF_SCRIPT_FILE, out / SCHED_MAP_FILE, out / CAPTURE_JSON]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise CaptureError(f"{existing[0]} exists; pass --force to replace it or choose --out")
    busy_before = wait_until_quiet(cpu, max_busy, quiet_timeout, log) if max_busy < 1 else None
    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="kernel-oracle-capture-"))
    group = ProcessGroup(log)
    affinity = os.sched_getaffinity(0)
    others = affinity - {cpu}
    if others:  # keep this driver (all its threads, e.g. a progress spinner) off the traced CPU
        _set_process_affinity(others)
    try:
        with _sigterm_as_interrupt(), group:
            meta = _record(scenario, tmp, group, log)
        refs = group.refs
        commands = group.commands
        log("exporting perf script and perf sched map text")
        perf_data = tmp / "perf.data"
        script_txt, map_txt = tmp / "perf-script.txt", tmp / "sched-map.txt"
        err = _run_export(
            ["perf", "script", "-i", str(perf_data), "--ns", "-F", PERF_SCRIPT_FIELDS],
            script_txt,
            commands,
        )
        # -v: every row names its task (`=> comm:tid`); the plain map reuses short names after
        # 260 tasks and is then ambiguous. The parser reads both.
        err += _run_export(["perf", "sched", "map", "-v", "-i", str(perf_data)], map_txt, commands)
        stats = subprocess.run(
            ["perf", "report", "-i", str(perf_data), "--stats"], capture_output=True, text=True
        )
        commands.append(f"perf report -i {perf_data} --stats")
        meta["lost_events"] = parse_lost(meta.pop("_perf_record_stderr") + err + stats.stdout)
        log("compressing (xz preset 9)")
        sizes = {
            PERF_SCRIPT_FILE: _compress_to(script_txt, out / PERF_SCRIPT_FILE),
            SCHED_MAP_FILE: _compress_to(map_txt, out / SCHED_MAP_FILE),
        }
        meta.update(
            capture_version=CAPTURE_VERSION,
            cpu_busy_before=None if busy_before is None else round(busy_before, 3),
            processes=[
                {"label": r.label, "pid": r.pid} for r in refs
            ] + [{"label": "capture driver", "pid": os.getpid()}],
            commands=commands,
            files={
                name: {"bytes": sizes[name], "text_bytes": txt.stat().st_size}
                for name, txt in ((PERF_SCRIPT_FILE, script_txt), (SCHED_MAP_FILE, map_txt))
            },
            wall_seconds=round(time.time() - started, 1),
        )
        write_json(out / CAPTURE_JSON, meta)
    finally:
        _set_process_affinity(affinity)
        shutil.rmtree(tmp, ignore_errors=True)
    leftovers = [r for r in refs if r.running()]
    if leftovers:
        raise CaptureError(f"processes still running after the capture: {leftovers}")
    _report_share(out, meta, log)
    return CaptureResult(out=out, files=targets, meta=meta, processes=refs)


def _report_share(out: Path, meta: dict[str, Any], log: Callable[[str], None]) -> None:
    """Parse the new trace and say how much CPU time went to tasks outside the scenario."""
    from benchmark.data.datainfo import cpu_time_share
    from benchmark.data.traces import parse_trace

    parsed = parse_trace(out / PERF_SCRIPT_FILE, cpu=meta["cpu"], fmt="perf-script")
    share = cpu_time_share(parsed.runs, meta["processes"])
    meta["summary"] = {"runs": len(parsed.runs), "cpu_time_share": share}
    if share["other"] > 0.1:
        log(
            f"warning: {share['other']:.0%} of CPU {meta['cpu']}'s time went to tasks outside "
            "the scenario (other work on that CPU); consider capturing again when it is quiet"
        )


def _record(
    scenario: Scenario, tmp: Path, group: ProcessGroup, log: Callable[[str], None]
) -> dict[str, Any]:
    """Start nginx, the loads and ab; record perf; wait for ab. Returns the metadata so far."""
    cpu = scenario.cpu
    os.chmod(tmp, 0o755)  # nginx workers run as an unprivileged user and must read www/
    (tmp / "www").mkdir(mode=0o755)
    body = tmp / "www" / "body.bin"
    body.write_bytes(os.urandom(scenario.body_bytes))
    body.chmod(0o644)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf_text = nginx_config(tmp, port, scenario.nginx_workers)
    conf.write_text(conf_text)
    errlog = tmp / "error.log"
    log(f"starting nginx ({scenario.nginx_workers} worker(s)) on 127.0.0.1:{port}, CPU {cpu}")
    nginx = group.start(
        "nginx",
        ["taskset", "-c", str(cpu), "nginx", "-p", str(tmp), "-c", str(conf), "-e", str(errlog)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(port, nginx, 10.0, errlog)
    end = time.monotonic() + 5
    while len(_children(nginx.pid)) < scenario.nginx_workers and time.monotonic() < end:
        time.sleep(0.05)
    workers = group.adopt_children(nginx, "nginx worker")
    for i, load in enumerate(scenario.background):
        log(f"starting background load {load.kind}")
        group.start(f"background {load.kind}", background_argv(load, cpu, tmp, i))
    ab_seconds = scenario.warmup_seconds + scenario.seconds + 2
    ab_out = tmp / "ab.txt"
    url = f"http://127.0.0.1:{port}/body.bin"
    with open(ab_out, "wb") as ab_handle:
        ab_cmd = ab_argv(scenario, cpu, url, ab_seconds)
        ab = group.start("ab", ab_cmd, stdout=ab_handle, stderr=subprocess.STDOUT)
    time.sleep(scenario.warmup_seconds)
    if ab.poll() is not None:
        raise CaptureError(f"ab exited early ({ab.returncode}): {ab_out.read_text()[-500:]}")
    perf_argv = ["perf", "record", "-e", "sched:sched_switch", "-e", "sched:sched_wakeup"]
    perf_argv += ["-C", str(cpu), "-m", PERF_MMAP_PAGES, "-o", str(tmp / "perf.data")]
    perf_argv += ["--", "sleep", f"{scenario.seconds:g}"]
    others = _other_cpus(cpu)
    if others:  # keep perf's own threads off the traced CPU
        perf_argv = ["taskset", "-c", others, *perf_argv]
    log(f"recording {scenario.seconds:g} s of CPU {cpu}: {shlex.join(perf_argv)}")
    perf = group.start("perf record", perf_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    perf_out, perf_err = perf.communicate(timeout=scenario.seconds + 120)
    perf_stderr = perf_err.decode(errors="replace")
    if perf.returncode != 0:
        raise CaptureError(f"perf record exited {perf.returncode}: {perf_stderr.strip()[-500:]}")
    ab_alive_at_end = ab.poll() is None
    try:
        ab.wait(timeout=ab_seconds + 30)
    except subprocess.TimeoutExpired as exc:
        raise CaptureError("ab did not stop at its time limit") from exc
    ab_text = ab_out.read_text(errors="replace")
    if not ab_alive_at_end:
        raise CaptureError(f"ab ended before the recording did: {ab_text.strip()[-500:]}")
    return {
        "scenario": scenario.to_json(),
        "cpu": cpu,
        "port": port,
        "nginx_conf": conf_text,
        "nginx_workers_pids": [w.pid for w in workers],
        "ab": {**parse_ab_output(ab_text), "exit_code": ab.returncode},
        "perf_record_stderr": perf_stderr.strip().splitlines()[-5:],
        "_perf_record_stderr": perf_stderr + perf_out.decode(errors="replace"),
        "machine": machine_facts(),
        "captured_at_unix": int(time.time()),
    }


def with_overrides(
    scenario: Scenario, *, seconds: float | None = None, cpu: int | None = None
) -> Scenario:
    """The scenario with the command line's --seconds / --cpu applied."""
    changes: dict[str, Any] = {}
    if seconds is not None:
        changes["seconds"] = seconds
    if cpu is not None:
        changes["cpu"] = cpu
    return replace(scenario, **changes)
