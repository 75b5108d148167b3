"""Races of `tune` (README §6): workers starting together, Ctrl-C, kill -9.

Real processes on small synthetic traces. Waits are on files the toy model leaves
(tests/fixtures/tuning_race_models.py), never on the clock; deadlines only catch hangs
(tests/fixtures/tune_processes.py).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from benchmark.running import tuning
from benchmark.running.study_records import budget_used
from tests.fixtures.synthetic import write_data_root
from tests.fixtures.tune_processes import (
    HANG_S,
    REPO,
    check_after_a_kill,
    env_for,
    lines,
    start,
    tune_command,
    wait_for,
)

# Each worker waits at a barrier (a file per worker and round) so that both open the same fresh
# study at the same moment, round after round.
DRIVER = r"""
import json, sys, time
from pathlib import Path
from benchmark.running import tuning

folder, index, rounds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
results = []
for r in range(rounds):
    (folder / f"ready-{r}-{index}").touch()
    while not all((folder / f"ready-{r}-{i}").exists() for i in (0, 1)):
        time.sleep(0.0005)
    try:
        report = tuning.tune(
            "tests.fixtures.tuning_models:Recorder", "task", traces=["syn"], trials=4,
            storage=f"sqlite:///{folder}/races.db", study_name=f"race{r}",
            write_params=False, quiet=True,
        )
        results.append({"ran": report.ran_trials})
    except BaseException as error:
        results.append({"error": f"{type(error).__name__}: {error}"})
