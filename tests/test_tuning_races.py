"""Races of `tune` (README §6): workers starting together, Ctrl-C, kill -9.

Real processes on small synthetic traces. Waits are on files the toy model leaves
(tests/fixtures/tuning_race_models.py), never on the clock; deadlines only catch hangs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from benchmark.running import tuning
from tests.fixtures.synthetic import write_data_root

REPO = Path(__file__).resolve().parents[1]
MARKED = f"{REPO / 'tests' / 'fixtures' / 'tuning_race_models.py'}:Marked"
HANG_S = 60  # a process that has not exited by then is hung

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


def _env(data_root: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KERNEL_ORACLE_DATA": str(data_root),
        "KERNEL_ORACLE_LEADERBOARD": str(tmp_path / "lb"),
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        **extra,
    }


def _default_sigint() -> None:
    """Children get Ctrl-C's default handling even when the test runner ignores SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
            env=_env(data_root, tmp_path),
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
