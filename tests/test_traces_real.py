"""Parser tests on short excerpts cut from the shipped raw files (tests/fixtures/traces/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.data.traces import compare_formats, parse_trace

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
PAIRS = ("single-worker-head", "mixed-middle", "keepalive-middle")


@pytest.mark.parametrize("tag", PAIRS)
def test_both_formats_of_one_recording_agree(tag: str) -> None:
    script = parse_trace(FIXTURES / f"{tag}.perf-script.txt")
    mapped = parse_trace(FIXTURES / f"{tag}.sched-map.txt")
    assert script.format == "perf-script" and mapped.format == "sched-map"
    assert script.cpu == mapped.cpu == 1
    assert script.switches == mapped.switches == 400
    assert compare_formats(script.runs, mapped.runs) is None
    # the same pids in the same order, the same times to the map's µs
    assert list(script.runs["pid"]) == list(mapped.runs["pid"])
    assert list(script.runs["t_ns"] // 1000) == list(mapped.runs["t_ns"] // 1000)
    assert script.damage.count("comments") == 1 and mapped.damage.count("comments") == 1
    assert mapped.damage.total == 0


def test_real_excerpt_run_table() -> None:
    parsed = parse_trace(FIXTURES / "single-worker-head.perf-script.txt")
    runs = parsed.runs
    assert len(runs) == 399
    assert parsed.time_resolution_ns == 1
    assert runs["t_ns"].is_monotonic_increasing
    assert (runs["delta_us"] > 0).all()
    assert {"ab", "nginx"} <= set(runs["comm"])
    nginx = runs[runs["comm"] == "nginx"]
    assert (nginx["task"] == nginx["comm"] + ":" + nginx["pid"].astype(str)).all()
    assert parsed.damage.count("other_events") > 0  # the sched_wakeup lines
    assert set(runs["end_state"]) <= {"R", "R+", "S", "D", "I", "Z", "X", "P", "T", "t", "D|K"}


def test_real_excerpt_with_background_loads() -> None:
    runs = parse_trace(FIXTURES / "mixed-middle.perf-script.txt").runs
    comms = set(runs["comm"])
    assert "nginx" in comms and "ab" in comms
    assert comms & {"ko-cpu-hog", "ko-timer", "ko-fsync"}
    hog = runs[runs["comm"] == "ko-cpu-hog"]
    assert hog.empty or (hog["prio"] == 139).all()  # nice 19


def test_real_lost_event() -> None:
    """The first lost event of the shipped single-worker trace: counted, on its own line."""
    path = FIXTURES / "single-worker-lost.perf-script.txt"
    parsed = parse_trace(path)
    assert parsed.damage.count("lost") == 1
    (line,) = parsed.damage.lines["lost"]
    text = path.read_text().split("\n")[line - 1]
    assert "sched_switch" in text
    assert f"lost (line {line})" in parsed.damage.summary()


def test_real_excerpt_without_its_header_is_still_detected(tmp_path: Path) -> None:
    for kind in ("perf-script", "sched-map"):
        text = (FIXTURES / f"mixed-middle.{kind}.txt").read_text().split("\n", 1)[1]
        (tmp_path / "x.txt").write_text(text)
        assert parse_trace(tmp_path / "x.txt").format == kind
