"""Capture: scenarios, commands, output parsing, process cleanup, and a real 2-second capture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.data import capture as cap
from benchmark.data.capture import machine, processes, workload
from benchmark.data.traces import compare_formats, parse_trace

FIXTURES = Path(__file__).parent / "fixtures" / "traces"

SHIPPED = ("single-worker", "multi-worker", "keepalive", "mixed")


def test_shipped_scenarios() -> None:
    scenarios = cap.load_scenarios()
    assert set(SHIPPED) <= set(scenarios)
    assert scenarios["single-worker"].nginx_workers == 1
    assert scenarios["single-worker"].ab_concurrency == 10
    assert scenarios["multi-worker"].nginx_workers == 4
    assert scenarios["multi-worker"].ab_concurrency == 64
    assert scenarios["keepalive"].keepalive and scenarios["keepalive"].ab_concurrency == 16
    mixed = scenarios["mixed"]
    assert mixed.nginx_workers == 4 and mixed.ab_concurrency == 32
    kinds = {b.kind: b for b in mixed.background}
    assert kinds["cpu-hog"].nice > 0
    assert kinds["timer"].period_ms == 2 and kinds["fsync"].period_ms == 50
    assert all(s.cpu == mixed.cpu for s in scenarios.values() if not s.vm)  # host CPU 1
    paper = scenarios["cfs-paper"]  # the CFS track: the guest's only CPU, the paper's ab -c 5
    assert paper.vm and paper.cpu == 0 and paper.ab_concurrency == 5 and paper.nginx_workers == 1
    assert paper.icount and scenarios["cfs-clients"].icount  # instruction-counted guest time


def test_icount_without_vm_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[scenarios.x]\nicount = true\n")
    with pytest.raises(cap.ScenarioError, match=r"scenario 'x': icount = true needs vm = true"):
        cap.load_scenarios(path)


def test_scenario_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[scenarios.x]\nnginx_workers = 1\ncolour = 'red'\n")
    with pytest.raises(cap.ScenarioError, match=r"unknown key\(s\) colour"):
        cap.load_scenarios(path)
    path.write_text("[scenarios.x]\nbackground = [{ kind = 'disco' }]\n")
    with pytest.raises(cap.ScenarioError, match="kind = one of"):
        cap.load_scenarios(path)
    path.write_text("[scenarios.x]\nseconds = 1\n")
    with pytest.raises(cap.ScenarioError, match="unknown scenario 'y'; known: x"):
        cap.load_scenario("y", path)
    path.write_text("not toml [")
    with pytest.raises(cap.ScenarioError, match="not valid TOML"):
        cap.load_scenarios(path)


def test_other_work_warning_names_the_emulation_inside_the_guest() -> None:
    """Over 10% of the CPU outside the scenario: on the host, capture again when it is quiet;
    inside the CFS guest, the guest's kernel threads under emulation (capturing again does not
    help); at 10% or less, no warning."""
    from benchmark.data.capture.driver import other_work_warning

    def meta(other: float, vm: bool) -> dict:
        out: dict = {"summary": {"cpu_time_share": {"scenario": 1 - other, "other": other}}}
        return {**out, "vm": {"qemu": "7.2"}} if vm else out

    host, guest = other_work_warning(meta(0.3, False)), other_work_warning(meta(0.3, True))
    assert host and "30%" in host and "quiet" in host and "emulation" not in host
    assert guest and "30%" in guest and "emulation" in guest and "quiet" not in guest
    assert other_work_warning(meta(0.1, False)) is None
    assert other_work_warning(meta(0.1, True)) is None
    # a trace that did not parse has no shares, and no warning about them
    assert other_work_warning({"summary": {"cpu_time_share": None}}) is None


def test_ab_gets_t_before_n() -> None:
    scenario = cap.Scenario(name="x", ab_concurrency=7, keepalive=True)
    argv = cap.ab_argv(scenario, 1, "http://127.0.0.1:8/b", 4.2)
    assert argv[:3] == ["taskset", "-c", "1"]
    assert argv.index("-t") < argv.index("-n")
    assert argv[argv.index("-t") + 1] == "5"
    assert argv[argv.index("-c", 3) + 1] == "7" and "-k" in argv


def test_nginx_config_and_background_commands(tmp_path: Path) -> None:
    conf = cap.nginx_config(tmp_path, 12345, 3)
    assert "listen 127.0.0.1:12345" in conf and "worker_processes 3;" in conf
    assert f"pid {tmp_path}/nginx.pid;" in conf and "daemon off;" in conf
    hog = cap.background_argv(cap.Background("cpu-hog", nice=19), 1, tmp_path, 0)
    assert hog[:6] == ["taskset", "-c", "1", "nice", "-n", "19"]
    timer = cap.background_argv(cap.Background("timer", period_ms=2), 1, tmp_path, 1)
    compile(timer[-1], "timer", "exec")
    fsync = cap.background_argv(cap.Background("fsync", period_ms=50), 1, tmp_path, 2)
    compile(fsync[-1], "fsync", "exec")
    assert str(tmp_path / "fsync-2.dat") in fsync[-1]


def test_tls_scenario_config_url_and_certificate(tmp_path: Path) -> None:
    """A `tls = true` scenario: nginx listens with ssl on the certificate openssl makes in the
    capture's folder, and ab asks for https; a plain scenario keeps http and no ssl lines."""
    conf = cap.nginx_config(tmp_path, 4443, 2, tls=True)
    assert "listen 127.0.0.1:4443 ssl backlog=4096;" in conf
    assert f"ssl_certificate {tmp_path}/tls.crt;" in conf
    assert f"ssl_certificate_key {tmp_path}/tls.key;" in conf
    plain_conf = cap.nginx_config(tmp_path, 80, 1)
    assert "ssl" not in plain_conf and "listen 127.0.0.1:80 backlog=4096;" in plain_conf
    assert workload.scenario_url(cap.Scenario(name="t", tls=True), 4443) == (
        "https://127.0.0.1:4443/body.bin"
    )
    assert workload.scenario_url(cap.Scenario(name="p"), 80) == "http://127.0.0.1:80/body.bin"
    argv = workload.tls_certificate_argv(tmp_path)
    assert argv[:3] == ["openssl", "req", "-x509"]
    assert str(tmp_path / "tls.key") in argv and str(tmp_path / "tls.crt") in argv


