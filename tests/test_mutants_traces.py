"""Behaviours that mutation testing (issue 17) found unpinned in the trace parser.

Each test pins one thing a user or caller of benchmark/data/traces relies on: the damage counts
and their line numbers, format detection, the text/binary boundaries, the overlong-line limit,
out-of-order handling, the error messages (naming the file and the line) and the run table's
columns. Expected values are worked out by hand on tiny hand-written traces; the line helpers
and snippets are those of tests/test_traces.py.
"""

from __future__ import annotations

import gzip
import lzma
import zlib
from pathlib import Path

import pytest

from benchmark.data.traces import (
    TraceFormatError,
    compare_formats,
    detect_format,
    parse_trace,
    reading,
)
from benchmark.data.traces.damage import Damage
from benchmark.data.traces.order import out_of_order
from benchmark.data.traces.reading import MAX_LINE_BYTES, iter_lines, sniff
from benchmark.data.traces.runtable import COLUMNS, Switches, build_run_table, task_name
from benchmark.data.traces.sched_map import split_name
from tests.test_traces import MAP_ONE_CPU, MAP_TWO_CPUS, SCRIPT, _long_script, sw, wakeup, write


def nocpu(t: str, prev: tuple[str, int, str], nxt: tuple[str, int]) -> str:
    """A sched_switch line whose lead has no `[cpu]` field (`-F comm,tid,time,event,trace`)."""
    return sw(t, prev, nxt).replace(" [001]", "")


def message(excinfo: pytest.ExceptionInfo) -> str:
    return str(excinfo.value)


# -- parse_trace ------------------------------------------------------------------------------
def test_an_unknown_format_name_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "s.txt", SCRIPT)
    with pytest.raises(ValueError) as info:
        parse_trace(path, fmt="csv")
    assert message(info) == "unknown trace format 'csv'; known: perf-script, sched-map"


def test_too_few_switches_names_the_cpu_only_when_lines_carry_one(tmp_path: Path) -> None:
    one = write(tmp_path, "one.txt", SCRIPT[:1])
    with pytest.raises(TraceFormatError) as info:
        parse_trace(one)
    assert message(info) == (
        f"{one}: only 1 switch(es) on CPU 1; a trace needs at least 2 (no damage)"
    )
    bare = write(tmp_path, "bare.txt", [nocpu("1.000001", ("a", 1, "S"), ("b", 2))])
    with pytest.raises(TraceFormatError) as info:
        parse_trace(bare)
    assert message(info) == f"{bare}: only 1 switch(es); a trace needs at least 2 (no damage)"


def test_the_parsed_trace_keeps_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, "s.txt", SCRIPT)
    assert parse_trace(str(path)).path == path


def test_a_run_table_agrees_with_itself_at_ns_resolution(tmp_path: Path) -> None:
    """The µs comparison truncates both sides: 100,000,000,100 ns is 100,000,000 µs."""
    runs = parse_trace(write(tmp_path, "s.txt", SCRIPT)).runs
    assert runs["t_ns"].iat[0] == 100_000_000_100
    assert compare_formats(runs, runs) is None


# -- damage bookkeeping -----------------------------------------------------------------------
def test_an_unknown_damage_kind_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match="unknown damage kind 'bogus'"):
        Damage().add("bogus", 1)


def test_damage_keeps_the_first_20_line_numbers_and_never_none() -> None:
    damage = Damage()
    damage.add("other_events", None, 5)
    assert damage.count("other_events") == 5 and damage.lines["other_events"] == []
    for line in range(1, 26):
        damage.add("lost", line)
    assert damage.count("lost") == 25
    assert damage.lines["lost"] == list(range(1, 21))
    listed = ", ".join(str(n) for n in range(1, 21))
    assert damage.summary() == f"25 lost (lines {listed}, ...)"


