"""Tuning: valid rows only, resumable, failures recorded, pruning, params files, two processes.

Runs on small synthetic traces written to a temporary data folder (a random Markov chain over a
few tasks), so the tuner's behaviour is tested without the shipped data and in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import optuna
import pytest
from optuna.trial import FixedTrial, TrialState

from benchmark.running import tuning
from benchmark.running.protocol import search_space_for
from benchmark.running.registry import build_model, get_model_class, registered
from tests.fixtures import tuning_models as tm
from tests.fixtures.synthetic import write_data_root

REPO = Path(__file__).resolve().parents[1]
MODELS = "tests.fixtures.tuning_models"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return write_data_root(tmp_path_factory.mktemp("data"), {"syn": 1500, "syn2": 1000})


@pytest.fixture
def env(tmp_path, data_root, monkeypatch) -> dict:
    """Data and leaderboard folders for this test; a storage file of its own."""
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(data_root))
    monkeypatch.setenv("KERNEL_ORACLE_LEADERBOARD", str(tmp_path / "lb"))
    tm.Recorder.log.clear()
    return {
        "storage": f"sqlite:///{tmp_path / 'studies.db'}",
        "lb": tmp_path / "lb",
        "data": data_root,
    }


def _tune(env: dict, model: str, target: str = "task", **kwargs):
    kwargs.setdefault("storage", env["storage"])
    kwargs.setdefault("traces", ["syn"])
    kwargs.setdefault("quiet", True)
    return tuning.tune(f"{MODELS}:{model}", target, **kwargs)


def _study(env: dict, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=env["storage"])


def _split(env: dict, trace: str = "syn"):
    from benchmark.data.dataset import load_splits

    return load_splits(env["data"])[trace]


# -- what the tuner reads -----------------------------------------------------------------------
@pytest.mark.parametrize("target", ["task", "delta"])
def test_tuning_fits_on_train_scores_valid_and_never_reads_test_rows(env, target):
    _tune(env, "Recorder", target, trials=3, traces=["syn", "syn2"])
    assert tm.Recorder.log, "the test model was not used"
    for trace in ("syn", "syn2"):
        split = _split(env, trace)
        assert split.test[0] == split.valid[1]
    test_start = {_split(env, t).test[0] for t in ("syn", "syn2")}
    for kind, end, last in tm.Recorder.log:
        if kind == "fit":  # train rows end at the train boundary; valid at the valid boundary
            assert end in {_split(env, t).train[1] for t in ("syn", "syn2")}
            assert last in {_split(env, t).valid[1] for t in ("syn", "syn2")}
        else:  # history = train + valid; scored positions are valid rows
            assert end in test_start
            assert last < end
    assert max(max(end, last) for _, end, last in tm.Recorder.log) <= max(test_start)


def test_a_model_that_trains_on_valid_gets_the_tail_of_train_as_valid(env):
    _tune(env, "TrainsOnValid", trials=1)
    split = _split(env)
    fits = [(end, last) for kind, end, last in tm.Recorder.log if kind == "fit"]
    valid_len = split.valid[1] - split.valid[0]
    assert fits == [(split.train[1] - valid_len, split.train[1])]


def test_the_objective_is_the_valid_accuracy(env):
    report = _tune(env, "Recorder", trials=4)
    study = _study(env, report.study_name)
    from benchmark.data.dataset import load_trace
    from benchmark.scoring.metrics import score_task

    runs = load_trace("syn", env["data"])
    for trial in study.trials:
        model = tm.Recorder(**trial.params).fit(runs.train(), valid=runs.valid())
        positions = tuning.valid_positions(runs)
        pred = model.predict(runs.through_valid(), positions)
        expected = score_task(runs.task[positions], pred.task_proba)["acc"]
        assert trial.value == pytest.approx(expected)


# -- resuming, failures, pruning ----------------------------------------------------------------
def test_a_rerun_resumes_the_study_to_its_budget(env):
    first = _tune(env, "Recorder", trials=3)
    study = _study(env, first.study_name)
    before = [(t.number, t.params) for t in study.trials]
    assert len(before) == 3 and first.ran_trials == [0, 1, 2]
    second = _tune(env, "Recorder", trials=6)
    trials = _study(env, first.study_name).trials
    assert len(trials) == 6 and second.ran_trials == [3, 4, 5]
    assert [(t.number, t.params) for t in trials[:3]] == before
    assert all(t.state == TrialState.COMPLETE for t in trials)
    params = json.loads((env["lb"] / "params" / "recorder-task.json").read_text())
    assert params["trials"]["complete"] == 6 and params["budget"]["trials"] == 6
    third = _tune(env, "Recorder", trials=6)  # budget spent: nothing more runs
    assert third.ran_trials == [] and len(_study(env, first.study_name).trials) == 6


def test_an_interrupted_study_resumes_and_the_interrupted_trial_is_not_charged(env):
    tm.Interrupting.calls = 0
    with pytest.raises(KeyboardInterrupt):
        _tune(env, "Interrupting", trials=5)
    name = tuning.study_name_for("interrupting", "task", ["syn"])
    states = [t.state for t in _study(env, name).trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    report = _tune(env, "Interrupting", trials=5)
    trials = _study(env, name).trials
    assert len(trials) == 6
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 5
    assert report.summary["trials"]["interrupted"] == 1
    assert report.summary["trials"]["failed"] == 0


def test_failed_trials_are_recorded_as_failed_and_the_study_goes_on(env):
    report = _tune(env, "Flaky", trials=10)
    trials = _study(env, report.study_name).trials
    failed = [t for t in trials if t.state == TrialState.FAIL]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert failed and complete and len(trials) == 10
    assert all("deliberate failure" in t.user_attrs["error"] for t in failed)
    assert all(t.params["x"] > 0.5 for t in failed)
    assert report.summary["trials"]["failed"] == len(failed)
    assert report.summary["params"]["x"] <= 0.5


def test_reported_epoch_scores_prune_bad_trials(env):
    tm.Epochs.epochs_run.clear()
    # An explicit storage derives a fresh sampler seed (shared studies), so which x values are
    # tried varies from run to run: 30 trials make "none below the median" vanishingly rare.
    report = _tune(env, "Epochs", trials=30)
    trials = _study(env, report.study_name).trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, "no trial was pruned"
    assert all(len(t.intermediate_values) < 10 for t in pruned)
    assert len(tm.Epochs.epochs_run) < 30 * 10
    assert report.summary["trials"]["pruned"] == len(pruned)


def test_defaults_outside_the_search_space_still_make_the_first_trial(env):
    class ZeroOnLogScale(tm.Recorder):
        def __init__(self, *, x: float = 0.0) -> None:
            self.x = x

        @classmethod
        def search_space(cls, trial):
            return {"x": trial.suggest_float("x", 1e-3, 1.0, log=True)}

    cls = ZeroOnLogScale
    defaults = tuning.constructor_defaults(cls)
    assert defaults == {"x": 0.0}
    objective_params = []

    class Trial:  # trial 0 of a study
        number = 0
        user_attrs: ClassVar[dict] = {}

        def set_user_attr(self, key, value):
            if key == "constructor_params":
                objective_params.append(value)

    objective = tuning.make_objective(cls, "delta", [], seed=0, worker="w")
    with pytest.raises(tuning.TuningError):  # no traces: the mean of nothing is not finite
        objective(Trial())
    assert objective_params == [{"x": 0.0}]


def test_a_lower_is_better_report_is_flipped_for_a_maximising_study():
    class Loss(tm.Recorder):
        report_metric = ("valid_loss", False)

    assert tuning.report_sign(Loss, "maximize") == -1.0
    assert tuning.report_sign(Loss, "minimize") == 1.0
    assert tuning.report_sign(tm.Epochs, "maximize") == 1.0
    assert tuning.report_sign(tm.Recorder, "minimize") == 1.0


# -- what is written ----------------------------------------------------------------------------
def test_the_params_file_holds_the_best_params_budget_and_summary(env):
    report = _tune(env, "Recorder", "delta", trials=5, timeout_s=120.0, seed=3)
    path = env["lb"] / "params" / "recorder-delta.json"
    assert report.params_file == path
    saved = json.loads(path.read_text())
    study = _study(env, report.study_name)
    best = study.trials[saved["best_trial"]]
    assert best.value == study.best_value
    assert saved["params"] == best.user_attrs["constructor_params"]
    assert saved["best_value"] == study.best_value
    assert saved["objective"]["metric"] == "mse_z" and saved["objective"]["direction"] == "minimize"
    assert saved["budget"]["trials"] == 5 and saved["budget"]["timeout_s"] == 120.0
    assert saved["budget"]["is_default"] is False
    assert saved["trials"] == {
        "total": 5,
        "complete": 5,
        "pruned": 0,
        "failed": 0,
        "interrupted": 0,
        "running": 0,
        "waiting": 0,
    }
    assert study.trials[0].user_attrs["defaults"] is True
    assert study.trials[0].user_attrs["constructor_params"] == {"x": 0.25}  # the defaults
    assert saved["default_value"] == study.trials[0].value
    assert saved["gain_over_default"] == pytest.approx(saved["default_value"] - saved["best_value"])
    assert saved["data_sha256"]["syn"] and saved["versions"]["optuna"] == optuna.__version__
    assert saved["date"] and saved["study"]["seed"] == 3
    # The harness reads it back.
    from benchmark.results.store import stored_params

    params, sources = stored_params("recorder", ["delta"], root=env["lb"])
    assert params == {"delta": saved["params"]} and sources["delta"].endswith("recorder-delta.json")


def test_default_budget_is_stated():
    assert tuning.DEFAULT_TRIALS >= 20 and tuning.DEFAULT_TIMEOUT_S > 0


def test_a_model_with_nothing_to_tune_is_refused_naming_the_option(env):
    with pytest.raises(tuning.TuningError, match=r"^--model majority: nothing to tune"):
        tuning.tune("majority", "task", traces=["syn"], trials=5, storage=env["storage"])


def test_a_study_of_other_data_is_refused(env):
    _tune(env, "Recorder", trials=1, study_name="shared-name")
    with pytest.raises(tuning.TuningError, match=r"other|something else"):
        _tune(env, "Recorder", trials=1, study_name="shared-name", traces=["syn2"])


def test_a_target_the_model_does_not_predict_is_refused(env):
    class TaskOnly(tm.Recorder):
        targets = frozenset({"task"})

    with pytest.raises(tuning.TuningError, match="unknown target"):
        _tune(env, "Recorder", target="both")
    import tests.fixtures.tuning_models as module

    module.TaskOnly = TaskOnly
    try:
        with pytest.raises(tuning.TuningError, match="does not predict"):
            _tune(env, "TaskOnly", target="delta")
    finally:
        del module.TaskOnly


def test_passwords_are_not_written():
    assert tuning.redact("postgresql://kb:s3cret@db.example:5432/optuna") == (
        "postgresql://kb:***@db.example:5432/optuna"
    )
    assert tuning.redact(tuning.default_storage_url()) == "sqlite:///.optuna/studies.db"


# -- every registered model's search space ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(registered()))
def test_search_space_of_each_registered_model(name):
    try:
        cls = get_model_class(name)
    except ImportError as error:
        pytest.skip(f"{name} is registered but cannot be imported yet: {error}")
    for target in sorted(cls.targets):  # each study's space (search_space(trial, target))
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        trial = study.ask()
        params = search_space_for(cls, trial, target)
        model = build_model(name, params)  # the suggested values construct the model
        assert {k: model.get_params()[k] for k in params} == params
        fixed = search_space_for(cls, FixedTrial(dict(trial.params)), target)
        assert fixed == params  # the same space replays from the suggested values alone
        build_model(name, fixed)


# -- two processes on one study -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_two_tune_processes_share_one_study_and_record_every_trial_once(tmp_path, data_root, kind):
    storage = (
        f"sqlite:///{tmp_path / 'shared.db'}"
        if kind == "sqlite"
        else f"journal:{tmp_path / 'j.log'}"
    )
    env = {
        **os.environ,
        "KERNEL_ORACLE_DATA": str(data_root),
        "KERNEL_ORACLE_LEADERBOARD": str(tmp_path / "lb"),
        "PYTHONPATH": str(REPO),
    }
    model = f"{REPO / 'tests' / 'fixtures' / 'tuning_models.py'}:Slow"
    command = [
        sys.executable,
        "-c",
        "from benchmark.cli import main; main()",
        "tune",
        "--model",
        model,
        "--target",
        "task",
        "--trace",
        "syn",
        "--trials",
        "12",
        "--storage",
        storage,
        "--study",
        "distributed",
    ]
    workers = [
        subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    ran = []
    for _, err in outputs:
        line = next(x for x in err.splitlines() if x.startswith("trials run by this process:"))
        numbers = line.split(":", 1)[1].strip()
        ran.append([int(n) for n in numbers.split(",")] if numbers else [])
    study = optuna.load_study(study_name="distributed", storage=tuning.open_storage(storage))
    trials = study.trials
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == len(trials)
    assert all(ran), f"each process should run trials: {ran}"
    assert not set(ran[0]) & set(ran[1]), "a trial was run by both processes"
    assert sorted(ran[0] + ran[1]) == sorted(numbers), "every trial of both is recorded once"
    assert all(t.state == TrialState.COMPLETE for t in trials)
    # The shared budget holds (a worker may finish one trial already running at the stop).
    assert 12 <= len(trials) <= 13
    workers_seen = {t.user_attrs["worker"] for t in trials}
    assert len(workers_seen) == 2


# -- journal files ------------------------------------------------------------------------------
def test_a_journal_file_keeps_the_study_and_a_later_run_resumes_it(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the README's relative path, made under the working folder
    storage = "journal:leaderboard/studies/recorder-task.jsonl"
    first = _tune(env, "Recorder", trials=3, storage=storage, study_name="recorder-task")
    path = tmp_path / "leaderboard" / "studies" / "recorder-task.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records and all("op_code" in r for r in records)  # one JSON record a line: auditable
    second = _tune(env, "Recorder", trials=5, storage=storage, study_name="recorder-task")
    assert first.ran_trials == [0, 1, 2] and second.ran_trials == [3, 4]
    study = optuna.load_study(study_name="recorder-task", storage=tuning.open_storage(storage))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 5
    assert second.summary["study"]["storage"] == storage


def test_workers_reach_the_study_through_optuna_s_grpc_proxy(env, tmp_path):
    pytest.importorskip("grpc", reason="grpcio is not installed (pip install grpcio protobuf)")
    import socket
    import time

    port, behind = _closed_port(), f"sqlite:///{tmp_path / 'behind.db'}"
    serve = (
        "from optuna.storages import get_storage, run_grpc_proxy_server; "
        f"run_grpc_proxy_server(get_storage({behind!r}), host='127.0.0.1', port={port})"
    )
    server = subprocess.Popen([sys.executable, "-c", serve], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        report = _tune(env, "Recorder", trials=3, storage=f"grpc://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=60)
    trials = optuna.load_study(study_name=report.study_name, storage=behind).trials
    assert report.ran_trials == [0, 1, 2]
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert [t.number for t in trials if t.user_attrs.get("defaults")] == [0]


# -- bad input: one line naming the option, exit 2 ----------------------------------------------
def _cli(*args: str):
    from typer.testing import CliRunner

    from benchmark.cli import _load_parts, app

    _load_parts()
    return CliRunner().invoke(app, ["tune", *args])


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BAD_INPUT = {
    "unknown model": (["--model", "nosuch"], "--model nosuch: "),
    "unknown target": (["--target", "both"], "--target both: unknown target; use task or delta"),
    "empty search space": (["--model", "majority"], "--model majority: nothing to tune"),
    "unknown trace": (["--trace", "nosuch"], "--trace nosuch: unknown trace"),
    "no trials": (["--trials", "0"], "--trials 0: give at least 1"),
    "no time": (["--timeout", "0"], "--timeout 0: give a positive number of seconds"),
    "no heartbeat": (["--heartbeat", "0"], "--heartbeat 0: give at least 1 second"),
    "no such scheme": (["--storage", "nosuch://x"], "--storage nosuch://x: not a storage URL"),
    "not a URL": (["--storage", "studies.db"], "--storage studies.db: not a storage URL"),
    "sqlite folder": (["--storage", "sqlite:////proc/ko/s.db"], "--storage sqlite:////proc/ko"),
    "empty journal name": (["--storage", "journal:"], "--storage journal: name the journal file"),
    "gRPC without a port": (["--storage", "grpc://proxy"], "--storage grpc://proxy: give grpc://"),
    "gRPC proxy not there": (
        ["--storage", f"grpc://127.0.0.1:{_closed_port()}"],
        "--storage grpc://127.0.0.1:",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_naming_the_option(env, case):
    args, expected = BAD_INPUT[case]
    base = {"--model": f"{MODELS}:Recorder", "--target": "task", "--trace": "syn"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    base.setdefault("--storage", env["storage"])
    result = _cli(*[x for pair in base.items() for x in pair])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output, result.output
    assert result.output.startswith(f"error: {expected}"), result.output


def test_a_database_that_is_not_there_fails_at_once_without_printing_the_password(env, monkeypatch):
    from benchmark.running import study_storage

    waits = []
    monkeypatch.setattr(study_storage.time, "sleep", waits.append)  # no retrying a refusal
    url = f"postgresql://kb:s3cret@127.0.0.1:{_closed_port()}/optuna"
    result = _cli("--model", f"{MODELS}:Recorder", "--target", "task", "--storage", url)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"error: --storage {tuning.redact(url)}: cannot connect")
    assert "s3cret" not in result.output and waits == []


@pytest.mark.parametrize(
    "content",
    [b"hello\nworld\n", b'{"a": 1}\n', b"\x00\xff\x8b binary", b"not json, no newline"],
    ids=["text", "json-not-journal", "binary", "one-line"],
)
def test_a_journal_file_that_is_not_a_journal_is_named(env, tmp_path, content):
    path = tmp_path / "studies.jsonl"
    path.write_bytes(content)
    result = _cli(
        "--model", f"{MODELS}:Recorder", "--target", "task", "--storage", f"journal:{path}"
    )
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"error: --storage journal:{path}: {path} is not an Optuna")
    assert path.read_bytes() == content  # left as it was


def test_a_folder_given_as_the_journal_file_is_named(env, tmp_path):
    result = _cli(
        "--model", f"{MODELS}:Recorder", "--target", "task", "--storage", f"journal:{tmp_path}"
    )
    assert result.exit_code == 2, result.output
    assert (
        result.output
        == f"error: --storage journal:{tmp_path}: {tmp_path} is a folder, not a journal file\n"
    )
