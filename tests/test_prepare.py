"""`prepare`: raw excerpts -> parquet, manifest, splits; deterministic; integrity enforced."""

from __future__ import annotations

import gzip
import json
import lzma
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmark.core.paths import data_dir
from benchmark.data.capture import CAPTURE_JSON, PERF_SCRIPT_FILE, SCHED_MAP_FILE
from benchmark.data.datainfo import BEGIN, END, collect, render_markdown
from benchmark.data.manifest import (
    DataIntegrityError,
    check_data_root,
    load_manifest,
    read_run_table,
    sha256_file,
)
from benchmark.data.prepare import PrepareError, parquet_bytes, prepare
from benchmark.data.splits import read_splits
from benchmark.data.traces import parse_trace

FIXTURES = Path(__file__).parent / "fixtures" / "traces"


def make_raw(root: Path, name: str, tag: str = "single-worker-head") -> Path:
    """A raw capture folder built from a fixture pair (xz-compressed like the real ones)."""
    folder = root / "raw" / name
    folder.mkdir(parents=True)
    for kind, target in (("perf-script", PERF_SCRIPT_FILE), ("sched-map", SCHED_MAP_FILE)):
        text = (FIXTURES / f"{tag}.{kind}.txt").read_bytes()
        (folder / target).write_bytes(lzma.compress(text, preset=9))
    shutil.copy(FIXTURES / "single-worker.capture.json", folder / CAPTURE_JSON)
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    make_raw(data, "demo")
    make_raw(data, "other", "mixed-middle")
    (data / "README.md").write_text(f"# data\n\n{BEGIN}\nold\n{END}\n\nend\n")
    return data


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_prepare_writes_parquet_manifest_splits(root: Path) -> None:
    done = prepare(root)
    assert sorted(done) == ["demo", "other"]
    manifest = load_manifest(root)
    assert manifest["version"] == 1
    raw_files = (PERF_SCRIPT_FILE, SCHED_MAP_FILE, CAPTURE_JSON)
    expected = {f"raw/{n}/{f}" for n in ("demo", "other") for f in raw_files}
    expected |= {"traces/demo.parquet", "traces/other.parquet", "splits.json"}
    assert set(manifest["files"]) == expected
    for rel, sha in manifest["files"].items():
        assert sha256_file(root / rel) == sha
    facts = manifest["traces"]["demo"]
    assert facts["runs"] == 399 and facts["parse"]["formats_agree"] is True
    assert facts["split"] == {"train": 279, "valid": 40, "test": 80}
    assert facts["kernel"] and facts["perf"] and facts["scenario"] == "single-worker"
    assert facts["capture"]["commands"]
    assert set(facts["delta_us"]) >= {"p50", "p99", "max"}
    splits = read_splits(root / "splits.json")
    assert splits["demo"].train == (0, 279) and splits["demo"].test == (319, 399)
    table = read_run_table("demo", root)
    parsed = parse_trace(root / "raw/demo" / PERF_SCRIPT_FILE, cpu=1).runs
    pd.testing.assert_frame_equal(table, parsed)
    assert "old" not in (root / "README.md").read_text()
    assert "| `demo` | 399 |" in (root / "README.md").read_text()
    # rendered before the manifest was written, yet the same as from the files read back
    section = (root / "README.md").read_text().split(BEGIN, 1)[1].split(END, 1)[0]
    assert section == "\n" + render_markdown(collect(root))


def test_prepare_is_deterministic(root: Path) -> None:
    prepare(root)
    first = snapshot(root)
    (root / "traces" / "demo.parquet").unlink()
    prepare(root)
    assert snapshot(root) == first


def test_altered_parquet_is_refused(root: Path) -> None:
    prepare(root)
    path = root / "traces" / "demo.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataIntegrityError, match=r"demo\.parquet: sha256 .* does not match"):
        read_run_table("demo", root)


def test_formats_that_disagree_are_refused(root: Path) -> None:
    folder = root / "raw" / "demo"
    text = (FIXTURES / "single-worker-head.sched-map.txt").read_text().split("\n")
    text = [text[0], *text[2:]]  # one map row fewer
    (folder / SCHED_MAP_FILE).write_bytes(lzma.compress("\n".join(text).encode()))
    with pytest.raises(PrepareError, match="disagree"):
        prepare(root)


def test_missing_capture_json_and_no_raw(tmp_path: Path, root: Path) -> None:
    (root / "raw" / "demo" / CAPTURE_JSON).unlink()
    with pytest.raises(PrepareError, match=r"capture\.json: missing.*write \{\} if nothing"):
        prepare(root)
    with pytest.raises(PrepareError, match=r"empty/raw: no such folder; put each capture in"):
        prepare(tmp_path / "empty")
    (tmp_path / "bare" / "raw").mkdir(parents=True)
    with pytest.raises(PrepareError, match=r"bare/raw: no captures; .*kernel-oracle capture"):
        prepare(tmp_path / "bare")