def test_damage_summary_and_json() -> None:
    damage = Damage()
    assert damage.summary() == "no damage"
    assert damage.summary("t.txt") == "t.txt: no damage"
    damage.add("comments", 1)  # a note: not damage
    assert damage.summary() == "no damage"
    damage.add("lost", 7)
    damage.add("truncated", 9)
    damage.add("lost", 3, 17)  # a LOST record of 17 events on line 3
    assert damage.summary() == "1 truncated (line 9); 18 lost (lines 7, 3, ...)"
    assert damage.summary(Path("t.txt")) == "t.txt: 1 truncated (line 9); 18 lost (lines 7, 3, ...)"
    damage.lost_after.update({"b": 2, "a": 1})
    as_json = damage.to_json()
    assert as_json == {
        "damage": {
            "truncated": 1,
            "unknown": 0,
            "lost": 18,
            "backwards": 0,
            "duplicate": 0,
            "unnamed": 0,
            "ambiguous": 0,
            "jump": 0,
            "overlong": 0,
            "non_utf8": 0,
        },
        "notes": {
            "other_events": 0,
            "comments": 1,
            "other_cpu": 0,
            "hidden_rows": 0,
            "filtered": 0,
            "nameless": 0,
        },
        "lines": {"truncated": [9], "lost": [7, 3]},
        "lost_after": {"a": 1, "b": 2},
    }
    assert list(as_json["lost_after"]) == ["a", "b"]


# -- format detection -------------------------------------------------------------------------
def test_an_indented_comment_is_skipped_when_detecting(tmp_path: Path) -> None:
    """A `#` line, even indented, is never taken for an event line, even if it quotes one."""
    quoted = "   # nginx 20 [001] 1.000001: sched:sched_switch: prev_comm=a prev_pid=1"
    path = write(tmp_path, "m.txt", [quoted, *MAP_ONE_CPU])
    assert detect_format(path) == "sched-map"


