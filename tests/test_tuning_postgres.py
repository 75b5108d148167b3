"""Distributed tuning on a real PostgreSQL server (README §6), the way several machines share one
study: the test runs its own cluster (initdb / pg_ctl in a temporary folder, a free port, as the
`postgres` user when run as root) and two `kernel-oracle tune` processes on one study; one is
killed with SIGKILL mid-trial, the other stopped with Ctrl-C, and a re-run completes the budget.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest

from benchmark.running import tuning
from benchmark.running.study_records import budget_used
from benchmark.running.study_storage import GRACE_FACTOR
from tests.fixtures.synthetic import write_data_root
from tests.fixtures.tune_processes import (
    HANG_S,
    check_after_a_kill,
    env_for,
    lines,
    start,
    tune_command,
    wait_for,
)


def _pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "pg_ctl").exists():
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


PG_BIN = _pg_bin()
pytestmark = pytest.mark.skipif(
    PG_BIN is None,
    reason="PostgreSQL binaries (initdb, pg_ctl) are absent: install Debian's postgresql "
    "(.ci/run does) to run the distributed-tuning test",
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return write_data_root(tmp_path_factory.mktemp("data"), {"syn": 600})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster(str):
    """The URL of a running test cluster, with `stop()` to take the server away."""

    stop: Callable[[], None]


@pytest.fixture
def postgres() -> Iterator[Cluster]:
    """A fresh cluster with an empty database `optuna`; its URL. Always stopped afterwards."""
    assert PG_BIN is not None
    folder = Path(tempfile.mkdtemp(prefix="ko-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()

    def pg(*args: object) -> None:
        done = subprocess.run(
            [*run_as, *map(str, args)],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{args[0]}: {done.stderr[-2000:]}"

    def stop() -> None:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*run_as, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
            )

    try:
        pg(PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "-N")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg(
            PG_BIN / "pg_ctl",
            "-D",
            data,
            "-l",
            folder / "log",
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        _create_database(port, "optuna")
        cluster = Cluster(f"postgresql://postgres@127.0.0.1:{port}/optuna")
        cluster.stop = stop
        yield cluster
    finally:
        stop()
        shutil.rmtree(folder, ignore_errors=True)


def _create_database(port: int, name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
    finally:
        connection.close()


def _starts(marks: Path, pid: int) -> int:
    return len(list(marks.glob(f"{pid}-*.start")))


def test_two_workers_on_postgres_one_killed_mid_trial_and_a_rerun_completes(
    postgres,
    tmp_path,
    data_root,
):
    budget = 16
    marks = tmp_path / "marks"
    marks.mkdir()
    env = env_for(data_root, tmp_path, KO_TEST_MARKS=str(marks), KO_TEST_SLEEP="0.3")
    command = tune_command(postgres, budget, "--heartbeat", "1")
    killed = start(command, env)
    wait_for(marks / f"{killed.pid}-1.start", killed)  # the study and its tables exist
    other = start(command, env)
    wait_for(marks / f"{other.pid}-1.start", other)  # both are running trials now
    wait_for(marks / f"{killed.pid}-{_starts(marks, killed.pid) + 1}.start", killed)
    killed.kill()  # SIGKILL mid-fit
    killed.communicate()
    killed_at = time.monotonic()
    wait_for(marks / f"{other.pid}-{_starts(marks, other.pid) + 1}.start", other)
    other.send_signal(signal.SIGINT)  # the other stops too: the budget is not spent
    _out, err = other.communicate(timeout=HANG_S)
    assert other.returncode == 130 and len(lines(err)) == 1, err[-2000:]

    storage = tuning.open_storage(postgres)
    study = optuna.load_study(study_name="s", storage=storage)
    workers = {t.user_attrs.get("worker", "").rpartition(":")[2] for t in study.trials}
    assert {str(killed.pid), str(other.pid)} <= workers
    assert budget_used(study)[0] < budget

    # The killed trial's heartbeat (1 s) goes stale after GRACE_FACTOR beats: a protocol wait.
    time.sleep(max(0.0, GRACE_FACTOR * 1 + 1 - (time.monotonic() - killed_at)))
    rerun = start(command, env)
    _out, err = rerun.communicate(timeout=HANG_S)
    assert rerun.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name="s", storage=storage)
    check_after_a_kill(study, killed.pid, marks, budget=budget)
    interrupted = [t for t in study.trials if t.user_attrs["worker"].endswith(f":{other.pid}")]
    assert sum(t.state == optuna.trial.TrialState.FAIL for t in interrupted) == 1


def test_a_server_that_goes_away_mid_study_is_one_line_and_no_hang(postgres, tmp_path, data_root):
    """The main thread reports the lost server in one line (exit 2); the heartbeat thread, which
    loses it too, prints no traceback."""
    marks = tmp_path / "marks"
    marks.mkdir()
    env = env_for(data_root, tmp_path, KO_TEST_MARKS=str(marks), KO_TEST_SLEEP="1.5")
    process = start(tune_command(postgres, 50, "--heartbeat", "1"), env)
    wait_for(marks / f"{process.pid}-2.start", process)
    postgres.stop()
    _out, err = process.communicate(timeout=HANG_S)
    assert process.returncode == 2, err[-3000:]
    assert len(lines(err)) == 1, err[-3000:]
    assert lines(err)[0].startswith(f"error: --storage {postgres}: it failed during the study (")
    assert "re-run the same command to resume" in lines(err)[0]
