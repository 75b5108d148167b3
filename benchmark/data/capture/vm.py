"""Captures inside a one-vCPU virtual machine on Debian's CFS kernel (issue 15, README "CFS
track"): what `kernel-oracle capture` does for a scenario with `vm = true`.

The image (`build/vm/`, git-ignored; `kernel-oracle vm-image` builds it, a capture builds it
when it is missing):

* `rootfs/`: `mmdebstrap` of Debian bookworm (minbase) from this machine's apt sources, with
  `GUEST_PACKAGES`: nginx-light, apache2-utils, linux-perf, python3 (with numpy and pandas, which
  the capture code imports), and `linux-image-cloud-amd64`, Debian's 6.1 kernel (CFS; EEVDF came
  with 6.6), installed into the guest tree only: its `/boot` gives the kernel and initrd that
  qemu boots, and nothing is installed on the host;
* `rootfs.img`: that tree as ext4 (`mke2fs -d`, no mount), booted through a throwaway overlay
  (qemu `snapshot=on`), so every capture starts from the same image;
* `image.json`: the kernel release and the guest's package versions.

A capture writes a job disk (ext4 from `mke2fs -d`: this repository's `benchmark/` package,
`scenarios.toml`, `job.json`), boots `qemu-system-x86_64 -accel tcg -smp 1` (TCG: no hardware
virtualisation here) with the kernel, the image and the job disk; the guest's init
(`GUEST_INIT`) runs `benchmark.data.capture.guest`, which records exactly as the host capture
does, and powers off. The host reads the guest's `out/` back with `debugfs -R rdump` (no mount),
compresses and summarizes it (`write_capture`) and adds the VM's facts to `capture.json`.
qemu runs in its own session; it is killed by PID at the time limit, on an interrupt or any
error, and a guest that does not power off in time is an error naming the last line its
console printed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmark.core.atomic import write_json
from benchmark.core.paths import REPO_ROOT
from benchmark.data.capture.driver import RAW_FILES, CaptureResult, write_capture
from benchmark.data.capture.errors import CaptureError
from benchmark.data.capture.guest import (
    ERROR_FILE,
    GUEST_AB_SLACK_S,
    GUEST_FACTS,
    ICOUNT_AB_SLACK_S,
)
from benchmark.data.capture.processes import ProcessGroup
from benchmark.data.capture.scenario import Scenario, scenarios_path
from benchmark.data.capture.workload import ab_argv, parse_ab_output, scenario_url, start_nginx
from benchmark.data.rawfiles import CAPTURE_JSON, PERF_SCRIPT_FILE, SCHED_MAP_FILE

VM_DIR = REPO_ROOT / "build" / "vm"
SUITE = "bookworm"
GUEST_PACKAGES = (
    "nginx-light", "apache2-utils", "linux-perf", "python3", "python3-numpy", "python3-pandas",
    "linux-image-cloud-amd64", "initramfs-tools", "procps", "iproute2", "util-linux",
)  # fmt: skip
HOST_TOOLS = {
    "qemu-system-x86_64": "apt-get install qemu-system-x86",
    "mmdebstrap": "apt-get install mmdebstrap",
    "mke2fs": "apt-get install e2fsprogs",
    "debugfs": "apt-get install e2fsprogs",
}
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
MEMORY_MB = 2048
JOB_DISK = "4G"  # sparse; holds perf.data and its texts
BOOT_TIMEOUT_S = 240.0  # boot + nginx start under TCG, on top of the scenario's own seconds
GUEST_INIT = """#!/bin/sh
# kernel-oracle guest init (benchmark/data/capture/vm.py): mount, run the job, power off
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
echo 1 > /proc/sys/kernel/sched_autogroup_enabled
ip link set lo up
mkdir -p /job && mount /dev/vdb /job
echo "kernel-oracle: job start $(date +%s)"
cd /job/code && python3 -m benchmark.data.capture.guest /job > /job/out.log 2>&1
echo "kernel-oracle: job exit $?"
tail -n 5 /job/out.log
sync
umount /job
echo "kernel-oracle: power off"
poweroff -f
"""


def missing_tools() -> list[str]:
    """One line per host tool a VM capture needs and this machine lacks, with its package."""
    return [f"a VM capture needs `{t}`: {how}" for t, how in HOST_TOOLS.items()
            if shutil.which(t) is None]  # fmt: skip


def _run(argv: list[str], what: str, timeout: float, **kwargs: Any) -> str:
    """Run a build step; a failure is a CaptureError naming the step and its last output."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        raise CaptureError(f"{what}: no result within {timeout:g} s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise CaptureError(f"{what} failed ({done.returncode}): {' / '.join(tail)}")
    return done.stdout


def _sources() -> Path:
    for path in APT_SOURCES:
        if path.is_file() and path.stat().st_size:
            return path
    raise CaptureError("no apt sources on this machine (/etc/apt/sources.list*) for mmdebstrap")