def test_not_a_trace_names_the_file_and_quotes_80_characters_of_line_1(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", ["x" * 100, "1.5 apples"])
    with pytest.raises(TraceFormatError) as info:
        detect_format(path)
    assert message(info) == (
        f"{path}: not a trace: no `perf script` event line or `perf sched map` row in the first "
        f"2 lines (line 1: '{'x' * 80}'); expected the output of `perf script --ns -F "
        "comm,tid,cpu,time,event,trace` or `perf sched map` on a sched:sched_switch recording"
    )


def test_text_after_2000_blank_lines_is_not_looked_at(tmp_path: Path) -> None:
    path = tmp_path / "late.txt"
    path.write_text("\n" * 2000 + SCRIPT[0] + "\n")
    with pytest.raises(TraceFormatError, match=r"in the first 0 lines \(line 1: ''\);"):
        detect_format(path)


def test_switch_lines_without_their_fields_are_still_perf_script(tmp_path: Path) -> None:
    """`perf script` without `trace` in -F: no `=` anywhere, the event name decides."""
    lines = [
        "           nginx  4909 [001] 422.346112095: sched:sched_switch:",
        "              ab  4910 [001] 422.346115000: sched:sched_switch:",
    ]
    path = write(tmp_path, "s.txt", lines)
    assert detect_format(path) == "perf-script"
    with pytest.raises(TraceFormatError, match=r"s\.txt: no sched_switch events in the file"):
        parse_trace(path)


def test_other_events_with_fields_are_perf_script(tmp_path: Path) -> None:
    lines = ["            perf  1234 [001]     1.000002: irq:irq_handler_entry: irq=5 name=eth0"]
    assert detect_format(write(tmp_path, "s.txt", lines * 2)) == "perf-script"


# -- out-of-order switches --------------------------------------------------------------------
def test_out_of_order_names_exactly_the_dropped_switches() -> None:
    assert out_of_order([]) == {} and out_of_order([7]) == {}
    assert out_of_order([5, 3]) == {1: "backwards"}  # the earlier switch is kept
    assert out_of_order([1, 2, 3, 0]) == {3: "backwards"}
    assert out_of_order([1, 1, 0]) == {2: "backwards"}  # equal times are in order
    assert out_of_order([1, 9, 2, 3]) == {1: "jump"}


# -- perf script ------------------------------------------------------------------------------
def test_seven_fraction_digits_are_ns_resolution(tmp_path: Path) -> None:
    lines = [
        sw("10.0000010", ("a", 1, "S"), ("b", 2)),
        sw("10.0000020", ("b", 2, "S"), ("a", 1)),
        sw("10.0000030", ("a", 1, "S"), ("b", 2)),
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.time_resolution_ns == 1
    assert list(parsed.runs["t_ns"]) == [10_000_001_000, 10_000_002_000]


def test_lines_without_a_cpu_field_are_one_cpu(tmp_path: Path) -> None:
    """No `[cpu]` in the lead (a `[` in a comm is not one): cpu None, no CPUs listed."""
    lines = [
        nocpu("1.000001", ("ab[x]", 1, "S"), ("b", 2)),
        nocpu("1.000002", ("b", 2, "S"), ("ab[x]", 1)),
        nocpu("1.000004", ("ab[x]", 1, "S"), ("b", 2)),
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.cpu is None and parsed.cpus == []
    assert list(parsed.runs["task"]) == ["b:2", "ab[x]:1"]


def test_a_lead_that_starts_with_the_cpu_field(tmp_path: Path) -> None:
    """`-F cpu,time,event,trace`: the line starts with `[002]`."""
    trace = "prev_comm=a prev_pid=1 prev_prio=120 prev_state=S ==> "
    trace += "next_comm=b next_pid=2 next_prio=120"
    back = "prev_comm=b prev_pid=2 prev_prio=120 prev_state=S ==> "
    back += "next_comm=a next_pid=1 next_prio=120"
    lines = [
        f"[002]  10.000001: sched:sched_switch: {trace}",
        f"[002]  10.000003: sched:sched_switch: {back}",
        f"[002]  10.000004: sched:sched_switch: {trace}",
    ]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.cpu == 2 and parsed.cpus == [2]
    assert list(parsed.runs["task"]) == ["b:2", "a:1"]


def test_blank_lines_and_comments_are_read_past_with_their_lines(tmp_path: Path) -> None:
    lines = ["# captured on: box", "# ========", SCRIPT[0], "", *SCRIPT[1:]]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert len(parsed.runs) == 4
    assert parsed.damage.count("comments") == 2 and parsed.damage.lines["comments"] == [1, 2]


def test_other_events_are_counted_without_lines(tmp_path: Path) -> None:
    lines = [*SCRIPT, wakeup("100.000011000", "ab", 21)]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert parsed.damage.count("other_events") == 2
    assert parsed.damage.lines["other_events"] == []


def test_a_missing_cpu_lists_the_cpus_of_the_file(tmp_path: Path) -> None:
    lines = [
        sw("1.000001", ("a", 10, "S"), ("b", 11), cpu=0),
        sw("1.000002", ("c", 30, "S"), ("d", 40), cpu=1),
        sw("1.000003", ("b", 11, "S"), ("a", 10), cpu=0),
        sw("1.000004", ("d", 40, "S"), ("c", 30), cpu=1),
        sw("1.000005", ("c", 30, "S"), ("d", 40), cpu=1),
    ]
    path = write(tmp_path, "s.txt", lines)
    with pytest.raises(TraceFormatError) as info:
        parse_trace(path, cpu=5)
    assert message(info) == f"{path}: no switches on CPU 5; the file has CPUs 0, 1"
    cpu0 = parse_trace(path, cpu=0)
    # the other CPU's switches are counted once, at the first line of that CPU
    assert cpu0.damage.count("other_cpu") == 3 and cpu0.damage.lines["other_cpu"] == [2]


def test_a_duplicate_switch_costs_only_itself(tmp_path: Path) -> None:
    lines = [SCRIPT[0], SCRIPT[2], SCRIPT[2], *SCRIPT[3:]]
    parsed = parse_trace(write(tmp_path, "s.txt", lines))
    assert list(parsed.runs["task"]) == ["<idle>", "nginx:20", "Web Content:31", "kworker/1:1H:44"]


# -- reading: messages, text/binary boundaries, line limit ------------------------------------
@pytest.mark.parametrize("kind", ["xz", "gz"])
def test_a_cut_file_names_its_last_line_and_the_decoder_error(tmp_path: Path, kind: str) -> None:
    text = _long_script()
    data = lzma.compress(text) if kind == "xz" else gzip.compress(text)
    half = data[: len(data) // 2]
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(half)
    decoder = lzma.LZMADecompressor() if kind == "xz" else zlib.decompressobj(31)
    complete_lines = decoder.decompress(half).count(b"\n")  # what can be read before the cut
    assert complete_lines > 800
    name = "xz" if kind == "xz" else "gzip"
    ended = "Compressed file ended before the end-of-stream marker was reached"
    with pytest.raises(TraceFormatError) as info:
        parse_trace(cut)
    assert message(info) == (
        f"{cut}: the {name} data is cut or corrupt after line {complete_lines:,} ({ended}); "
        "copy the file again from where it was recorded"
    )
    head = tmp_path / f"head.{kind}"
    head.write_bytes(data[:40])
    with pytest.raises(TraceFormatError) as info:
        parse_trace(head)
    assert message(info) == (
        f"{head}: the {name} data is cut or corrupt at its start ({ended}); "
        "copy the file again from where it was recorded"
    )


def test_a_folder_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError) as info:
        parse_trace(tmp_path)
    assert message(info) == f"{tmp_path}: a folder, not a trace file"


@pytest.mark.parametrize(
    ("error", "shown"),
    [(PermissionError(13, "Permission denied"), "Permission denied"), (OSError("boom"), "boom")],
)
def test_an_unreadable_file_says_why(tmp_path, monkeypatch, error, shown) -> None:
    path = write(tmp_path, "s.txt", SCRIPT)

    def refuse(_path):
        raise error

    monkeypatch.setattr(reading, "_open_binary", refuse)
    with pytest.raises(TraceFormatError) as info:
        sniff(path)
    assert message(info) == f"{path}: cannot be read ({shown})"


def test_the_empty_file_message_names_both_formats(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(TraceFormatError) as info:
        parse_trace(path)
    assert message(info) == (
        f"{path}: the file is empty; expected `perf script` sched_switch text or "
        "`perf sched map` text"
    )


def test_one_nul_byte_makes_a_trace_binary(tmp_path: Path) -> None:
    path = tmp_path / "nul.txt"
    text = ("\n".join(SCRIPT) + "\n").encode()
    path.write_bytes(text[:100] + b"\x00" + text[100:])
    with pytest.raises(TraceFormatError) as info:
        parse_trace(path)
    assert message(info) == (
        f"{path}: binary data, not trace text (a perf.data file? export it with "
        "`perf script --ns -F comm,tid,cpu,time,event,trace` or `perf sched map`)"
    )


def test_up_to_one_percent_control_bytes_is_text(tmp_path: Path) -> None:
    """10,100 bytes: 101 control bytes (1%) pass, 102 are binary."""
    path = tmp_path / "c.txt"
    path.write_bytes(b"\x07" * 101 + b"a" * 9999)
    assert len(sniff(path)) == 10_100
    path.write_bytes(b"\x07" * 102 + b"a" * 9998)
    with pytest.raises(TraceFormatError, match=r"c\.txt: binary data, not trace text"):
        sniff(path)


def test_up_to_ten_percent_invalid_utf8_is_text(tmp_path: Path) -> None:
    """1,000 bytes, no control byte: 100 bytes that are not UTF-8 (10%) pass, 101 are binary."""
    path = tmp_path / "u.txt"
    path.write_bytes(b"\xff" * 100 + b"a" * 900)
    assert len(sniff(path)) == 1000
    path.write_bytes(b"\xff" * 101 + b"a" * 899)
    with pytest.raises(TraceFormatError, match=r"u\.txt: binary data, not trace text"):
        sniff(path)


def test_iter_lines_keeps_the_text_and_drops_only_the_line_ending(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_bytes(b"a b  \r\nX\xffY\nend X")
    expected = [(1, "a b  ", True), (2, "X\\xffY", True), (3, "end X", False)]
    assert list(iter_lines(path)) == expected  # no Damage given: counted nowhere
    damage = Damage()
    assert list(iter_lines(path, damage)) == expected
    assert damage.count("non_utf8") == 1 and damage.lines["non_utf8"] == [2]


def test_the_overlong_limit_is_65536_bytes_without_the_newline(tmp_path: Path) -> None:
    assert MAX_LINE_BYTES == 65_536
    over = parse_trace(write(tmp_path, "o.txt", [*SCRIPT[:3], "7" * 65_537, *SCRIPT[3:]]))
    assert over.damage.count("overlong") == 1 and over.damage.lines["overlong"] == [4]
    assert len(over.runs) == 4
    at = parse_trace(write(tmp_path, "a.txt", [*SCRIPT[:3], "7" * 65_536, *SCRIPT[3:]]))
    assert at.damage.count("overlong") == 0
    assert at.damage.count("unknown") == 1 and at.damage.lines["unknown"] == [4]
    last = parse_trace(write(tmp_path, "e.txt", [*SCRIPT, "7" * 65_536], end=False))
    assert last.damage.count("overlong") == 0
    assert last.damage.count("truncated") == 1 and last.damage.lines["truncated"] == [7]


# -- the run table ----------------------------------------------------------------------------
def test_task_names_of_special_and_negative_pids() -> None:
    assert task_name("swapper/1", 0) == ("<idle>", "<idle>")
    assert task_name("<unknown>", -1) == ("<unknown>", "<unknown>")
    assert task_name("<filtered>", -1) == ("<filtered>", "<filtered>")
    assert task_name("<unknown>", 7) == ("<unknown>:7", "<unknown>")  # a real comm
    assert task_name("nginx", -1) == ("nginx:-1", "nginx")


def test_one_switch_makes_an_empty_run_table_with_the_column_types() -> None:
    types = {
        "t_ns": "int64",
        "task": "str",
        "comm": "str",
        "pid": "int32",
        "prio": "int16",
        "delta_us": "float64",
        "end_state": "str",
    }
    one = Switches()
    one.append(5, "a", 1, 120, "S")
    runs = build_run_table(one, with_prio=True)
    assert list(runs.columns) == list(COLUMNS) and len(runs) == 0
    assert {c: str(runs[c].dtype) for c in COLUMNS} == types
    none = build_run_table(Switches(), with_prio=False)
    assert len(none) == 0 and {c: str(none[c].dtype) for c in COLUMNS} == {**types, "prio": "Int16"}


def test_the_map_run_table_has_text_end_states(tmp_path: Path) -> None:
    parsed = parse_trace(write(tmp_path, "m.txt", MAP_ONE_CPU))
    assert str(parsed.runs["end_state"].dtype) == "str"
    assert parsed.time_resolution_ns == 1000 and parsed.cpus == [1]


# -- perf sched map ---------------------------------------------------------------------------
def test_split_name_needs_a_numeric_tid() -> None:
    assert split_name("memfd:sealed-91:2316") == ("memfd:sealed-91", 2316)
    assert split_name(":17023:17023") == ("", 17023)
    assert split_name("nginx:abc") is None
    assert split_name("nginx") is None
    assert split_name("12345") is None


def test_map_rows_with_a_bad_name_are_unknown_or_truncated(tmp_path: Path) -> None:
    rows = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "  *B0         1.000002 secs B0 => ab:xyz",  # no tid
        "  *A0         1.000003 secs B0 => ab:21",  # the arrow names another short name
        "  *A0         1.000004 secs ",
        "  *C0         1.000005 secs C0 => bash:30",
        "  *A0         1.000007 secs ",
        "  *B0         1.000008 secs B0 => ab",  # the last line, cut
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", rows, end=False))
    assert parsed.damage.count("unknown") == 2 and parsed.damage.lines["unknown"] == [2, 3]
    assert parsed.damage.count("truncated") == 1 and parsed.damage.lines["truncated"] == [7]
    assert parsed.damage.total == 3
    assert list(parsed.runs["task"]) == ["nginx:20", "nginx:20", "bash:30"]
    assert list(parsed.runs["t_ns"]) == [1_000_001_000, 1_000_004_000, 1_000_005_000]


def test_map_lines_that_are_not_rows(tmp_path: Path) -> None:
    rows = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "garbage: not a row",  # unknown
        "  *B0         1.00",  # a row cut inside its time, not the last line: unknown
        "   .   B0     1.000002 secs ",  # a timed row no CPU switched on: hidden
        "   .   B0     ",  # a row without a time: hidden
        "  *B0         1.000003 secs B0 => ab:21",
        "  *A0         1.000004 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", rows))
    assert parsed.damage.count("unknown") == 2 and parsed.damage.lines["unknown"] == [2, 3]
    assert parsed.damage.count("hidden_rows") == 2
    assert parsed.damage.lines["hidden_rows"] == [4, 5]
    assert parsed.damage.total == 2
    assert list(parsed.runs["task"]) == ["nginx:20", "ab:21"]


def test_map_blank_lines_and_indented_comments(tmp_path: Path) -> None:
    rows = ["# perf sched map", "   # indented", MAP_ONE_CPU[0], "", *MAP_ONE_CPU[1:]]
    parsed = parse_trace(write(tmp_path, "m.txt", rows))
    assert len(parsed.runs) == len(MAP_ONE_CPU) - 1
    assert parsed.damage.count("comments") == 2 and parsed.damage.lines["comments"] == [1, 2]
    assert parsed.damage.total == 0


def test_map_non_utf8_names_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    rows = [row.encode() for row in MAP_ONE_CPU]
    rows[1] = rows[1].replace(b"nginx:20", b"ng\xffinx:20")
    path.write_bytes(b"\n".join(rows) + b"\n")
    parsed = parse_trace(path)
    assert parsed.damage.count("non_utf8") == 1 and parsed.damage.lines["non_utf8"] == [2]
    assert list(parsed.runs["task"])[1] == "ng\\xffinx:20"


def test_the_first_star_decides_the_column(tmp_path: Path) -> None:
    at_zero = [
        "*A0     1.000001 secs A0 => nginx:20",
        "*B0     1.000002 secs B0 => ab:21",
        "*A0     1.000004 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "z.txt", at_zero))
    assert parsed.cpu == 0 and list(parsed.runs["task"]) == ["nginx:20", "ab:21"]
    two_stars = [
        "  *A0  .      1.000001 secs A0 => nginx:20",
        "  *B0  .      1.000002 secs B0 => ab:21",
        "  *A0 *B0     1.000003 secs ",
        "  *B0  .      1.000004 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "t.txt", two_stars))
    assert parsed.cpus == [0]
    assert list(parsed.runs["task"]) == ["nginx:20", "ab:21", "nginx:20"]


def test_map_short_names_are_two_characters(tmp_path: Path) -> None:
    rows = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "  *AB9        1.000002 secs AB9 => ab:21",
        "  *A0         1.000003 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", rows))
    assert parsed.damage.count("unknown") == 1 and parsed.damage.lines["unknown"] == [2]
    assert list(parsed.runs["task"]) == ["nginx:20"]


def test_map_idle_needs_no_arrow(tmp_path: Path) -> None:
    rows = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "  *.          1.000002 secs ",
        "  *A0         1.000004 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", rows))
    assert list(parsed.runs["task"]) == ["nginx:20", "<idle>"]
    assert list(parsed.runs["pid"]) == [20, 0]
    assert parsed.damage.total == 0


def test_map_filtered_rows_have_pid_minus_one_and_their_line(tmp_path: Path) -> None:
    rows = [
        " .  *A0  .   .   131040.641346 secs A0 => wdavdaemon:62509",
        " .   A0 *B0  .   131040.641378 secs B0 => wdavdaemon:62274",
        " .  *-   B0  .   131040.641379 secs",
        " .  *A0  B0  .   131040.641572 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", rows), cpu=1)
    assert list(parsed.runs["pid"]) == [62509, -1]
    assert parsed.damage.lines["filtered"] == [3]


