"""Expected values computed apart from the code under test: scoring alignment on a real trace,
sha256 verification to the last digit, unlisted files, `lost_after`, the log_loss clip (README §3,
§5). Each expectation is a literal or a plain pandas/numpy computation from the parquet file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.core.paths import data_dir
from benchmark.data.dataset import Runs, load_trace
from benchmark.data.manifest import DataIntegrityError, read_run_table, verify_file
from benchmark.data.traces import parse_trace
from benchmark.running.harness import score_prediction
from benchmark.running.protocol import Prediction, Predictor
from benchmark.scoring.metrics import score_task

NEG_LN_1E7 = 16.11809565095832  # -ln(1e-7), by hand: 7 * ln(10)
TRACE = "single-worker"


class LagTask(Predictor):
    """Predicts row p's task and delta as those of row p - lag, with certainty."""

    name = "lag_task"
    targets = frozenset({"task", "delta"})

    def __init__(self, *, lag: int = 1) -> None:
        self.lag = lag

    @property
    def context(self) -> int:  # type: ignore[override]
        return self.lag

    def fit(self, train: Runs, *, valid=None, seed: int = 0, report=None) -> LagTask:
        self.fitted_ = True
        return self

    def predict(self, runs: Runs, positions: np.ndarray) -> Prediction:
        positions = self.check_positions(runs, positions)
        local = positions - runs.start - self.lag
        proba = np.zeros((len(positions), runs.n_tasks), dtype=np.float32)
        proba[np.arange(len(positions)), runs.task[local]] = 1.0
        return Prediction(task_proba=proba, delta_us=runs.delta_us[local].copy())


@pytest.fixture(scope="module")
def plain() -> dict:
    """The test split of TRACE read with pandas alone: tasks as vocabulary names, deltas."""
    frame = pd.read_parquet(data_dir() / "traces" / f"{TRACE}.parquet")
    split = json.loads((data_dir() / "splits.json").read_text())["traces"][TRACE]
    vocab = set(split["vocabulary"])
    task = frame["task"].where(frame["task"].isin(vocab), "<other>").to_numpy()
    delta = frame["delta_us"].to_numpy()
    lo, hi = split["test"]
    return {
        "lo": lo,
        "hi": hi,
        "task": task,
        "delta": delta,
        "sigma": float(np.std(delta[: split["valid"][1]])),
    }


@pytest.mark.parametrize("lag", [1, 2])
def test_harness_scores_each_prediction_against_its_own_row(plain: dict, lag: int) -> None:
    runs = load_trace(TRACE)
    positions = runs.test_positions()
    pred = LagTask(lag=lag).fit(runs.train()).predict(runs, positions)
    scored = score_prediction(runs, positions, pred)

    p = np.arange(plain["lo"], plain["hi"])
    assert positions.tolist() == p.tolist()
    hit = plain["task"][p] == plain["task"][p - lag]
    error = plain["delta"][p - lag] - plain["delta"][p]
    assert scored["acc"]["value"] == pytest.approx(hit.mean(), abs=1e-12)
    assert scored["top3"]["value"] == pytest.approx(hit.mean(), abs=1e-12)  # one-hot
    assert scored["log_loss"]["value"] == pytest.approx((1 - hit.mean()) * NEG_LN_1E7, rel=1e-9)
    assert scored["mae_us"]["value"] == pytest.approx(np.abs(error).mean(), rel=1e-12)
    assert scored["mse_z"]["value"] == pytest.approx(
        np.mean((error / plain["sigma"]) ** 2), rel=1e-9
    )
    log_error = np.log1p(plain["delta"][p - lag]) - np.log1p(plain["delta"][p])
    assert scored["msle"]["value"] == pytest.approx(np.mean(log_error**2), rel=1e-9)
    if lag == 2:  # nginx and ab alternate: two back is usually right, so a shift would show
        assert hit.mean() > 0.5


# -- sha256 verification ----------------------------------------------------------------------
def _flip(digest: str, index: int) -> str:
    """The digest with one hex digit changed."""
    new = "0" if digest[index] != "0" else "1"
    return digest[:index] + new + digest[index + 1 :]