def test_tls_key_is_checked(tmp_path: Path) -> None:
    """`tls` must be a boolean, like keepalive; the shipped tls scenario sets it."""
    path = tmp_path / "s.toml"
    path.write_text("[scenarios.x]\ntls = 'yes'\n")
    with pytest.raises(cap.ScenarioError, match=r"tls = 'yes'; expected true or false"):
        cap.load_scenarios(path)
    assert cap.load_scenarios()["tls"].tls is True


def test_parse_ab_output_and_lost() -> None:
    text = (
        "Complete requests:      85366\nFailed requests:        0\n"
        "Requests per second:    17072.23 [#/sec] (mean)\nTime taken for tests:   5.000 seconds\n"
    )
    assert cap.parse_ab_output(text) == {
        "requests_per_second": 17072.23,
        "complete_requests": 85366,
        "failed_requests": 0,
        "time_taken_s": 5.0,
    }
    assert cap.parse_ab_output("")["requests_per_second"] is None
    assert cap.parse_lost("Processed 10 events and lost 3 chunks!\n  LOST events:  2 (1%)") == 5
    assert cap.parse_lost("[ perf record: Captured and wrote 1 MB ]") == 0


def test_missing_requirements_say_how_to_get_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine.shutil, "which", lambda tool: None)
    monkeypatch.setattr(machine.os, "geteuid", lambda: 1000)
    problems = cap.missing_requirements()
    assert any("root" in p for p in problems)
    assert any("nginx" in p and "apt-get install nginx-light" in p for p in problems)
    assert any("`ab`" in p and "apt-get install apache2-utils" in p for p in problems)
    assert any("`perf`" in p and "linux-perf" in p for p in problems)
    with pytest.raises(cap.CaptureError, match="apt-get install nginx-light") as caught:
        cap.capture(cap.Scenario(name="x"), Path("/nonexistent"))
    assert "\n" not in str(caught.value)  # one line, the problems joined


def test_wait_until_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([0.9, 0.5, 0.05])
    monkeypatch.setattr(machine, "cpu_busy", lambda cpu: next(readings))
    said: list[str] = []
    assert machine.wait_until_quiet(1, 0.1, 60, said.append) == 0.05
    assert len(said) == 2 and "90% busy" in said[0]
    monkeypatch.setattr(machine, "cpu_busy", lambda cpu: 0.8)
    with pytest.raises(cap.CaptureError, match=r"stayed 80% busy .*taskset -c 0"):
        machine.wait_until_quiet(1, 0.1, 0, said.append)


def test_process_group_stops_everything_on_error() -> None:
    """Processes started in a group are stopped by PID when the block fails (Ctrl-C too)."""
    group = cap.ProcessGroup()
    with pytest.raises(KeyboardInterrupt), group:
        group.start("sleeper", ["sleep", "60"])
        stubborn = group.start(
            "stubborn",
            [
                sys.executable,
                "-c",
                "import signal,time\nsignal.signal(signal.SIGTERM, "
                "signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)",
            ],
            stdout=subprocess.PIPE,
        )
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
        raise KeyboardInterrupt
    assert group.refs and not any(ref.running() for ref in group.refs)


