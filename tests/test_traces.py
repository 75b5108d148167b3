"""Parser tests on hand-made lines: every variant of both formats, and bad input."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import pytest

from benchmark.data.traces import TraceFormatError, compare_formats, detect_format, parse_trace

# --------------------------------------------------------------------------- perf script lines


def sw(
    t: str, prev: tuple[str, int, str], nxt: tuple[str, int], cpu: int = 1, prio: int = 120
) -> str:
    """One perf script sched_switch line in the `-F comm,tid,cpu,time,event,trace` layout."""
    pc, pp, ps = prev
    nc, np_ = nxt
    return (
        f"{pc:>16} {pp:>5} [{cpu:03d}] {t:>18}: sched:sched_switch: prev_comm={pc} prev_pid={pp} "
        f"prev_prio=120 prev_state={ps} ==> next_comm={nc} next_pid={np_} next_prio={prio}"
    )


def wakeup(t: str, comm: str, pid: int, cpu: int = 1) -> str:
    return (
        f"{'ab':>16} {4910:>5} [{cpu:03d}] {t:>18}: sched:sched_wakeup: comm={comm} pid={pid} "
        f"prio=120 target_cpu={cpu:03d}"
    )


SCRIPT = [
    sw("100.000000100", ("perf", 9, "D"), ("swapper/1", 0)),
    wakeup("100.000001000", "nginx", 20),
    sw("100.000002000", ("swapper/1", 0, "R"), ("nginx", 20)),
    sw("100.000005500", ("nginx", 20, "S"), ("Web Content", 31)),
    sw("100.000009000", ("Web Content", 31, "R+"), ("kworker/1:1H", 44), prio=100),
    sw("100.000010000", ("kworker/1:1H", 44, "I"), ("nginx", 20)),
]


def write(
    tmp_path: Path, name: str, lines: list[str], *, newline: str = "\n", end: bool = True
) -> Path:
    path = tmp_path / name
    text = newline.join(lines) + (newline if end else "")
    path.write_bytes(text.encode())
    return path


def test_perf_script_run_table(tmp_path: Path) -> None:
    parsed = parse_trace(write(tmp_path, "s.txt", SCRIPT))
    assert parsed.format == "perf-script"
    assert parsed.cpu == 1 and parsed.cpus == [1]
    assert parsed.time_resolution_ns == 1
    runs = parsed.runs
    assert list(runs.columns) == ["t_ns", "task", "comm", "pid", "prio", "delta_us", "end_state"]
    assert list(runs["task"]) == ["<idle>", "nginx:20", "Web Content:31", "kworker/1:1H:44"]
    assert list(runs["comm"]) == ["<idle>", "nginx", "Web Content", "kworker/1:1H"]
    assert list(runs["pid"]) == [0, 20, 31, 44]
    assert list(runs["prio"]) == [120, 120, 120, 100]
    assert list(runs["t_ns"]) == [
        100_000_000_100,
        100_000_002_000,
        100_000_005_500,
        100_000_009_000,
    ]
    assert list(runs["delta_us"]) == pytest.approx([1.9, 3.5, 3.5, 1.0])
    assert list(runs["end_state"]) == ["R", "S", "R+", "I"]
    assert str(runs["t_ns"].dtype) == "int64" and str(runs["pid"].dtype) == "int32"
    assert str(runs["prio"].dtype) == "int16" and str(runs["delta_us"].dtype) == "float64"
    assert parsed.damage.total == 0
    assert parsed.damage.count("other_events") == 1


def test_perf_script_without_ns(tmp_path: Path) -> None:
    lines = [
        sw("100.000001", ("perf", 9, "D"), ("swapper/1", 0)),
        sw("100.000002", ("swapper/1", 0, "R"), ("nginx", 20)),
        sw("100.000007", ("nginx", 20, "S"), ("ab", 21)),
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.time_resolution_ns == 1000
    assert list(parsed.runs["t_ns"]) == [100_000_001_000, 100_000_002_000]
    assert list(parsed.runs["delta_us"]) == [1.0, 5.0]


def test_perf_script_comm_with_spaces_and_equals(tmp_path: Path) -> None:
    lines = [
        sw("5.000000000", ("a", 1, "S"), ("Web Content", 2)),
        sw("5.000001000", ("Web Content", 2, "S"), ("x prev_pid y", 3)),
        sw("5.000002000", ("x prev_pid y", 3, "S"), ("a", 1)),
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert list(parsed.runs["task"]) == ["Web Content:2", "x prev_pid y:3"]
    assert parsed.damage.total == 0


def test_perf_script_default_layout_and_trace_cmd_lead(tmp_path: Path) -> None:
    """The default `perf script` lead (pid/tid) and a trace-cmd lead also parse."""
    trace = "prev_comm=a prev_pid=1 prev_prio=120 prev_state=S ==> "
    trace += "next_comm=b next_pid=2 next_prio=120"
    back = "prev_comm=b prev_pid=2 prev_prio=120 prev_state=S ==> "
    back += "next_comm=a next_pid=1 next_prio=120"
    lines = [
        f"               a  1/1     [000]  10.000001: sched:sched_switch: {trace}",
        f"          b-2     [000] d..2.  10.000003: sched_switch: {back}",
        f"               a  1/1     [000]  10.000004: sched:sched_switch: {trace}",
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert list(parsed.runs["task"]) == ["b:2", "a:1"]
    assert parsed.cpu == 0


def test_multi_cpu_perf_script_needs_cpu(tmp_path: Path) -> None:
    lines = [
        sw("1.000001", ("a", 1, "S"), ("b", 2), cpu=0),
        sw("1.000002", ("c", 3, "S"), ("d", 4), cpu=1),
        sw("1.000003", ("b", 2, "S"), ("a", 1), cpu=0),
        sw("1.000004", ("d", 4, "S"), ("c", 3), cpu=1),
        sw("1.000005", ("c", 3, "S"), ("d", 4), cpu=1),
    ]
    path = write(tmp_path, "s.txt", lines)
    with pytest.raises(TraceFormatError, match=r"CPUs 0, 1; choose one with --cpu"):
        parse_trace(path)
    one = parse_trace(path, cpu=1)
    assert list(one.runs["pid"]) == [4, 3]
    assert one.damage.count("other_cpu") == 2
    with pytest.raises(TraceFormatError, match="no switches on CPU 5"):
        parse_trace(path, cpu=5)


def test_lost_event_is_counted_with_its_line(tmp_path: Path) -> None:
    lines = [
        sw("1.000001", ("a", 1, "S"), ("b", 2)),
        sw("1.000002", ("b", 2, "S"), ("c", 3)),
        # c's switch-out to d was lost: d now switches out although c was running
        sw("1.000009", ("d", 4, "S"), ("a", 1)),
        sw("1.000010", ("a", 1, "S"), ("b", 2)),
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.damage.count("lost") == 1
    assert parsed.damage.lines["lost"] == [3]
    assert "1 lost (line 3)" in parsed.damage.summary()
    assert list(parsed.runs["pid"]) == [2, 3, 1]  # the switch itself is kept


def test_lost_record_line_is_counted(tmp_path: Path) -> None:
    lines = [
        sw("1.000001", ("a", 1, "S"), ("b", 2)),
        "            perf  1234 [001]     1.000002: LOST 17 events!",
        sw("1.000003", ("b", 2, "S"), ("a", 1)),
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.damage.count("lost") == 17
    assert parsed.damage.lines["lost"] == [2]


def test_backwards_timestamp_is_dropped_and_counted(tmp_path: Path) -> None:
    lines = [
        sw("1.000005", ("a", 1, "S"), ("b", 2)),
        sw("1.000003", ("b", 2, "S"), ("c", 3)),
        sw("1.000007", ("b", 2, "S"), ("a", 1)),
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.damage.count("backwards") == 1 and parsed.damage.lines["backwards"] == [2]
    assert list(parsed.runs["pid"]) == [2]
    assert (parsed.runs["delta_us"] >= 0).all()


def test_truncated_last_line(tmp_path: Path) -> None:
    cut = SCRIPT[-1][: SCRIPT[-1].index("next_pid")]
    parsed = parse_trace(write(tmp_path, "s.txt", [*SCRIPT[:-1], cut], end=False))
    assert parsed.damage.count("truncated") == 1
    assert parsed.damage.lines["truncated"] == [len(SCRIPT)]
    assert len(parsed.runs) == 3
    # cut inside the lead, before the event name: still a truncated (not an unknown) line
    cut_lead = [*SCRIPT, "           nginx    20 [0"]
    parsed = parse_trace(write(tmp_path, "t.txt", cut_lead, end=False))
    assert parsed.damage.count("truncated") == 1 and parsed.damage.count("unknown") == 0


def test_unknown_lines_and_comments(tmp_path: Path) -> None:
    lines = ["# captured on: box", "# ========", SCRIPT[0], "hello world", *SCRIPT[1:]]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.damage.count("unknown") == 1 and parsed.damage.lines["unknown"] == [4]
    assert parsed.damage.count("comments") == 2
    assert len(parsed.runs) == 4


def test_crlf_file_parses_the_same(tmp_path: Path) -> None:
    lf = parse_trace(write(tmp_path, "lf.txt", SCRIPT))
    crlf = parse_trace(write(tmp_path, "crlf.txt", SCRIPT, newline="\r\n"))
    assert crlf.runs.equals(lf.runs)
    assert crlf.damage.total == 0
    assert list(crlf.runs["end_state"]) == ["R", "S", "R+", "I"]


def test_compressed_files_parse(tmp_path: Path) -> None:
    text = ("\n".join(SCRIPT) + "\n").encode()
    (tmp_path / "s.xz").write_bytes(lzma.compress(text))
    (tmp_path / "s.gz").write_bytes(gzip.compress(text))
    plain = parse_trace(write(tmp_path, "s.txt", SCRIPT)).runs
    assert parse_trace(tmp_path / "s.xz").runs.equals(plain)
    assert parse_trace(tmp_path / "s.gz").runs.equals(plain)


# --------------------------------------------------------------------------- bad files


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("")
    with pytest.raises(TraceFormatError, match=r"empty\.txt: the file is empty"):
        parse_trace(path)
    path.write_text("\n\n  \n")
    with pytest.raises(TraceFormatError, match=r"the file is blank \(only white space\)"):
        parse_trace(path)


def test_binary_junk_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(TraceFormatError, match=r"junk\.bin: binary data"):
        parse_trace(path)


def test_text_that_is_not_a_trace_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", ["hello", "this is not a trace", "1.5 apples"])
    with pytest.raises(TraceFormatError, match=r"notes\.txt: not a trace"):
        detect_format(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="no such file"):
        parse_trace(tmp_path / "nope.txt")


def test_wakeups_only_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "w.txt", [wakeup("1.000001", "a", 1), wakeup("1.000002", "b", 2)])
    with pytest.raises(TraceFormatError, match=r"w\.txt: no sched_switch events"):
        parse_trace(path)


def test_single_switch_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "one.txt", SCRIPT[:1])
    with pytest.raises(TraceFormatError, match=r"one\.txt: only 1 switch"):
        parse_trace(path)


# --------------------------------------------------------------------------- perf sched map


MAP_ONE_CPU = [
    "      *.      100.000000 secs .  => swapper:0",
    "      *A0     100.000002 secs A0 => nginx:20",
    "      *B0     100.000005 secs B0 => memfd:sealed-91:2316",
    "      *C0     100.000009 secs C0 => kworker/0:1H-ev:44",
    "      *A0     100.000010 secs ",
    "      *D0     100.000012 secs D0 => :17023:17023",
    "      *.      100.000020 secs ",
]


def test_map_one_cpu_column(tmp_path: Path) -> None:
    parsed = parse_trace(write(tmp_path, "m.txt", MAP_ONE_CPU))
    assert parsed.format == "sched-map" and parsed.cpu == 1
    runs = parsed.runs
    assert list(runs["task"]) == [
        "<idle>",
        "nginx:20",
        "memfd:sealed-91:2316",
        "kworker/0:1H-ev:44",
        "nginx:20",
        ":17023",
    ]
    assert list(runs["comm"]) == [
        "<idle>",
        "nginx",
        "memfd:sealed-91",
        "kworker/0:1H-ev",
        "nginx",
        "",
    ]
    assert list(runs["pid"]) == [0, 20, 2316, 44, 20, 17023]
    assert list(runs["delta_us"]) == [2.0, 3.0, 4.0, 1.0, 2.0, 8.0]
    assert runs["prio"].isna().all() and str(runs["prio"].dtype) == "Int16"
    assert runs["end_state"].isna().all()
    assert parsed.damage.total == 0
    assert parsed.damage.count("nameless") == 1


def test_map_comm_with_spaces(tmp_path: Path) -> None:
    lines = [
        "  *A0         5.000001 secs A0 => Web Content:31",
        "  *B0         5.000002 secs B0 => DOM Worker:32",
        "  *A0         5.000004 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", lines))
    assert list(parsed.runs["task"]) == ["Web Content:31", "DOM Worker:32"]
    assert parsed.cpu == 0


MAP_TWO_CPUS = [
    "  *A0         211.701403 secs A0 => migration/0:18",
    "  *.          211.701438 secs .  => swapper:0",
    "   .  *.      211.701649 secs ",
    "  *B0  .      211.701656 secs B0 => perf-exec:3257",
    "   B0 *C0     211.701700 secs C0 => ab:4910",
    "  *.   C0     211.701882 secs ",
    "   .  *B0     211.703558 secs ",
    "   .  *.      211.704925 secs ",
]


def test_map_many_columns_choose_cpu(tmp_path: Path) -> None:
    path = write(tmp_path, "m.txt", MAP_TWO_CPUS)
    with pytest.raises(TraceFormatError, match="choose one with --cpu"):
        parse_trace(path)
    cpu1 = parse_trace(path, cpu=1)
    assert list(cpu1.runs["task"]) == ["<idle>", "ab:4910", "perf-exec:3257"]
    assert list(cpu1.runs["t_ns"]) == [211_701_649_000, 211_701_700_000, 211_703_558_000]
    cpu0 = parse_trace(path, cpu=0)
    assert list(cpu0.runs["task"]) == ["migration/0:18", "<idle>", "perf-exec:3257"]
    assert cpu0.damage.count("other_cpu") == 4


def test_map_short_names_remapped_at_every_arrow(tmp_path: Path) -> None:
    """perf reuses short names after Z9; the latest `=>` decides, and rows of a reused short
    name without `=>` are flagged as ambiguous."""
    lines = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "  *B0         1.000002 secs B0 => ab:21",
        "  *A0         1.000003 secs A0 => bash:99",
        "  *B0         1.000004 secs ",
        "  *A0         1.000005 secs ",
        "  *B0         1.000006 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", lines))
    assert list(parsed.runs["task"]) == ["nginx:20", "ab:21", "bash:99", "ab:21", "bash:99"]
    assert parsed.damage.count("ambiguous") == 1 and parsed.damage.lines["ambiguous"] == [5]


def test_map_verbose_rows_are_never_ambiguous(tmp_path: Path) -> None:
    lines = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "  *A0         1.000003 secs A0 => bash:99",
        "  *A0         1.000005 secs A0 => nginx:20",
        "  *A0         1.000006 secs A0 => bash:99",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", lines))
    assert list(parsed.runs["pid"]) == [20, 99, 20]
    assert parsed.damage.total == 0


def test_map_task_that_never_got_a_name(tmp_path: Path) -> None:
    """A short name no `=>` line named (a cut file) becomes <unknown> and is counted."""
    lines = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "  *Q7         1.000002 secs ",
        "  *A0         1.000004 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", lines))
    assert list(parsed.runs["task"]) == ["nginx:20", "<unknown>"]
    assert list(parsed.runs["pid"]) == [20, -1]
    assert parsed.damage.count("unnamed") == 1 and parsed.damage.lines["unnamed"] == [2]


def test_map_filtered_rows(tmp_path: Path) -> None:
    """`perf sched map --task-name` prints `-` for other tasks: kept as <filtered>, noted."""
    lines = [
        " .  *A0  .   .   131040.641346 secs A0 => wdavdaemon:62509",
        " .   A0 *B0  .   131040.641378 secs B0 => wdavdaemon:62274",
        " .  *-   B0  .   131040.641379 secs",
        " .  *A0  B0  .   131040.641572 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", lines), cpu=1)
    assert list(parsed.runs["task"]) == ["wdavdaemon:62509", "<filtered>"]
    assert parsed.damage.count("filtered") == 1 and parsed.damage.total == 0


def test_map_hidden_rows_truncated_and_crlf(tmp_path: Path) -> None:
    lines = [
        "      *A0     1.000001 secs A0 => nginx:20",
        "   .          ",  # a row of a CPU hidden with --cpus: no time
        "      *B0     1.000002 secs B0 => ab:21",
        "      *A0     1.000004 secs ",
        "      *B0     1.00",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", lines, newline="\r\n", end=False))
    assert parsed.damage.count("hidden_rows") == 1
    assert parsed.damage.count("truncated") == 1 and parsed.damage.lines["truncated"] == [5]
    assert list(parsed.runs["task"]) == ["nginx:20", "ab:21"]


def test_map_backwards(tmp_path: Path) -> None:
    lines = [
        "  *A0         1.000005 secs A0 => nginx:20",
        "  *B0         1.000002 secs B0 => ab:21",
        "  *A0         1.000009 secs ",
        "  *B0         1.000010 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", lines))
    assert parsed.damage.count("backwards") == 1
    assert list(parsed.runs["task"]) == ["nginx:20", "nginx:20"]


def test_format_agreement_check(tmp_path: Path) -> None:
    script = parse_trace(write(tmp_path, "s.txt", SCRIPT[:1] + SCRIPT[2:])).runs
    lines = [
        "      *.      100.000000 secs .  => swapper:0",
        "      *A0     100.000002 secs A0 => nginx:20",
        "      *B0     100.000005 secs B0 => Web Content:31",
        "      *C0     100.000009 secs C0 => kworker/1:1H-kb:44",
        "      *A0     100.000010 secs ",
    ]
    mapped = parse_trace(write(tmp_path, "m.txt", lines)).runs
    assert compare_formats(script, mapped) is None
    changed = [lines[0], lines[1], lines[2].replace(":31", ":32"), *lines[3:]]
    wrong = write(tmp_path, "w.txt", changed)
    problem = compare_formats(script, parse_trace(wrong).runs)
    assert problem is not None and "first at row 2" in problem
    assert "runs from perf script" in compare_formats(script, mapped.iloc[:-1])


def test_duplicate_switch_is_dropped_and_counted(tmp_path: Path) -> None:
    """perf sometimes records one switch twice (seen in the shipped keepalive trace)."""
    lines = [SCRIPT[0], SCRIPT[2], SCRIPT[2], *SCRIPT[3:]]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.damage.count("duplicate") == 1 and parsed.damage.lines["duplicate"] == [3]
    assert parsed.damage.count("lost") == 0
    assert (parsed.runs["delta_us"] > 0).all()
    rows = [MAP_ONE_CPU[0], MAP_ONE_CPU[1], MAP_ONE_CPU[1], *MAP_ONE_CPU[2:]]
    mapped = parse_trace(write(tmp_path, "m.txt", rows))
    assert mapped.damage.count("duplicate") == 1 and mapped.damage.lines["duplicate"] == [3]
    assert len(mapped.runs) == len(MAP_ONE_CPU) - 1


# --------------------------------------------------------------------------- hardening (issue 9)


def test_one_forward_jump_costs_one_row(tmp_path: Path) -> None:
    """A switch moved 6,000 s ahead is dropped as a `jump` (its line named); every other
    switch stays, where the old rule dropped all the switches after it as backwards."""
    times = [f"100.{k:06d}" for k in range(1, 41)]
    lines = [
        sw(t, ("a", 1, "S"), ("b", 2)) if k % 2 == 0 else sw(t, ("b", 2, "S"), ("a", 1))
        for k, t in enumerate(times)
    ]
    clean = parse_trace(write(tmp_path, "clean.txt", lines)).runs
    bad = list(lines)
    bad[10] = bad[10].replace("100.000011:", "6100.000011:")
    parsed = parse_trace(write(tmp_path, "jump.txt", bad))
    assert parsed.damage.count("jump") == 1 and parsed.damage.lines["jump"] == [11]
    assert parsed.damage.count("backwards") == 0
    assert len(parsed.runs) == len(clean) - 1 == 38
    assert list(parsed.runs["t_ns"]) == [t for i, t in enumerate(clean["t_ns"]) if i != 10]
    assert "1 jump (line 11)" in parsed.damage.summary()


def test_jump_in_the_map_is_dropped_too(tmp_path: Path) -> None:
    rows = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "  *B0         1.000002 secs B0 => ab:21",
        "  *A0      6001.000003 secs ",
        "  *B0         1.000004 secs ",
        "  *A0         1.000005 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", rows))
    assert parsed.damage.count("jump") == 1 and parsed.damage.lines["jump"] == [3]
    assert list(parsed.runs["t_ns"]) == [1_000_001_000, 1_000_002_000, 1_000_004_000]


@pytest.mark.parametrize("digits", [10_000, 20_000, 40_000])
def test_a_line_of_digits_is_unknown_damage(tmp_path: Path, digits: int) -> None:
    """The regexes are linear: a line of 40,000 digits (seconds each in the old patterns) is
    one `unknown` line; the switches around it parse."""
    lines = [*SCRIPT[:3], "7" * digits, *SCRIPT[3:]]
    parsed = parse_trace(write(tmp_path, "d.txt", lines))
    assert parsed.damage.count("unknown") == 1 and parsed.damage.lines["unknown"] == [4]
    assert len(parsed.runs) == 4


def test_a_10_mb_line_is_skipped_as_overlong(tmp_path: Path) -> None:
    lines = [*SCRIPT[:3], "1" * 10_000_000, *SCRIPT[3:]]
    parsed = parse_trace(write(tmp_path, "big.txt", lines))
    assert parsed.damage.count("overlong") == 1 and parsed.damage.lines["overlong"] == [4]
    assert list(parsed.runs["task"]) == ["<idle>", "nginx:20", "Web Content:31", "kworker/1:1H:44"]


def test_a_file_of_one_10_mb_digit_line_is_not_a_trace(tmp_path: Path) -> None:
    path = tmp_path / "digits.txt"
    path.write_bytes(b"9" * 10_000_000 + b"\n")
    with pytest.raises(TraceFormatError, match=r"digits\.txt: not a trace"):
        parse_trace(path)


def _long_script() -> bytes:
    """About 600 KiB of valid switch lines, so a cut lands after the first 64 KiB."""
    lines = []
    for k in range(4000):
        pair = (("a", 1, "S"), ("b", 2)) if k % 2 == 0 else (("b", 2, "S"), ("a", 1))
        lines.append(sw(f"{100 + k}.000001", *pair))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("kind", ["xz", "gz"])
def test_cut_compressed_file_names_the_file(tmp_path: Path, kind: str) -> None:
    text = _long_script()
    data = lzma.compress(text) if kind == "xz" else gzip.compress(text)
    whole = tmp_path / f"whole.{kind}"
    whole.write_bytes(data)
    assert len(parse_trace(whole).runs) == 3999
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(data[: len(data) // 2])
    compression = "xz" if kind == "xz" else "gzip"
    with pytest.raises(
        TraceFormatError,
        match=rf"cut\.{kind}: the {compression} data is cut or "
        r"corrupt after line [\d,]+",
    ):
        parse_trace(cut)
    head = tmp_path / f"head.{kind}"
    head.write_bytes(data[:40])
    with pytest.raises(
        TraceFormatError,
        match=rf"head\.{kind}: the {compression} data is cut "
        r"or corrupt at its start",
    ):
        parse_trace(head)


def test_empty_and_binary_differ_when_the_format_is_given(tmp_path: Path) -> None:
    """`prepare` passes the format; the old parser then told both "no sched_switch events"."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(TraceFormatError, match=r"empty\.txt: the file is empty"):
        parse_trace(empty, fmt="perf-script")
    binary = tmp_path / "perf.data"
    binary.write_bytes(bytes(range(1, 256)) * 64)  # no NUL byte, still binary
    with pytest.raises(TraceFormatError, match=r"perf\.data: binary data, not trace text"):
        parse_trace(binary, fmt="perf-script")
    xz_empty = tmp_path / "empty.xz"
    xz_empty.write_bytes(lzma.compress(b""))
    with pytest.raises(TraceFormatError, match=r"empty \(after xz decompression\)"):
        parse_trace(xz_empty, fmt="perf-script")
    mapped = write(tmp_path, "m.txt", MAP_ONE_CPU)
    with pytest.raises(TraceFormatError, match="holds `sched-map` text, expected `perf-script`"):
        parse_trace(mapped, fmt="perf-script")


