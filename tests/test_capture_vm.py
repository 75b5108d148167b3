"""The CFS track's capture (benchmark/data/capture/vm.py): a real 2-second recording inside the
one-vCPU qemu guest on Debian's 6.1 kernel where qemu, mmdebstrap and root are here (`.ci/run`
installs them and builds the image), and the pieces around it without a guest."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from benchmark.data.capture.errors import CaptureError
from benchmark.data.capture.scenario import load_scenario
from benchmark.data.capture.vm import (
    VM_DIR,
    boot,
    capture_vm,
    ensure_image,
    image_paths,
    missing_tools,
    qemu_argv,
)
from benchmark.data.capture.workload import AB_BYTES_PER_REQUEST, AB_REQUESTS, ab_requests


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the VM capture needs root (mmdebstrap --mode=root, perf in the guest)"
    problems = missing_tools()
    return "; ".join(problems) or None


@pytest.fixture(scope="module")
def image() -> Path:
    reason = _skip_reason()
    if reason:
        pytest.skip(f"no VM capture here: {reason}")
    ensure_image(VM_DIR, log=lambda _m: None)  # .ci/run builds it first; else it is built now
    return VM_DIR


def test_a_two_second_capture_in_the_guest_is_a_cfs_trace(image, tmp_path):
    # without -icount: its guest gives ab two more minutes (the test stays under 3 minutes)
    scenario = replace(load_scenario("cfs-paper"), seconds=2.0, icount=False)
    result = capture_vm(scenario, tmp_path / "cfs", log=lambda _m: None, image_root=image)
    meta = result.meta
    guest = meta["vm"]["guest"]
    assert guest["scheduler"] == "cfs" and guest["kernel"].startswith("6.1.")
    assert guest["cpu_count"] == 1 and meta["vm"]["vcpus"] == 1
    assert meta["vm"]["accelerator"] == "tcg" and meta["vm"]["qemu"].startswith("QEMU")
    assert guest["sched_tunables"]["min_granularity_ns"] > 0  # CFS's own knob
    assert meta["machine"]["kernel"] == guest["kernel"]  # machine facts come from the guest
    assert meta["ab"]["exit_code"] == 0 and meta["ab"]["complete_requests"] > 0
    assert meta["summary"]["runs"] > 100, meta["summary"]
    assert meta["lost_events"] == 0
    for path in result.files:
        assert path.is_file() and path.stat().st_size > 0


def test_a_guest_that_does_not_power_off_in_time_is_killed_with_its_last_line(image, tmp_path):
    paths = image_paths(image)
    console = tmp_path / "console.log"
    job = tmp_path / "empty.img"
    job.write_bytes(b"\0" * (1 << 20))
    with pytest.raises(CaptureError, match=r"did not power off within 3 s") as caught:
        boot(qemu_argv(paths, job, console, icount=False), console, 3.0, lambda _m: None)
    pid = int(re.search(r"pid (\d+)", str(caught.value)).group(1))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_guest_runs_one_vcpu_under_tcg_from_a_throwaway_overlay(tmp_path):
    paths = image_paths(tmp_path)
    argv = qemu_argv(paths, tmp_path / "job.img", tmp_path / "c.log", icount=True)
    joined = " ".join(argv)
    assert "-accel tcg" in joined and "-smp 1" in joined and "-icount shift=auto" in joined
    assert f"file={paths['image']},if=virtio,format=raw,snapshot=on" in argv
    assert "init=/ko-init" in argv[argv.index("-append") + 1]
    assert "-icount" not in qemu_argv(paths, tmp_path / "j", tmp_path / "c", icount=False)


def test_ab_requests_fit_a_quarter_of_the_available_memory(tmp_path):
    small = tmp_path / "meminfo"
    small.write_text("MemTotal: 2000000 kB\nMemAvailable:    1600000 kB\n")
    assert ab_requests(small) == 1600000 * 1024 // 4 // AB_BYTES_PER_REQUEST
    big = tmp_path / "big"
    big.write_text("MemAvailable: 99999999999 kB\n")
    assert ab_requests(big) == AB_REQUESTS
    assert ab_requests(tmp_path / "absent") == AB_REQUESTS


def test_missing_host_tools_are_named_with_their_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    problems = missing_tools()
    assert any("qemu-system-x86_64" in p and "apt-get install qemu-system-x86" in p
               for p in problems)  # fmt: skip


def test_the_scheduler_follows_the_kernel_release():
    from benchmark.data.capturemeta import scheduler_of

    assert scheduler_of("6.1.0-57-cloud-amd64") == "cfs"
    assert scheduler_of("4.15.0-20-generic") == "cfs"  # the paper's kernel
    assert scheduler_of("6.6.0") == scheduler_of("6.18.44-fc-v657") == "eevdf"
    assert scheduler_of("unknown") == scheduler_of(None) == "unknown"


def test_a_guest_captures_vm_facts_reach_the_manifest_facts():
    from benchmark.data.capturemeta import capture_facts

    guest = {"scheduler": "cfs", "sched_tunables": {"min_granularity_ns": 750000}}
    meta = {"vm": {"qemu": "QEMU emulator version 7.2", "accelerator": "tcg", "icount": None,
                   "vcpus": 1, "slowdown": 40.0, "guest": guest}}  # fmt: skip
    facts = capture_facts(meta)["vm"]
    assert facts["scheduler"] == "cfs" and facts["slowdown"] == 40.0
    assert facts["sched_tunables"] == {"min_granularity_ns": 750000}
    assert "vm" not in capture_facts({})  # a host capture's facts are as before


def test_the_shipped_cfs_traces_carry_their_guest_facts_into_manifest_and_datasheet():
    from benchmark.core.paths import data_dir
    from benchmark.data.manifest import load_manifest, trace_schedulers

    cfs = [t for t, s in trace_schedulers().items() if s == "cfs"]
    assert len(cfs) >= 2, "the CFS track ships two traces or more"
    manifest = load_manifest()["traces"]
    sheet = (data_dir() / "README.md").read_text()
    for trace in cfs:
        entry = manifest[trace]
        assert entry["runs"] >= 100_000 and entry["kernel"].startswith("6.1.")
        vm = entry["vm"]
        assert vm["scheduler"] == "cfs" and vm["vcpus"] == 1 and vm["accelerator"] == "tcg"
        assert vm["icount"] == "shift=auto" and vm["sched_tunables"]["min_granularity_ns"] > 0
    assert sheet.count("- scheduler: cfs (guest kernel), 1 vCPU under qemu tcg") == len(cfs)