def test_process_ref_ignores_reused_pids() -> None:
    ref = cap.ProcessRef(os.getpid(), -1, "me")  # same pid, other start time: not ours
    assert not ref.running()
    assert cap.ProcessRef(os.getpid(), processes.proc_start_time(os.getpid()), "me").running()


# --------------------------------------------------------------------------- a real capture


def test_capture_json_gets_its_summary(tmp_path: Path) -> None:
    """`write_capture` puts the summary into capture.json (it used to be added to the dict
    after the file was written). Expected numbers: counted from the fixture text here."""
    text = (FIXTURES / "single-worker-head.perf-script.txt").read_text()
    script, mapped = tmp_path / "s.txt", tmp_path / "m.txt"
    script.write_text(text)
    mapped.write_bytes((FIXTURES / "single-worker-head.sched-map.txt").read_bytes())
    switches = sum("sched_switch" in line for line in text.splitlines() if not line.startswith("#"))
    meta = {"cpu": 1, "processes": []}
    written = cap.write_capture(tmp_path / "out", meta, script, mapped)
    on_disk = json.loads((tmp_path / "out" / cap.CAPTURE_JSON).read_text())
    assert on_disk == written
    assert on_disk["summary"]["runs"] == switches - 1 == 399
    share = on_disk["summary"]["cpu_time_share"]
    assert share["scenario"] == share["recorder"] == 0.0  # no processes were named
    assert on_disk["files"]["perf-script.txt.xz"]["text_bytes"] == len(text.encode())
    again = parse_trace(tmp_path / "out" / cap.PERF_SCRIPT_FILE).runs
    assert again.equals(parse_trace(script).runs)


def test_summary_of_an_unusable_recording_says_why(tmp_path: Path) -> None:
    empty = tmp_path / "s.txt"
    empty.write_text("")
    summary = cap.summarize(empty, {"cpu": 1, "processes": []})
    assert summary["runs"] == 0 and "the file is empty" in summary["problem"]


def _capture_skip_reason(cpu: int) -> str | None:
    if os.geteuid() != 0:
        return "the real capture needs root (perf records kernel tracepoints); run as root"
    problem = cap.perf_can_record(cpu)
    if problem:
        return f"perf cannot record here: {problem}"
    return None


@pytest.mark.capture
def test_real_capture(tmp_path: Path) -> None:
    """2 s of a small scenario with every kind of background load: a non-empty table of the
    asked CPU only, both formats agree, and nothing the capture started is left running."""
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[-1]
    reason = _capture_skip_reason(cpu)
    if reason:
        pytest.skip(reason)
    scenario = cap.Scenario(
        name="test-tiny",
        nginx_workers=2,
        ab_concurrency=4,
        body_bytes=512,
        seconds=2,
        cpu=cpu,
        warmup_seconds=0.5,
        background=(
            cap.Background("cpu-hog", nice=19),
            cap.Background("timer", period_ms=2),
            cap.Background("fsync", period_ms=50),
        ),
    )
    result = cap.capture(scenario, tmp_path, log=lambda _: None, max_busy=1.0)
    assert result.processes, "the capture should report the processes it started"
    time.sleep(0.2)
    left = [ref for ref in result.processes if ref.running()]
    assert not left, f"still running after the capture: {left}"
    labels = {ref.label for ref in result.processes}
    assert {"nginx", "nginx worker", "ab", "perf record"} <= labels
    assert {"background cpu-hog", "background timer", "background fsync"} <= labels

    meta = json.loads((tmp_path / cap.CAPTURE_JSON).read_text())
    assert meta["cpu"] == cpu and meta["scenario"]["name"] == "test-tiny"
    assert meta["ab"]["complete_requests"] > 0 and meta["ab"]["requests_per_second"] > 0
    assert meta["machine"]["kernel"] == os.uname().release
    assert any("perf record" in c and f"-C {cpu} " in c for c in meta["commands"])
    assert any(c.startswith(f"taskset -c {cpu} nginx") for c in meta["commands"])
    assert isinstance(meta["lost_events"], int)
    parsed_runs = len(parse_trace(tmp_path / cap.PERF_SCRIPT_FILE).runs)
    assert meta["summary"]["runs"] == parsed_runs  # written into the file, not added after
    assert set(meta["summary"]["cpu_time_share"]) == {"scenario", "recorder", "idle", "other"}

    script = parse_trace(tmp_path / cap.PERF_SCRIPT_FILE)
    assert script.cpus == [cpu] and script.cpu == cpu  # pinned: only the asked CPU recorded
    assert len(script.runs) > 100
    comms = set(script.runs["comm"])
    assert {"nginx", "ab"} <= comms
    assert {"ko-cpu-hog", "ko-timer", "ko-fsync"} <= comms
    mapped = parse_trace(tmp_path / cap.SCHED_MAP_FILE, cpu=cpu)
    assert compare_formats(script.runs, mapped.runs) is None