(folder / f"result-{index}.json").write_text(json.dumps(results))
"""


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return write_data_root(tmp_path_factory.mktemp("data"), {"syn": 600})


@pytest.mark.parametrize("queued", [0, 4], ids=["fresh", "queued-retries"])
def test_two_workers_starting_together_run_every_trial_once(tmp_path, data_root, queued):
    """Fresh studies: the defaults run once (they were enqueued twice, or popped twice: "Cannot
    tell a COMPLETE trial"). Studies holding WAITING trials (as retries of stale ones are): each
    is popped by one worker only, which SQLite does not enforce by itself."""
    rounds = 6
    storage = f"sqlite:///{tmp_path}/races.db"
    backend = tuning.open_storage(storage)
    for r in range(rounds):
        if queued:
            study = optuna.create_study(
                storage=backend, study_name=f"race{r}", direction="maximize"
            )
            for i in range(queued):
                study.enqueue_trial({"x": (i + 1) / (queued + 1)})
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(tmp_path), str(i), str(rounds)],
            cwd=REPO,
            env=env_for(data_root, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-3000:]
    results = [json.loads((tmp_path / f"result-{i}.json").read_text()) for i in range(2)]
    for r in range(rounds):
        errors = [w[r]["error"] for w in results if "error" in w[r]]
        assert not errors, f"round {r}: {errors}"
        trials = optuna.load_study(study_name=f"race{r}", storage=storage).trials
        ran = [w[r]["ran"] for w in results]
        assert len(ran[0] + ran[1]) == len(set(ran[0] + ran[1])), f"round {r}: run twice: {ran}"
        done = [t.number for t in trials if t.state == TrialState.COMPLETE]
        assert sorted(ran[0] + ran[1]) == done, f"round {r}: each trial run once: {ran}"
        assert all(t.state in (TrialState.COMPLETE, TrialState.WAITING) for t in trials)
        defaults = [t.number for t in trials if t.user_attrs.get("defaults")]
        assert defaults == [0], f"round {r}: the defaults ran as trials {defaults}"
        assert 4 <= len(done) <= 5  # the budget, plus one trial already running at the stop


# -- Ctrl-C ---------------------------------------------------------------------------------------
def test_ctrl_c_mid_trial_exits_at_once_with_one_line_and_the_trial_is_not_charged(
    tmp_path, data_root
):
    marks = tmp_path / "marks"
    marks.mkdir()
    storage = f"sqlite:///{tmp_path / 'c.db'}"
    env = env_for(data_root, tmp_path, KO_TEST_MARKS=str(marks), KO_TEST_SLEEP="0.2")
    process = start(tune_command(storage, 10), env)
    wait_for(marks / f"{process.pid}-3.start", process)  # two trials done, the third fitting
    process.send_signal(signal.SIGINT)
    try:
        _out, err = process.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("tune did not exit after Ctrl-C (hung)")
    assert process.returncode == 130
    assert lines(err) == [
        "error: interrupted: the study is kept and the interrupted trial is not charged; "
        "re-run the same command to resume"
    ]
    trials = optuna.load_study(study_name="s", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAIL]
    assert "error" not in trials[2].user_attrs
    assert budget_used(optuna.load_study(study_name="s", storage=storage))[0] == 2


@pytest.mark.parametrize("where", ["report", "tell"])
def test_ctrl_c_during_a_storage_write_is_held_until_it_is_done(env_in_process, where):
    """SIGINT while Optuna writes (trial 1's reported score, or telling it) waits for the write;
    the study then stops with every trial finished (none RUNNING, no heartbeat thread left)."""
    import threading

    from optuna.storages import RDBStorage

    method = "set_trial_intermediate_value" if where == "report" else "set_trial_state_values"
    original = getattr(RDBStorage, method)
    calls = []

    def write_with_sigint(self, trial_id, *args, **kwargs):
        state = args[0] if args else kwargs.get("state")
        if where == "report" or state == TrialState.COMPLETE:
            calls.append(trial_id)
            if len(calls) == (13 if where == "report" else 2):  # trial 1 (of 10 epochs each)
                signal.raise_signal(signal.SIGINT)  # handled here, in the middle of the write
        return original(self, trial_id, *args, **kwargs)

    env_in_process["patch"].setattr(RDBStorage, method, write_with_sigint)
    with pytest.raises(KeyboardInterrupt):
        tuning.tune(
            "tests.fixtures.tuning_models:Epochs",
            "task",
            traces=["syn"],
            trials=5,
            storage=env_in_process["storage"],
            study_name="held",
            quiet=True,
        )
    trials = optuna.load_study(study_name="held", storage=env_in_process["storage"]).trials
    assert [t.state for t in trials][:1] == [TrialState.COMPLETE] and len(trials) == 2
    if where == "report":  # the score was stored, then the model code was interrupted
        assert trials[1].state == TrialState.FAIL and "error" not in trials[1].user_attrs
        assert len(trials[1].intermediate_values) == 3
    else:  # the trial being told was told, and no other began
        assert trials[1].state == TrialState.COMPLETE
    assert not [t for t in threading.enumerate() if "_record_heartbeat" in t.name]


def test_an_interrupted_defaults_trial_is_queued_again_and_runs_once(env_in_process):
    from tests.fixtures import tuning_models as tm

    env_in_process["patch"].setattr(tm.Interrupting, "calls", 0)
    env_in_process["patch"].setattr(tm.Interrupting, "interrupt_at", 1)
    run = {
        "traces": ["syn"],
        "trials": 3,
        "storage": env_in_process["storage"],
        "study_name": "d",
        "quiet": True,
    }
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("tests.fixtures.tuning_models:Interrupting", "task", **run)
    report = tuning.tune("tests.fixtures.tuning_models:Interrupting", "task", **run)
    trials = optuna.load_study(study_name="d", storage=env_in_process["storage"]).trials
    assert trials[0].state == TrialState.FAIL and "error" not in trials[0].user_attrs
    defaults = [t for t in trials if t.user_attrs.get("defaults")]
    assert [t.state for t in defaults] == [TrialState.FAIL, TrialState.COMPLETE]
    assert report.summary["default_value"] == defaults[1].value
    assert report.summary["used"]["counted_trials"] == 3
    assert report.summary["trials"]["interrupted"] == 1


@pytest.fixture
def env_in_process(tmp_path, data_root, monkeypatch):
    """The study runs in this process, with SIGINT live: a test runner started in the
    background by a non-interactive shell inherits SIGINT ignored, and the runner rightly
    leaves an ignored SIGINT ignored (`study_runner`), so these tests would see no Ctrl-C."""
    import signal

    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(data_root))
    monkeypatch.setenv("KERNEL_ORACLE_LEADERBOARD", str(tmp_path / "lb"))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield {"storage": f"sqlite:///{tmp_path / 'h.db'}", "patch": monkeypatch}
    finally:
        signal.signal(signal.SIGINT, previous)


# -- kill -9 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_killed_workers_trial_is_failed_not_charged_and_retried(tmp_path, data_root, kind):
    """SQLite: by Optuna's heartbeat (1 s here, stale after 4); journal (no heartbeat): the
    trial's worker is a process of this host that is gone."""
    import time

    from benchmark.running.study_storage import GRACE_FACTOR

    marks = tmp_path / "marks"
    marks.mkdir()
    storage = (
        f"sqlite:///{tmp_path / 'k.db'}" if kind == "sqlite" else f"journal:{tmp_path}/k.jsonl"
    )
    env = env_for(data_root, tmp_path, KO_TEST_MARKS=str(marks), KO_TEST_SLEEP="0.3")
    command = tune_command(storage, 6, "--heartbeat", "1")
    first = start(command, env)
    wait_for(marks / f"{first.pid}-3.start", first)  # trials 0, 1 told, trial 2 fitting
    first.kill()
    first.communicate()
    if kind == "sqlite":
        time.sleep(GRACE_FACTOR * 1 + 1)  # its heartbeat goes stale (a protocol wait, not a check)
    second = start(command, env)
    _out, err = second.communicate(timeout=HANG_S)
    assert second.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name="s", storage=tuning.open_storage(storage))
    check_after_a_kill(study, first.pid, marks, budget=6)