def _root_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A data folder holding traces/t.parquet (a copy of a real one) and the given manifest."""
    root = tmp_path / "data"
    (root / "traces").mkdir(parents=True)
    (root / "traces" / "t.parquet").write_bytes(
        (data_dir() / "traces" / f"{TRACE}.parquet").read_bytes()
    )
    manifest = {"version": 1, "files": files, "traces": {"t": {}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def _true_digest() -> str:
    return json.loads((data_dir() / "manifest.json").read_text())["files"][
        f"traces/{TRACE}.parquet"
    ]


def test_sha256_of_the_copy_is_accepted(tmp_path: Path) -> None:
    root = _root_with(tmp_path, {"traces/t.parquet": _true_digest()})
    assert verify_file("traces/t.parquet", root) == root / "traces" / "t.parquet"
    assert len(read_run_table("t", root)) == 227_411


@pytest.mark.parametrize("index", [0, 8, 12, 13, 40, 62, 63])
def test_sha256_differing_in_one_digit_is_refused(tmp_path: Path, index: int) -> None:
    root = _root_with(tmp_path, {"traces/t.parquet": _flip(_true_digest(), index)})
    with pytest.raises(DataIntegrityError, match="does not match the manifest"):
        verify_file("traces/t.parquet", root)
    with pytest.raises(DataIntegrityError, match=r"t\.parquet"):
        read_run_table("t", root)


def test_unlisted_file_is_refused(tmp_path: Path) -> None:
    root = _root_with(tmp_path, {"traces/other.parquet": _true_digest()})
    with pytest.raises(DataIntegrityError, match="not listed in"):
        verify_file("traces/t.parquet", root)
    with pytest.raises(DataIntegrityError, match="not listed in"):
        read_run_table("t", root)  # a listed trace whose file the manifest does not list


def test_listed_but_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    root = _root_with(tmp_path, {"traces/gone.parquet": _true_digest()})
    with pytest.raises(FileNotFoundError, match="listed in the manifest but missing"):
        verify_file("traces/gone.parquet", root)


def test_unknown_trace_names_the_shipped_ones(tmp_path: Path) -> None:
    root = _root_with(tmp_path, {"traces/t.parquet": _true_digest()})
    with pytest.raises(KeyError, match="unknown trace 'nope'; shipped traces: t"):
        read_run_table("nope", root)


# -- lost_after ------------------------------------------------------------------------------
def _switch(t: str, prev: tuple[str, int], nxt: tuple[str, int]) -> str:
    (pc, pp), (nc, np_) = prev, nxt
    return (
        f"{pc:>16} {pp:>5} [001] {t:>18}: sched:sched_switch: prev_comm={pc} prev_pid={pp} "
        f"prev_prio=120 prev_state=S ==> next_comm={nc} next_pid={np_} next_prio=120"
    )


def test_lost_after_names_the_comm_that_was_running(tmp_path: Path) -> None:
    lines = [
        _switch("1.000001", ("a", 1), ("b", 2)),
        _switch("1.000002", ("b", 2), ("c", 3)),
        _switch("1.000003", ("x", 9), ("a", 1)),  # c was running: lost after c
        _switch("1.000004", ("a", 1), ("c", 3)),
        _switch("1.000005", ("y", 8), ("b", 2)),  # lost after c again
        _switch("1.000006", ("z", 7), ("a", 1)),  # lost after b
        _switch("1.000007", ("a", 1), ("b", 2)),
    ]
    path = tmp_path / "s.txt"
    path.write_text("\n".join(lines) + "\n")
    damage = parse_trace(path).damage
    assert damage.count("lost") == 3
    assert damage.lines["lost"] == [3, 5, 6]
    assert damage.lost_after == {"c": 2, "b": 1}
    assert damage.to_json()["lost_after"] == {"b": 1, "c": 2}


# -- the log_loss clip -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("p_true", "expected"),
    [
        (0.0, NEG_LN_1E7),  # clipped at 1e-7
        (5e-8, NEG_LN_1E7),  # below the clip
        (2e-7, -math.log(float(np.float32(2e-7)))),  # above it: its own log
        (0.25, math.log(4.0)),
    ],
)
def test_log_loss_clips_at_1e7(p_true: float, expected: float) -> None:
    proba = np.array([[1.0 - p_true, p_true]], dtype=np.float32)
    assert score_task(np.array([1]), proba)["log_loss"] == pytest.approx(expected, rel=1e-6)


def test_neg_ln_constant_is_seven_ln_ten() -> None:
    assert math.isclose(NEG_LN_1E7, 7 * math.log(10), rel_tol=1e-15)


# -- manifest messages and roots -------------------------------------------------------------
def test_altered_file_message_names_both_digests_and_the_fix(tmp_path: Path) -> None:
    wrong = _flip(_true_digest(), 63)
    root = _root_with(tmp_path, {"traces/t.parquet": wrong})
    with pytest.raises(DataIntegrityError) as info:
        verify_file("traces/t.parquet", root)
    path = root / "traces" / "t.parquet"
    assert str(info.value) == (
        f"{path}: sha256 {_true_digest()[:12]}... does not match the manifest's "
        f"{wrong[:12]}...; the file was altered. Restore it (git checkout) or re-run "
        "`kernel-oracle prepare`."
    )
    root = _root_with(tmp_path / "b", {})
    with pytest.raises(DataIntegrityError) as info:
        verify_file("traces/t.parquet", root)
    assert str(info.value) == f"{root / 'traces' / 't.parquet'}: not listed in {root}/manifest.json"


def test_an_explicit_root_wins_over_the_environment(tmp_path: Path, monkeypatch) -> None:
    from benchmark.data.manifest import trace_names, trace_sha256

    digest = _true_digest()
    root = _root_with(tmp_path, {"traces/t.parquet": digest})
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["traces"]["u"] = {}
    (root / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(tmp_path / "nowhere"))
    assert trace_names(root) == ["t", "u"]
    assert trace_sha256("t", root) == digest
    with pytest.raises(KeyError, match="unknown trace 'v'; shipped traces: t, u"):
        read_run_table("v", root)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "{path}: no manifest; run `kernel-oracle prepare --data {root}` first"),
        ("{not json", "{path}: not valid JSON ("),
        (
            "[]",
            "{path}: not a manifest (no `files` and `traces` objects); rebuild it with "
            "`kernel-oracle prepare --data {root}`",
        ),
        ('{"files": {}, "traces": []}', "{path}: not a manifest"),
        ('{"files": [], "traces": {}}', "{path}: not a manifest"),
    ],
)
def test_bad_manifests_are_one_line_errors(tmp_path: Path, content, message) -> None:
    from benchmark.data.manifest import load_manifest

    root = tmp_path / "my data"
    root.mkdir()
    if content is not None:
        (root / "manifest.json").write_text(content)
    with pytest.raises((FileNotFoundError, DataIntegrityError)) as info:
        load_manifest(root)
    quoted = f"'{root}'"  # shell-quoted: the folder name has a space
    expected = message.format(path=root / "manifest.json", root=quoted)
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)
    if content == "{not json":
        assert str(info.value).endswith(f"rebuild it with `kernel-oracle prepare --data {quoted}`")


def test_prepare_command_for_the_shipped_folder() -> None:
    from benchmark.data.manifest import prepare_command

    assert prepare_command(data_dir()) == "`kernel-oracle prepare`"
    assert prepare_command(Path("/x/y")) == "`kernel-oracle prepare --data /x/y`"


def test_check_data_root_says_what_is_wrong(tmp_path: Path) -> None:
    from benchmark.data.manifest import check_data_root

    layout = "raw/<trace>/ with perf-script.txt.xz (or .gz) and capture.json"
    fix = f"`kernel-oracle prepare --data {tmp_path / 'd'}`"
    root = tmp_path / "d"
    assert (
        check_data_root(root) == f"{root}: no such folder; a data folder holds {layout}; "
        f"then run {fix}"
    )
    root.write_text("")
    assert check_data_root(root) == f"{root}: not a folder; a data folder holds {layout}"
    root.unlink()
    root.mkdir()
    assert check_data_root(root) == (
        f"{root}: no manifest.json and no raw/ folder; a data folder holds {layout}; then run {fix}"
    )
    (root / "raw").mkdir()
    assert check_data_root(root) == f"{root}: raw captures but no manifest.json yet; run {fix}"
    (root / "manifest.json").write_text("[]")
    assert check_data_root(root).startswith(f"{root / 'manifest.json'}: not a manifest")
    (root / "manifest.json").write_text('{"files": {}, "traces": {}}')
    assert check_data_root(root) == f"{root / 'manifest.json'}: lists no traces; run {fix}"
    (root / "manifest.json").write_text('{"files": {}, "traces": {"t": {}}}')
    assert check_data_root(root) == f"{root / 'splits.json'}: missing; run {fix}"
    (root / "splits.json").write_text("{}")
    assert check_data_root(root) is None
    assert check_data_root(data_dir()) is None


def test_harness_scores_one_target_alone_and_from_a_slice(plain: dict) -> None:
    runs = load_trace(TRACE)
    positions = runs.test_positions()[:3000]
    pred = LagTask(lag=2).fit(runs.train()).predict(runs, positions)
    both = score_prediction(runs, positions, pred)
    directions = {name: (e["target"], e["higher_is_better"]) for name, e in both.items()}
    assert directions == {
        "acc": ("task", True),
        "acc_comm": ("task", True),
        "top3": ("task", True),
        "macro_f1": ("task", True),
        "log_loss": ("task", False),
        "mse_z": ("delta", False),
        "mae_us": ("delta", False),
        "msle": ("delta", False),
    }
    task_only = score_prediction(runs, positions, Prediction(pred.task_proba, None))
    delta_only = score_prediction(runs, positions, Prediction(None, pred.delta_us))
    assert set(task_only) == {"acc", "acc_comm", "top3", "macro_f1", "log_loss"}
    assert set(delta_only) == {"mse_z", "mae_us", "msle"}
    assert task_only["acc"] == both["acc"] and delta_only["mae_us"] == both["mae_us"]
    tail = runs.rows(int(positions[0]) - 100, len(runs))  # the truth as a slice (start > 0)
    assert score_prediction(tail, positions, pred) == both