@pytest.mark.capture
def test_real_tls_capture(tmp_path: Path) -> None:
    """1 s of a TLS scenario: openssl makes the certificate, nginx serves HTTPS, ab completes
    requests over it, and the trace holds nginx and ab runs."""
    cpu = sorted(os.sched_getaffinity(0))[-1]
    reason = _capture_skip_reason(cpu)
    if reason:
        pytest.skip(reason)
    scenario = cap.Scenario(
        name="test-tls", nginx_workers=1, ab_concurrency=2, tls=True, body_bytes=256,
        seconds=1, cpu=cpu, warmup_seconds=0.5,
    )  # fmt: skip
    result = cap.capture(scenario, tmp_path, log=lambda _: None, max_busy=1.0)
    meta = json.loads((tmp_path / cap.CAPTURE_JSON).read_text())
    assert meta["ab"]["complete_requests"] > 0 and meta["ab"]["failed_requests"] == 0
    assert " ssl backlog=" in meta["nginx_conf"]
    assert any(c.startswith("openssl req -x509") for c in meta["commands"])
    assert any("https://127.0.0.1:" in c for c in meta["commands"])
    assert not [ref for ref in result.processes if ref.running()]
    assert {"nginx", "ab"} <= set(parse_trace(tmp_path / cap.PERF_SCRIPT_FILE).runs["comm"])


def test_extra_clients_are_checked_and_get_their_own_ab(tmp_path: Path) -> None:
    """`extra_clients` entries need a concurrency, take keep-alive, and each becomes one more
    ab command with its own -c and -k; unknown keys are refused by name."""
    path = tmp_path / "s.toml"
    path.write_text(
        "[scenarios.x]\nab_concurrency = 8\n"
        "extra_clients = [{ concurrency = 1, keepalive = true }, { concurrency = 4 }]\n"
    )
    scenario = cap.load_scenarios(path)["x"]
    assert scenario.extra_clients == (cap.Client(1, True), cap.Client(4, False))
    first = cap.ab_argv(scenario, 1, "http://h/b", 3, scenario.extra_clients[0])
    assert first[first.index("-c", 3) + 1] == "1" and "-k" in first
    main = cap.ab_argv(scenario, 1, "http://h/b", 3)
    assert main[main.index("-c", 3) + 1] == "8" and "-k" not in main
    assert scenario.to_json()["extra_clients"] == [
        {"concurrency": 1, "keepalive": True}, {"concurrency": 4, "keepalive": False}
    ]  # fmt: skip
    path.write_text("[scenarios.x]\nextra_clients = [{ keepalive = true }]\n")
    with pytest.raises(cap.ScenarioError, match="needs concurrency = N"):
        cap.load_scenarios(path)
    path.write_text("[scenarios.x]\nextra_clients = [{ concurrency = 2, colour = 1 }]\n")
    with pytest.raises(cap.ScenarioError, match=r"extra_clients key\(s\) colour unknown"):
        cap.load_scenarios(path)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cpu_limit_writes_the_quota_and_removes_its_group(tmp_path: Path, version: str) -> None:
    """A 25% limit is a 2,500 µs quota per 10,000 µs period, in cpu.max (v2) or the two
    cfs files (v1); processes are moved by writing their PID; the group is gone afterwards."""
    from benchmark.data.capture.throttle import CpuLimit

    parent = tmp_path if version == "v2" else tmp_path / "cpu"
    parent.mkdir(exist_ok=True)
    (parent / ("cgroup.controllers" if version == "v2" else "cpu.cfs_quota_us")).write_text("")
    (parent / "cgroup.procs").write_text("")
    with CpuLimit(0.25, root=tmp_path) as limit:
        assert limit.path.parent == parent
        if version == "v2":
            assert (limit.path / "cpu.max").read_text() == "2500 10000\n"
        else:
            assert (limit.path / "cpu.cfs_quota_us").read_text() == "2500\n"
            assert (limit.path / "cpu.cfs_period_us").read_text() == "10000\n"
        limit.add(4242)
        assert (limit.path / "cgroup.procs").read_text() == "4242\n"
        assert limit.settings()["quota_us"] == 2500
        (limit.path / "cgroup.procs").write_text("")  # what the kernel shows once it has exited
        for name in list(limit.path.iterdir()):
            name.unlink()  # a real cgroup folder's files vanish with it; a plain one must be empty
    assert not limit.path.exists()


def test_cpu_limit_without_a_cpu_controller_is_one_line(tmp_path: Path) -> None:
    """No cgroup CPU controller: a CaptureError naming the folder and what is missing."""
    from benchmark.data.capture.throttle import CpuLimit

    with pytest.raises(cap.CaptureError, match="needs the cgroup CPU controller under"):
        CpuLimit(0.5, root=tmp_path)
