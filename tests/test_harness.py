"""The harness and the runner: failures become results beside good ones, scores are what the data
says, a model can neither leak nor overwrite the truth, time limits kill everything it started.

Runs go on an excerpt (the first 3,000 runs of a shipped trace, split by the fixed rule) that
each test module writes once; expected scores are computed here from the parquet by hand.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.data.manifest import DataIntegrityError, trace_names
from benchmark.data.splits import read_splits
from benchmark.results.store import read_result
from benchmark.running import runner
from benchmark.running.profiles import make_profile, make_quick_data
from benchmark.running.registry import UnknownModelError
from benchmark.running.verify import SPOT_MIN, SPOT_POSITIONS

MODELS = Path(__file__).parent / "helpers" / "harness_models.py"
TOY = Path(__file__).parent / "helpers" / "toy_models.py"
RUNS = 3000


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """An excerpt data folder (manifest, splits, one trace)."""
    root = tmp_path_factory.mktemp("harness-data")
    return make_quick_data(None, root, [trace_names()[0]], RUNS)


def _trace(data: Path) -> str:
    return trace_names(data)[0]


def _profile(data: Path, out: Path, **kwargs):
    return replace(make_profile(holdout=data, out=out, **kwargs), online_steps=20)


def _run(models: list[str], data: Path, out: Path, **kwargs) -> list[dict]:
    profile = _profile(data, out, **kwargs)
    planned = runner.plan(models, None, profile)
    return runner.run(planned.specs, profile.out)


def _truth(data: Path) -> tuple[pd.DataFrame, object]:
    trace = _trace(data)
    frame = pd.read_parquet(data / "traces" / f"{trace}.parquet")
    return frame, read_splits(data / "splits.json")[trace]


def _files(out: Path, model: str) -> list[str]:
    folder = out / "results" / model
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("seed*"))


# -- failures --------------------------------------------------------------------------------
def test_a_model_that_raises_becomes_a_failed_result_beside_no_good_one(data, tmp_path):
    (result,) = _run([f"{TOY}:RaisesInFit"], data, tmp_path, timeout_s=120)
    assert result["status"] == "failed" and result["error"]["type"] == "RuntimeError"
    assert "deliberate failure in fit" in result["error"]["message"]
    assert _files(tmp_path, "raises_in_fit") == [f"{_trace(data)}/seed0.failed.json"]


def test_a_failed_rerun_keeps_the_good_result_and_a_good_rerun_clears_the_failure(data, tmp_path):
    trace = _trace(data)
    (good,) = _run([f"{MODELS}:Constant"], data, tmp_path)
    assert good["status"] == "ok", good["error"]
    kept = (tmp_path / "results" / "constant" / trace / "seed0.json").read_bytes()
    (bad,) = _run([f"{MODELS}:FailingConstant"], data, tmp_path)
    assert bad["status"] == "failed"
    assert _files(tmp_path, "constant") == [
        f"{trace}/seed0.failed.json",
        f"{trace}/seed0.json",
        f"{trace}/seed0.npz",
    ]
    assert (tmp_path / "results" / "constant" / trace / "seed0.json").read_bytes() == kept
    (again,) = _run([f"{MODELS}:Constant"], data, tmp_path)
    assert again["status"] == "ok"
    assert _files(tmp_path, "constant") == [f"{trace}/seed0.json", f"{trace}/seed0.npz"]


def test_stale_seeds_are_cleared_only_after_every_new_seed_succeeded(data, tmp_path):
    trace = _trace(data)
    results = _run([f"{MODELS}:Stochastic"], data, tmp_path, seeds=3)
    assert [r["seed"] for r in results] == [0, 1, 2]
    three = [f"{trace}/seed{k}.{ext}" for k in range(3) for ext in ("json", "npz")]
    assert _files(tmp_path, "stochastic_constant") == three
    # A failed run with fewer seeds deletes nothing (and keeps the good seed 0).
    _run([f"{MODELS}:FailingStochastic"], data, tmp_path, seeds=1)
    assert _files(tmp_path, "stochastic_constant") == sorted([*three, f"{trace}/seed0.failed.json"])
    # A successful one does: seeds 1 and 2 were made with another plan.
    _run([f"{MODELS}:Stochastic"], data, tmp_path, seeds=1)
    assert _files(tmp_path, "stochastic_constant") == [f"{trace}/seed0.json", f"{trace}/seed0.npz"]


def test_a_model_past_its_limit_is_stopped_with_every_process_it_started(
    data, tmp_path, monkeypatch
):
    pid_file = tmp_path / "sleep.pid"
    monkeypatch.setenv("HARNESS_PID_FILE", str(pid_file))
    t0 = time.monotonic()
    (result,) = _run([f"{MODELS}:SpawnsSleep"], data, tmp_path, timeout_s=6)
    assert result["status"] == "failed" and result["error"]["type"] == "TimeoutError"
    assert time.monotonic() - t0 < 120
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid), f"the model's `sleep 300` (pid {pid}) survived the time limit"


def _alive(pid: int) -> bool:
    """Running and not a zombie (an orphan waits for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e308"])
def test_an_unscorable_delta_fails_the_run_with_a_message(data, tmp_path, monkeypatch, value):
    monkeypatch.setenv("HARNESS_BAD_DELTA", value)
    (result,) = _run([f"{MODELS}:BadDelta"], data, tmp_path)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "ModelOutputError"
    assert (
        "delta_us[" in result["error"]["message"] and "microseconds" in result["error"]["message"]
    )
    path = tmp_path / "results" / "bad_delta" / _trace(data) / "seed0.failed.json"
    json.loads(path.read_text(), parse_constant=_refuse)  # standard JSON: no NaN/Infinity
    assert not path.with_name("seed0.npz").exists()


def _refuse(token: str) -> None:
    raise AssertionError(f"non-standard JSON constant {token}")


def test_probabilities_that_do_not_sum_to_one_fail_the_run(data, tmp_path):
    (result,) = _run([f"{MODELS}:BadProba"], data, tmp_path)
    assert result["status"] == "failed" and result["error"]["type"] == "MetricInputError"
    assert result["error"]["message"].startswith("proba row 0: probabilities")


# -- integrity ---------------------------------------------------------------------------------
def test_models_reading_a_future_row_are_failed_as_leaks(data, tmp_path):
    runs = _run([f"{TOY}:Leaky", f"{MODELS}:LeaksOnBigBatches", f"{TOY}:LastTask"], data, tmp_path)
    *leaky, honest = runs
    _, split = _truth(data)
    for result in leaky:
        assert result["status"] == "failed" and result["error"]["type"] == "LeakDetected"
        assert result["error"]["message"].startswith("leak detected at position ")
        position = int(result["error"]["message"].split()[4].rstrip(":"))
        assert split.test[0] <= position < split.test[1]
    assert honest["status"] == "ok", honest["error"]
    assert SPOT_MIN <= honest["costs"]["spot_positions"] <= SPOT_POSITIONS
    assert honest["costs"]["spot_check_s"] > 0


def test_a_forecast_reading_rows_from_its_origin_on_fails_the_run_as_a_leak(data, tmp_path):
    (result,) = _run([f"{TOY}:PeeksInForecast"], data, tmp_path)
    assert result["status"] == "failed" and result["error"]["type"] == "LeakDetected"
    message = result["error"]["message"]
    assert message.startswith("leak detected in the forecast from origin "), message
    _, split = _truth(data)
    origin = int(message.split()[7].rstrip(":"))
    assert split.test[0] <= origin < split.test[1]


def test_an_honest_run_records_its_horizon_track(data, tmp_path):
    (result,) = _run([f"{TOY}:LastTask"], data, tmp_path)
    horizon = result["horizon"]
    assert horizon["method"] == "free run" and horizon["horizon"] == 64
    # the harness's free run is causal by construction: no forecast is asked again
    assert horizon["costs"]["spot_origins"] == 0
    # LastTask free-runs its own last task: every step repeats the task before the origin
    frame, split = _truth(data)
    arrays = np.load(tmp_path / "results" / "last_task" / _trace(data) / "seed0.npz")
    origins = arrays["horizon_origins"].astype(np.int64)
    assert origins[0] == split.test[0] and len(origins) == horizon["n_origins"]
    before = frame["task"].to_numpy()[origins - 1]
    vocabulary = {name: i for i, name in enumerate(split.vocabulary)}
    ids = np.array([vocabulary.get(t, 0) for t in before])
    assert (arrays["horizon_task"] == ids[:, None]).all()
    truth = np.array([vocabulary.get(t, 0) for t in frame["task"].to_numpy()[origins]])
    assert horizon["metrics"]["acc@1"]["value"] == pytest.approx(float(np.mean(ids == truth)))


def test_what_predict_was_handed_never_reaches_the_horizon_track(data, tmp_path):
    """StashesInPredict keeps `predict`'s trace and its later streams read the future from it;
    the horizon track forecasts with the copy taken right after fit, so its free run is that
    of the honest LastTask, step for step."""
    stash, honest = (_run([f"{TOY}:{m}"], data, tmp_path / m)[0] for m in
                     ("StashesInPredict", "LastTask"))  # fmt: skip
    assert stash["status"] == "ok" and stash["horizon"]["metrics"]["acc@8"]["value"] < 1.0
    for step in ("acc@1", "acc@8", "acc@64"):
        assert stash["horizon"]["metrics"][step] == honest["horizon"]["metrics"][step]


def _constant_accuracy(data: Path) -> float:
    """The share of test rows whose task is vocabulary id 0 (what `Constant` predicts)."""
    frame, split = _truth(data)
    test = frame["task"].iloc[split.test[0] : split.test[1]]
    return float((~test.isin(split.vocabulary[1:])).mean())  # id 0: <other>, or not in vocab


@pytest.mark.parametrize("model", ["OverwritesTruth", "ReadsTheBase"])
def test_a_model_can_neither_overwrite_the_truth_nor_read_it_through_a_view(data, tmp_path, model):
    (result,) = _run([f"{MODELS}:{model}"], data, tmp_path)
    assert result["status"] == "ok", result["error"]
    assert result["metrics"]["acc"]["value"] == pytest.approx(_constant_accuracy(data), abs=1e-12)


def test_majority_accuracy_is_the_share_of_test_rows_equal_to_the_train_valid_mode(data, tmp_path):
    frame, split = _truth(data)
    seen = frame["task"].iloc[: split.valid[1]]
    counts = seen.value_counts()
    mode = sorted(counts[counts == counts.max()].index)[0]
    test = frame["task"].iloc[split.test[0] : split.test[1]]
    (result,) = _run(["majority"], data, tmp_path)
    assert result["status"] == "ok"
    assert result["metrics"]["acc"]["value"] == pytest.approx(
        float((test == mode).mean()), abs=1e-12
    )
    assert result["n_positions"] == len(test)


def test_altered_data_is_an_error_of_the_command_and_writes_nothing(data, tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    profile = _profile(copy, tmp_path / "out")
    planned = runner.plan(["majority"], None, profile)
    parquet = copy / "traces" / f"{_trace(data)}.parquet"
    frame = pd.read_parquet(parquet)
    frame.loc[frame.index[-1], "delta_us"] += 1.0
    frame.to_parquet(parquet, index=False)
    with pytest.raises(DataIntegrityError, match="sha256"):
        runner.run(planned.specs, profile.out)
    assert not (tmp_path / "out" / "results").exists()
    with pytest.raises(DataIntegrityError, match="altered"):
        runner.plan(["majority"], None, profile)


def test_an_edited_split_is_refused_before_anything_runs(data, tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    splits = json.loads((copy / "splits.json").read_text())
    entry = next(iter(splits["traces"].values()))
    entry["sigma_us"] = entry["sigma_us"] * 100
    (copy / "splits.json").write_text(json.dumps(splits))
    with pytest.raises(DataIntegrityError, match=r"splits\.json"):
        runner.plan(["majority"], None, _profile(copy, tmp_path / "out"))


# -- names -------------------------------------------------------------------------------------
def _named_model_file(tmp_path: Path, name: str) -> str:
    path = tmp_path / "named.py"
    path.write_text(
        "from tests.helpers.harness_models import Constant\n\n"
        f"class Named(Constant):\n    name = {name!r}\n"
    )
    return f"{path}:Named"


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", "x" * 65, "p:ab"])
def test_a_model_name_unsafe_as_a_folder_is_refused_before_anything_runs(data, tmp_path, name):
    with pytest.raises(ValueError, match="cannot name a results folder"):
        runner.plan([_named_model_file(tmp_path, name)], None, _profile(data, tmp_path))


def test_a_file_model_named_like_a_registered_model_is_refused(data, tmp_path):
    with pytest.raises(UnknownModelError, match="registered model's"):
        runner.plan([_named_model_file(tmp_path, "markov")], None, _profile(data, tmp_path))


def test_a_model_file_that_fails_to_import_is_one_line_error(data, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def oops(:\n")
    with pytest.raises(UnknownModelError, match=r"broken\.py:1: syntax error"):
        runner.plan([f"{path}:Model"], None, _profile(data, tmp_path))


# -- what a result records ---------------------------------------------------------------------
def test_a_result_records_relative_paths_reproducibility_facts_and_compile_cost(
    data, tmp_path, monkeypatch
):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    _run([f"{MODELS}:CompiledOnline"], data, tmp_path)
    path = tmp_path / "results" / "compiled_online" / _trace(data) / "seed0.json"
    text = path.read_text()
    on_disk = read_result(path)
    assert on_disk["status"] == "ok", on_disk["error"]
    assert on_disk["model_spec"] == "tests/helpers/harness_models.py:CompiledOnline"
    assert str(Path(__file__).resolve().parents[1]) not in text
    assert on_disk["costs"]["online_compile_s"] == 0.25
    assert on_disk["costs"]["online_state_bytes"] == 4096
    machine = on_disk["machine"]
    assert machine["threads"] == 1
    cpuinfo = Path("/proc/cpuinfo").read_text()
    first = next((ln for ln in cpuinfo.splitlines() if ln.startswith("model name")), None)
    assert machine["cpu_model"] == (first.split(":", 1)[1].strip() if first else "unknown")
    from numpy._core import _multiarray_umath as umath

    assert machine["numpy_isa"]["baseline"] == list(umath.__cpu_baseline__)
    assert machine["torch_isa"] is None  # the model never imported torch
    with np.load(path.with_suffix(".npz")) as stored:
        _, split = _truth(data)
        assert stored["positions"].tolist() == list(range(*split.test))


def test_params_sources_are_relative_to_the_repository(tmp_path, monkeypatch):
    from benchmark.results.store import stored_params

    monkeypatch.delenv("KERNEL_ORACLE_LEADERBOARD", raising=False)
    _, sources = stored_params("lstm", ["task", "delta"])
    for target, source in sources.items():
        tuned = (
            Path(__file__).resolve().parents[1] / "leaderboard" / "params" / f"lstm-{target}.json"
        )
        assert source == (f"leaderboard/params/lstm-{target}.json" if tuned.exists() else "default")
    outside = tmp_path / "mine.json"
    outside.write_text('{"hidden": 8}')
    params, sources = stored_params("lstm", ["task"], override=outside)
    assert params == {"task": {"hidden": 8}} and sources == {"task": "mine.json"}


def test_progress_reports_a_start_and_a_done_per_run(data, tmp_path):
    profile = _profile(data, tmp_path)
    planned = runner.plan(["majority", "ewma"], None, profile)
    events = []
    runner.run(planned.specs, profile.out, jobs=2, progress=events.append)
    kinds = sorted((e.kind, e.spec.label) for e in events)
    assert kinds == [
        ("done", "ewma"),
        ("done", "majority"),
        ("start", "ewma"),
        ("start", "majority"),
    ]
    assert sorted(e.done for e in events if e.kind == "done") == [1, 2]
    assert all(e.total == 2 for e in events)


def test_same_run_twice_gives_identical_metrics_for_a_tree_and_a_neural_model(data, tmp_path):
    profile = replace(_profile(data, tmp_path, seeds=1), fast_params=True)
    planned = runner.plan(["decision_tree", "lstm"], None, profile)
    first = runner.run(planned.specs, profile.out, jobs=2)
    second = runner.run(planned.specs, profile.out, jobs=2)
    for a, b in zip(first, second, strict=True):
        assert a["status"] == b["status"] == "ok", (a["error"], b["error"])
        values = {m: e["value"] for m, e in a["metrics"].items()}
        assert values == {m: e["value"] for m, e in b["metrics"].items()}
        assert all(math.isfinite(v) for v in values.values())
    lstm = next(r for r in first if r["model"] == "lstm")
    assert lstm["machine"]["torch_isa"]
    assert lstm["machine"]["torch_threads"] == lstm["machine"]["threads"]


# -- costs -------------------------------------------------------------------------------------
FIT_SLEEP_S = 0.3
PREDICT_SLEEP_S = 0.2
STEP_SLEEP_S = 0.002
ALLOC_MIB = 400
ASKED_STEPS = 200

_COSTLY = f"""
import time

import numpy as np

from benchmark.running.protocol import OnlinePredictor
from tests.helpers.harness_models import Constant


class _SlowStream(OnlinePredictor):
    def __init__(self, n_tasks: int) -> None:
        self.proba = np.zeros(n_tasks, dtype=np.float32)
        self.proba[0] = 1.0

    def predict_next(self):
        time.sleep({STEP_SLEEP_S})
        return self.proba, 10.0

    def update(self, row) -> None:
        pass


class Costly(Constant):
    name = "costly"

    def __init__(self) -> None:  # built outside the timed fit
        block = np.ones({ALLOC_MIB} * 2**20, dtype=np.uint8)  # touched: resident
        assert int(block[::4096].sum()) == len(block) // 4096

    def fit(self, train, *, valid=None, seed=0, report=None):
        time.sleep({FIT_SLEEP_S})
        self.slow_predict_ = True
        return super().fit(train)

    def predict(self, runs, positions):
        if self.slow_predict_:  # the first (timed) call only, not the spot re-predictions
            self.slow_predict_ = False
            time.sleep({PREDICT_SLEEP_S})
        return super().predict(runs, positions)

    def online(self, history):
        return _SlowStream(history.n_tasks)
"""


def test_costs_measure_the_time_memory_and_steps_the_model_is_known_to_take(data, tmp_path):
    """fit_s/predict_s cover a known sleep, online p50 a known per-step sleep (p50 <= p99),
    online_steps is the number asked, and peak RSS covers a known resident allocation."""
    path = tmp_path / "costly.py"
    path.write_text(_COSTLY)
    profile = replace(_profile(data, tmp_path / "out"), online_steps=ASKED_STEPS)
    planned = runner.plan([f"{path}:Costly"], None, profile)
    (result,) = runner.run(planned.specs, profile.out)
    assert result["status"] == "ok", result["error"]
    costs = result["costs"]
    assert FIT_SLEEP_S <= costs["fit_s"] < FIT_SLEEP_S + 30
    assert PREDICT_SLEEP_S <= costs["predict_s"] < PREDICT_SLEEP_S + 30
    assert costs["online_steps"] == ASKED_STEPS
    assert STEP_SLEEP_S * 1e6 <= costs["online_p50_us"] <= costs["online_p99_us"]
    assert costs["online_p99_us"] < 1e6  # a 2 ms step is not measured as a second
    assert costs["peak_rss_mb"] >= ALLOC_MIB
    assert costs["peak_rss_mb"] < 8 * 1024  # MiB, not KiB read as MiB