def test_stale_parquet_is_removed(root: Path) -> None:
    prepare(root)
    shutil.rmtree(root / "raw" / "other")
    prepare(root)
    assert not (root / "traces" / "other.parquet").exists()
    assert "other" not in load_manifest(root)["traces"]


# --------------------------------------------------------------------------- the shipped data


def test_shipped_parquet_is_reproducible_from_its_table() -> None:
    """The shipped parquet is exactly what `prepare` writes for its run table."""
    manifest = load_manifest()
    for name in manifest["traces"]:
        path = data_dir() / "traces" / f"{name}.parquet"
        assert parquet_bytes(pd.read_parquet(path)) == path.read_bytes(), name


def test_shipped_traces_facts() -> None:
    manifest = load_manifest()
    assert len(manifest["traces"]) >= 4
    for name, facts in manifest["traces"].items():
        assert 100_000 <= facts["runs"] <= 400_000, name
        assert facts["parse"]["formats_agree"] is True, name
        assert facts["parse"]["perf_script"]["damage"]["truncated"] == 0, name
        assert facts["perf_lost_events"] == 0, name
        assert (
            json.loads((data_dir() / "raw" / name / CAPTURE_JSON).read_text()) == facts["capture"]
        )
        assert facts["raw"]["perf_script"] == {"file": PERF_SCRIPT_FILE, "compression": "xz"}


def test_shipped_manifest_facts_agree_with_the_split_file() -> None:
    """The manifest's split facts (shown in the datasheet) are those of splits.json (they were
    left at the old keepalive boundaries when the split rule changed)."""
    splits = read_splits(data_dir() / "splits.json")
    for name, facts in load_manifest()["traces"].items():
        split = splits[name]
        rows = {"train": split.train, "valid": split.valid, "test": split.test}
        assert facts["split_rows"] == {k: list(v) for k, v in rows.items()}, name
        assert facts["split"] == {k: b - a for k, (a, b) in rows.items()}, name
        assert facts["sigma_us"] == round(split.sigma_us, 3), name


# --------------------------------------------------------------------------- holdout friction
# (issue 12 item 3 and issue 9 item 12: each test fails on the code before the fix)


def _switch(t: str, cpu: int, prev: tuple[str, int], nxt: tuple[str, int]) -> str:
    return (
        f"{prev[0]:>8} {prev[1]:>4} [{cpu:03d}] {t}: sched:sched_switch: prev_comm={prev[0]} "
        f"prev_pid={prev[1]} prev_prio=120 prev_state=S ==> next_comm={nxt[0]} "
        f"next_pid={nxt[1]} next_prio=120"
    )


TWO_CPUS = []  # hand-made: CPU 0 runs a <-> b, CPU 1 runs c <-> d, 24 switches each
for _k in range(24):
    _flip = _k % 2 == 0
    TWO_CPUS.append(_switch(f"5.{_k:06d}", 0, *((("a", 1), ("b", 2))[:: 1 if _flip else -1])))
    TWO_CPUS.append(_switch(f"5.{_k:06d}", 1, *((("c", 3), ("d", 4))[:: 1 if _flip else -1])))


def _only(root: Path, name: str = "demo") -> Path:
    """`root` with only the raw folder `name` left."""
    for other in (root / "raw").iterdir():
        if other.name != name:
            shutil.rmtree(other)
    return root / "raw" / name


def test_misnamed_raw_files_are_listed_with_the_names_expected(root: Path) -> None:
    folder = _only(root)
    text = lzma.decompress((folder / PERF_SCRIPT_FILE).read_bytes())
    (folder / PERF_SCRIPT_FILE).unlink()
    (folder / "perf_script.txt.gz").write_bytes(gzip.compress(text))
    with pytest.raises(PrepareError) as caught:
        prepare(root)
    message = str(caught.value)
    assert "demo: no perf script text; found capture.json, perf_script.txt.gz, " in message
    assert "expected perf-script.txt.xz or perf-script.txt.gz or perf-script.txt" in message
    assert not (root / "manifest.json").exists()


