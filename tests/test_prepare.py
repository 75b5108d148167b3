"""`prepare`: raw excerpts -> parquet, manifest, splits; deterministic; integrity enforced."""

from __future__ import annotations

import json
import lzma
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmark.core.paths import data_dir
from benchmark.data.capture import CAPTURE_JSON, PERF_SCRIPT_FILE, SCHED_MAP_FILE
from benchmark.data.datainfo import BEGIN, END
from benchmark.data.manifest import DataIntegrityError, load_manifest, read_run_table, sha256_file
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
    with pytest.raises(PrepareError, match=r"capture\.json: missing"):
        prepare(root)
    with pytest.raises(PrepareError, match="no captures"):
        prepare(tmp_path / "empty")


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
        assert json.loads((data_dir() / "raw" / name / CAPTURE_JSON).read_text()) == facts[
            "capture"
        ]