def image_paths(root: Path = VM_DIR) -> dict[str, Path]:
    return {
        "rootfs": root / "rootfs",
        "image": root / "rootfs.img",
        "kernel": root / "vmlinuz",
        "initrd": root / "initrd.img",
        "facts": root / "image.json",
    }


def build_image(root: Path = VM_DIR, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build (or rebuild) the guest image in `root`; returns its facts (`image.json`)."""
    problems = missing_tools()
    if problems:
        raise CaptureError("; ".join(problems))
    if os.geteuid() != 0:
        raise CaptureError("building the VM image needs root (mmdebstrap --mode=root)")
    paths = image_paths(root)
    shutil.rmtree(paths["rootfs"], ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    log(f"mmdebstrap {SUITE} into {paths['rootfs']} (a few minutes)")
    _run(["mmdebstrap", "--variant=minbase", "--mode=root", f"--include={','.join(GUEST_PACKAGES)}",
          SUITE, str(paths["rootfs"]), str(_sources())], "mmdebstrap", 1800)  # fmt: skip
    return finish_image(root, log)


def finish_image(root: Path = VM_DIR, log: Callable[[str], None] = print) -> dict[str, Any]:
    """From a bootstrapped `rootfs/`: the kernel and initrd out of its /boot, the init, the
    ext4 image and `image.json`."""
    paths = image_paths(root)
    boot = paths["rootfs"] / "boot"
    kernels = sorted(boot.glob("vmlinuz-*"))
    if not kernels:
        raise CaptureError(f"mmdebstrap left no kernel in {boot}")
    release = kernels[-1].name.removeprefix("vmlinuz-")
    shutil.copyfile(kernels[-1], paths["kernel"])
    shutil.copyfile(boot / f"initrd.img-{release}", paths["initrd"])
    init = paths["rootfs"] / "ko-init"
    init.write_text(GUEST_INIT)
    init.chmod(0o755)
    versions = _run(["chroot", str(paths["rootfs"]), "dpkg-query", "-W", "-f",
                     "${Package} ${Version}\\n", *GUEST_PACKAGES], "dpkg-query", 60)  # fmt: skip
    paths["image"].unlink(missing_ok=True)
    log(f"mke2fs -d {paths['rootfs']} -> {paths['image']}")
    _run(["mke2fs", "-q", "-t", "ext4", "-L", "ko-root", "-d", str(paths["rootfs"]),
          str(paths["image"]), "3G"], "mke2fs (root image)", 600)  # fmt: skip
    facts = {
        "suite": SUITE,
        "kernel_release": release,
        "packages": dict(line.split(" ", 1) for line in versions.splitlines() if " " in line),
        "built_at_unix": int(time.time()),
    }
    write_json(paths["facts"], facts)
    return facts


def ensure_image(root: Path = VM_DIR, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The image's facts, building it first when any of its files is missing."""
    paths = image_paths(root)
    if all(paths[k].is_file() for k in ("image", "kernel", "initrd", "facts")):
        return json.loads(paths["facts"].read_text())
    return build_image(root, log)


def qemu_version() -> str:
    first = _run(["qemu-system-x86_64", "--version"], "qemu --version", 30).splitlines()
    return first[0].strip() if first else "unknown"


def qemu_argv(paths: dict[str, Path], job_image: Path, console: Path, icount: bool) -> list[str]:
    """One vCPU under TCG, the kernel and initrd of the image, root from the image through a
    throwaway overlay, the job disk second, the console into a file."""
    argv = [
        "qemu-system-x86_64", "-accel", "tcg", "-smp", "1", "-m", str(MEMORY_MB),
        "-display", "none", "-monitor", "none", "-no-reboot", "-serial", f"file:{console}",
        "-kernel", str(paths["kernel"]), "-initrd", str(paths["initrd"]),
        "-append", "root=/dev/vda rw console=ttyS0 init=/ko-init panic=-1 loglevel=4",
        "-drive", f"file={paths['image']},if=virtio,format=raw,snapshot=on",
        "-drive", f"file={job_image},if=virtio,format=raw",
    ]  # fmt: skip
    if icount:  # instruction-counted virtual time: guest time follows instructions executed
        argv += ["-icount", "shift=auto"]
    return argv


def _job_disk(scenario: Scenario, work: Path, max_busy: float, ab_slack_s: float) -> Path:
    """The job disk: the repository's capture code, the scenario file and job.json."""
    job = work / "job"
    shutil.copytree(REPO_ROOT / "benchmark", job / "code" / "benchmark",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    shutil.copyfile(scenarios_path(), job / "scenarios.toml")
    job_json = {"scenario": scenario.name, "seconds": scenario.seconds, "max_busy": max_busy,
                "ab_slack_s": ab_slack_s}  # fmt: skip
    (job / "job.json").write_text(json.dumps(job_json))
    (job / "out").mkdir()
    image = work / "job.img"
    _run(["mke2fs", "-q", "-t", "ext4", "-L", "ko-job", "-d", str(job), str(image), JOB_DISK],
         "mke2fs (job disk)", 300)  # fmt: skip
    return image


def _last_line(console: Path) -> str:
    try:
        lines = [x for x in console.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return "(no console output)"
    return lines[-1].strip()[:200] if lines else "(no console output)"


def boot(argv: list[str], console: Path, timeout_s: float, log: Callable[[str], None]) -> float:
    """Run the guest to its power-off; returns its seconds. Killed by PID at `timeout_s`, on an
    interrupt or any error (qemu and everything it started are in one session)."""
    log(f"booting the guest: {' '.join(argv)}")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except BaseException as error:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if isinstance(error, subprocess.TimeoutExpired):
            raise CaptureError(
                f"the guest did not power off within {timeout_s:g} s (killed qemu, pid "
                f"{proc.pid}); its console's last line: {_last_line(console)}"
            ) from error
        raise
    if proc.returncode != 0:
        text = " / ".join(out.decode(errors="replace").strip().splitlines()[-2:])
        raise CaptureError(f"qemu exited {proc.returncode}: {text or _last_line(console)}")
    return time.monotonic() - t0


HOST_AB_SECONDS = 3


def host_ab_rate(scenario: Scenario, log: Callable[[str], None]) -> float | None:
    """ab's requests/s for the same nginx + ab load on the host, on one CPU, for
    `HOST_AB_SECONDS`: the yardstick of the guest's emulation slowdown."""
    cpu = min(os.sched_getaffinity(0))
    on_host = replace(scenario, cpu=cpu, background=(), extra_clients=())
    tmp = Path(tempfile.mkdtemp(prefix="kernel-oracle-host-ab-"))
    try:
        with ProcessGroup(log) as group:
            port, _, _ = start_nginx(on_host, tmp, group, log)
            argv = ab_argv(on_host, cpu, scenario_url(on_host, port), HOST_AB_SECONDS)
            done = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=HOST_AB_SECONDS + 60)  # fmt: skip
        return parse_ab_output(done.stdout).get("requests_per_second")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def capture_vm(
    scenario: Scenario,
    out: Path,
    *,
    log: Callable[[str], None] = print,
    icount: bool | None = None,
    timeout_s: float | None = None,
    image_root: Path = VM_DIR,
) -> CaptureResult:
    """Record `scenario` inside the guest and write its files into `out` (as `capture`);
    `icount` None: the scenario's `icount` key."""
    icount = scenario.icount if icount is None else icount
    problems = missing_tools()
    if problems:
        raise CaptureError("; ".join(problems))
    facts = ensure_image(image_root, log)
    paths = image_paths(image_root)
    host_rate = host_ab_rate(scenario, log) if shutil.which("nginx") else None
    work = Path(tempfile.mkdtemp(prefix="kernel-oracle-vm-"))
    try:
        slack = ICOUNT_AB_SLACK_S if icount else GUEST_AB_SLACK_S
        job_image = _job_disk(scenario, work, max_busy=1.0, ab_slack_s=slack)
        console = work / "console.log"
        recorded = scenario.warmup_seconds + scenario.seconds
        limit = timeout_s or BOOT_TIMEOUT_S + 4 * recorded + slack
        seconds = boot(qemu_argv(paths, job_image, console, icount), console, limit, log)
        got = work / "got"
        got.mkdir()
        _run(["debugfs", "-R", f"rdump /out {got}", str(job_image)], "debugfs rdump", 300)
        result = got / "out"
        error = result / ERROR_FILE
        if error.is_file():
            raise CaptureError(f"the capture inside the guest failed: {error.read_text().strip()}")
        missing = [n for n in RAW_FILES if not (result / n).is_file()]
        if missing:
            raise CaptureError(
                f"the guest left no {', '.join(missing)}; its console's last line: "
                f"{_last_line(console)}"
            )
        meta = json.loads((result / RAW_FILES[2]).read_text())
        guest_rate = (meta.get("ab") or {}).get("requests_per_second")
        meta["vm"] = {
            "host_ab_requests_per_second": host_rate,
            "slowdown": round(host_rate / guest_rate, 1) if host_rate and guest_rate else None,
            "qemu": qemu_version(),
            "accelerator": "tcg",
            "icount": "shift=auto" if icount else None,
            "vcpus": 1,
            "memory_mb": MEMORY_MB,
            "guest": json.loads((result / GUEST_FACTS).read_text()),
            "image": facts,
            "guest_seconds": round(seconds, 1),
            "console_tail": console.read_text(errors="replace").splitlines()[-8:],
        }
        out.mkdir(parents=True, exist_ok=True)
        meta = write_capture(out, meta, result / RAW_FILES[0], result / RAW_FILES[1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    targets = [out / PERF_SCRIPT_FILE, out / SCHED_MAP_FILE, out / CAPTURE_JSON]
    return CaptureResult(out=out, files=targets, meta=meta)