def test_gzip_is_read_by_content_and_recorded(root: Path) -> None:
    """gzip text under the .gz name and under the .xz name: both parse to the xz table, and the
    manifest records the real compression."""
    folder = _only(root)
    expected = parse_trace(folder / PERF_SCRIPT_FILE).runs
    text = lzma.decompress((folder / PERF_SCRIPT_FILE).read_bytes())
    (folder / PERF_SCRIPT_FILE).unlink()
    (folder / "perf-script.txt.gz").write_bytes(gzip.compress(text))
    prepare(root)
    facts = load_manifest(root)["traces"]["demo"]
    assert facts["raw"]["perf_script"] == {"file": "perf-script.txt.gz", "compression": "gzip"}
    assert facts["raw"]["sched_map"] == {"file": SCHED_MAP_FILE, "compression": "xz"}
    assert "raw/demo/perf-script.txt.gz" in load_manifest(root)["files"]
    pd.testing.assert_frame_equal(read_run_table("demo", root), expected)
    (folder / "perf-script.txt.gz").rename(folder / PERF_SCRIPT_FILE)  # gzip in an .xz name
    prepare(root)
    facts = load_manifest(root)["traces"]["demo"]
    assert facts["raw"]["perf_script"] == {"file": PERF_SCRIPT_FILE, "compression": "gzip"}


def test_empty_capture_json_is_filled_with_unknown(root: Path) -> None:
    """`{}` is accepted (the trace has one CPU); a data folder with a README.md used to crash
    with an AttributeError in datainfo.py after the manifest was written."""
    (_only(root) / CAPTURE_JSON).write_text("{}")
    said: list[str] = []
    prepare(root, warn=said.append)
    facts = load_manifest(root)["traces"]["demo"]
    assert facts["cpu"] == 1 and facts["parse"]["cpu_source"] == "the only CPU in the file"
    for key in ("scenario", "kernel", "perf", "cpu_model", "cpu_count", "hz", "perf_lost_events"):
        assert facts[key] == "unknown", key
    assert facts["ab"]["requests_per_second"] == "unknown"
    readme = (root / "README.md").read_text()
    assert "| `demo` | 399 |" in readme and "| unknown |" in readme
    assert "- reproduce: unknown (its capture.json names no scenario)" in readme


def test_capture_json_without_ab_and_a_readme(root: Path) -> None:
    meta = json.loads((_only(root) / CAPTURE_JSON).read_text())
    del meta["ab"]
    (root / "raw" / "demo" / CAPTURE_JSON).write_text(json.dumps(meta))
    prepare(root)
    readme = (root / "README.md").read_text()
    assert "- load: ab unknown requests, unknown req/s, unknown failed" in readme


def test_cpu_option_for_a_capture_json_without_cpu(root: Path) -> None:
    folder = _only(root)
    (folder / SCHED_MAP_FILE).unlink()
    (folder / PERF_SCRIPT_FILE).write_bytes(lzma.compress(("\n".join(TWO_CPUS) + "\n").encode()))
    (folder / CAPTURE_JSON).write_text("{}")
    with pytest.raises(PrepareError, match=r"switches on CPUs 0, 1; choose one with --cpu"):
        prepare(root)
    prepare(root, cpu=1)
    facts = load_manifest(root)["traces"]["demo"]
    assert facts["cpu"] == 1 and facts["parse"]["cpu_source"] == "--cpu"
    assert facts["top_tasks"][0]["task"] in {"c:3", "d:4"} and facts["runs"] == 23
    with pytest.raises(PrepareError, match=r"no switches on CPU 7; .*\(CPU 7 from --cpu\)"):
        prepare(root, cpu=7)
    with pytest.raises(PrepareError, match=r"--cpu -1: a CPU number is >= 0"):
        prepare(root, cpu=-1)
    (folder / CAPTURE_JSON).write_text('{"cpu": 0}')
    with pytest.raises(PrepareError, match=r"capture\.json: says cpu 0, --cpu says 1"):
        prepare(root, cpu=1)


def test_nothing_is_written_when_a_trace_fails(root: Path) -> None:
    """The old prepare wrote demo's parquet before it failed on the next trace."""
    (root / "raw" / "other" / PERF_SCRIPT_FILE).write_bytes(lzma.compress(b""))
    before = snapshot(root)
    with pytest.raises(PrepareError, match=r"other/perf-script\.txt\.xz: the file is empty"):
        prepare(root)
    assert snapshot(root) == before


def test_a_failed_prepare_keeps_the_old_manifest(root: Path) -> None:
    prepare(root)
    before = snapshot(root)
    (root / "raw" / "other" / CAPTURE_JSON).write_text("{not json")
    with pytest.raises(PrepareError, match=r"other/capture\.json: not valid JSON .* line 1"):
        prepare(root)
    changed = {k for k in snapshot(root) if snapshot(root)[k] != before.get(k)}
    assert changed == {"raw/other/capture.json"}