def test_map_nameless_threads_are_counted_with_their_lines(tmp_path: Path) -> None:
    rows = [
        "  *A0         1.000001 secs A0 => :1:1",
        "  *B0         1.000002 secs B0 => :0",  # pid 0 is idle, never nameless
        "  *A0         1.000004 secs ",
        "  *B0         1.000006 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", rows))
    assert list(parsed.runs["task"]) == [":1", "<idle>", ":1"]
    assert parsed.damage.count("nameless") == 2 and parsed.damage.lines["nameless"] == [1, 3]


def test_map_duplicate_idle_row_is_dropped(tmp_path: Path) -> None:
    rows = [
        "  *A0         1.000001 secs A0 => nginx:20",
        "  *.          1.000002 secs .  => swapper:0",
        "  *.          1.000002 secs ",
        "  *A0         1.000004 secs ",
    ]
    parsed = parse_trace(write(tmp_path, "m.txt", rows))
    assert parsed.damage.count("duplicate") == 1 and parsed.damage.lines["duplicate"] == [3]
    assert list(parsed.runs["task"]) == ["nginx:20", "<idle>"]


def test_map_errors_name_the_file(tmp_path: Path) -> None:
    both = write(tmp_path, "both.txt", MAP_TWO_CPUS)
    with pytest.raises(TraceFormatError) as info:
        parse_trace(both)
    assert message(info) == f"{both}: switches on CPUs 0, 1; choose one with --cpu"
    rows = ["  *A0         1.000001 secs A0 => nginx", "  *B0         1.000002 secs B0 => ab"]
    bad = write(tmp_path, "bad.txt", rows)
    with pytest.raises(TraceFormatError) as info:
        parse_trace(bad)
    assert message(info) == f"{bad}: no map events in the file"


def test_map_other_columns_are_counted_at_their_first_row(tmp_path: Path) -> None:
    """Column 0 has 4 rows (lines 1, 2, 4, 6), column 1 has 3 (lines 3, 5, 7)."""
    parsed = parse_trace(write(tmp_path, "m.txt", MAP_TWO_CPUS[:-1]), cpu=1)
    assert parsed.damage.count("other_cpu") == 4 and parsed.damage.lines["other_cpu"] == [1]
    assert list(parsed.runs["task"]) == ["<idle>", "ab:4910"]