def test_non_utf8_comm_is_a_damage_note_with_its_line(tmp_path: Path) -> None:
    lines = [line.encode() for line in SCRIPT]
    lines[3] = lines[3].replace(b"next_comm=Web Content", b"next_comm=Web\xffContent")
    lines[4] = lines[4].replace(b"prev_comm=Web Content", b"prev_comm=Web\xffContent")
    path = tmp_path / "u.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    parsed = parse_trace(path)
    assert parsed.damage.count("non_utf8") == 2 and parsed.damage.lines["non_utf8"] == [4, 5]
    assert list(parsed.runs["task"])[2] == "Web\\xffContent:31"  # the byte kept as an escape
    assert "2 non_utf8 (lines 4, 5)" in parsed.damage.summary()


def test_cr_only_line_ends_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "mac.txt", SCRIPT, newline="\r")
    with pytest.raises(TraceFormatError, match=r"mac\.txt: lines end in CR only"):
        parse_trace(path)


def test_map_name_followed_by_many_spaces(tmp_path: Path) -> None:
    lines = [
        "  *A0         1.000001 secs A0 => nginx:20" + " " * 20_000,
        "  *B0         1.000002 secs B0 => ab:21",
        "  *A0         1.000004 secs " + " " * 20_000,
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", lines))
    assert list(parsed.runs["task"]) == ["nginx:20", "ab:21"]
    assert parsed.damage.total == 0


def test_a_time_beyond_int64_nanoseconds_is_damage_not_a_crash(tmp_path: Path) -> None:
    """A switch at 99,999,999,999 s (its ns would overflow int64) is an unknown line, counted
    with its line number; the rest of the trace parses (was: an OverflowError traceback)."""
    huge = sw("99999999999.000001", ("nginx", 20, "S"), ("ab", 30))
    lines = [*SCRIPT[:3], huge, *SCRIPT[3:]]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.damage.lines["unknown"] == [4]
    assert int(parsed.runs["t_ns"].max()) < 2**63