def test_the_manifest_is_written_last(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmark.data.prepare as prep

    order: list[str] = []
    real_bytes, real_json = prep.write_bytes, prep.write_json
    monkeypatch.setattr(
        prep, "write_bytes", lambda p, d: (order.append(Path(p).name), real_bytes(p, d))
    )
    monkeypatch.setattr(
        prep, "write_json", lambda p, o: (order.append(Path(p).name), real_json(p, o))
    )
    prepare(root)
    assert order[-1] == "manifest.json" and order.count("manifest.json") == 1
    assert {"demo.parquet", "other.parquet", "README.md"} <= set(order[:-1])


def test_warnings_for_size_and_a_missing_or_misnamed_map(root: Path) -> None:
    folder = _only(root)
    (folder / SCHED_MAP_FILE).rename(folder / "sched_map.txt.xz")
    said: list[str] = []
    prepare(root, warn=said.append)
    assert any("demo: 399 runs, outside the 100,000-400,000" in w for w in said)
    (no_map,) = [w for w in said if "no sched map" in w]
    assert "found capture.json, perf-script.txt.xz, sched_map.txt.xz" in no_map
    assert "not cross-checked" in no_map
    assert load_manifest(root)["traces"]["demo"]["parse"]["formats_agree"] is None
    assert "both formats agree: not checked (no sched map)" in (root / "README.md").read_text()


def test_bad_capture_json_names_the_file_and_field(root: Path) -> None:
    path = _only(root) / CAPTURE_JSON
    for text, pattern in (
        ("[1, 2]", r"a JSON object is expected, got list"),
        ('{"cpu": "one"}', r"field 'cpu' is 'one'; expected int"),
        ('{"cpu": true}', r"field 'cpu' is True; expected int"),
        ('{"processes": [{"pid": "x"}]}', r"processes\[0\] is"),
        ('{"ab": 3}', r"field 'ab' is 3; expected dict"),
    ):
        path.write_text(text)
        with pytest.raises(PrepareError, match=r"demo/capture\.json: " + pattern):
            prepare(root)
    path.write_bytes(b'{"cpu": 1, "x": "\xff"}')
    with pytest.raises(PrepareError, match=r"demo/capture\.json: not UTF-8"):
        prepare(root)


def test_a_three_run_trace_names_the_file(root: Path) -> None:
    folder = _only(root)
    (folder / SCHED_MAP_FILE).unlink()
    text = (FIXTURES / "single-worker-head.perf-script.txt").read_text().split("\n")
    switch_lines = [line for line in text if "sched_switch" in line][:4]
    (folder / PERF_SCRIPT_FILE).write_text("\n".join(switch_lines) + "\n")
    pattern = r"demo/perf-script\.txt\.xz: .*at least 10 runs.* got 3"
    with pytest.raises(PrepareError, match=pattern):
        prepare(root)


def test_empty_and_binary_raw_files_are_told_apart(root: Path) -> None:
    path = _only(root) / PERF_SCRIPT_FILE
    path.write_bytes(b"")
    with pytest.raises(PrepareError, match=r"perf-script\.txt\.xz: the file is empty"):
        prepare(root)
    path.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(PrepareError, match=r"perf-script\.txt\.xz: binary data"):
        prepare(root)


def test_a_readme_without_markers_is_left_alone(root: Path) -> None:
    (root / "README.md").write_text("# my holdout\n")
    said: list[str] = []
    prepare(root, warn=said.append)
    assert (root / "README.md").read_text() == "# my holdout\n"
    assert any("README.md: no generated section" in w for w in said)


def test_check_data_root(tmp_path: Path, root: Path) -> None:
    nowhere = tmp_path / "no" / "such"
    assert check_data_root(nowhere) == (
        f"{nowhere}: no such folder; a data folder holds raw/<trace>/ with perf-script.txt.xz "
        f"(or .gz) and capture.json; then run `kernel-oracle prepare --data {nowhere}`"
    )
    assert check_data_root(root) == (
        f"{root}: raw captures but no manifest.json yet; run `kernel-oracle prepare --data {root}`"
    )
    (tmp_path / "file").write_text("x")
    assert "file: not a folder" in check_data_root(tmp_path / "file")
    assert "no manifest.json and no raw/ folder" in check_data_root(tmp_path)
    prepare(root)
    assert check_data_root(root) is None
    (root / "splits.json").unlink()
    assert check_data_root(root) == f"{root / 'splits.json'}: missing; run " + (
        f"`kernel-oracle prepare --data {root}`"
    )
    (root / "manifest.json").write_text("{")
    assert check_data_root(root).startswith(f"{root / 'manifest.json'}: not valid JSON")
    (root / "manifest.json").write_text("[]")
    assert "not a manifest" in check_data_root(root)
    assert check_data_root(data_dir()) is None
