"""Profiles, the seeds rule and the thread policy: decided in one place each."""

from __future__ import annotations

import os

import pytest

from benchmark.core import threads
from benchmark.core.paths import REPO_ROOT
from benchmark.running import profiles
from benchmark.running.profiles import make_profile
from benchmark.running.runner import is_reference, is_stochastic
from tests.helpers.harness_models import Constant, Stochastic


def test_the_three_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("KERNEL_ORACLE_LEADERBOARD", str(tmp_path / "lb"))
    full = make_profile()
    assert (full.name, full.out, full.data_root) == ("full", tmp_path / "lb", None)
    assert (full.timeout_s, full.seeds, full.fast_params) == (1800.0, 3, False)
    quick = make_profile(quick=True)
    assert quick.out == REPO_ROOT / "build" / "leaderboard-quick"
    assert quick.data_root == quick.out / "data"
    assert (quick.timeout_s, quick.seeds, quick.fast_params) == (150.0, 1, True)
    assert (quick.excerpt_traces, quick.excerpt_runs) == (1, 12_000)
    private = tmp_path / "private"
    private.mkdir()
    (private / "manifest.json").write_text("{}")
    holdout = make_profile(holdout=private, timeout_s=60, seeds=2)
    assert (holdout.name, holdout.out, holdout.data_root) == (
        "holdout",
        private / "leaderboard",
        private,
    )
    assert (holdout.timeout_s, holdout.seeds) == (60, 2)
    assert make_profile(holdout=private, out=tmp_path / "o").out == tmp_path / "o"


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_a_timeout_must_be_positive_and_finite(timeout):
    with pytest.raises(ValueError, match="positive number of seconds per run"):
        make_profile(timeout_s=timeout)


def test_bad_combinations_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--seeds 0"):
        make_profile(seeds=0)
    with pytest.raises(FileNotFoundError, match=r"no manifest\.json"):
        make_profile(holdout=tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(ValueError, match="exclude each other"):
        make_profile(holdout=tmp_path, quick=True)


def test_unknown_traces_are_named(tmp_path):
    with pytest.raises(KeyError, match="unknown trace\\(s\\) nosuch"):
        profiles.prepare_data(make_profile(out=tmp_path), ["nosuch"])


def test_seeds_follow_the_stochastic_tag_and_fall_back_to_models_neural():
    from models import NEURAL, REFERENCE

    assert is_stochastic(Stochastic, "anything") and not is_stochastic(Constant, "constant")
    untagged = type("Untagged", (Constant,), {"tags": frozenset()})
    assert is_stochastic(untagged, NEURAL[0]) and is_reference(untagged, REFERENCE[0])
    assert not is_reference(Stochastic, REFERENCE[0])  # its own tags win


@pytest.mark.parametrize(
    ("env", "jobs", "cores", "expected"),
    [("3", 1, 8, 3), ("1", 4, 8, 1), (None, 2, 8, 4), (None, 3, 8, 2), (None, 16, 8, 1),
     ("0", 1, 8, 8), ("abc", 2, 8, 4), ("\u0663", 1, 8, 8)],
)  # fmt: skip
def test_threads_per_run(monkeypatch, env, jobs, cores, expected):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    environ = {} if env is None else {"OMP_NUM_THREADS": env}
    assert threads.threads_per_run(jobs, environ) == expected


def test_exported_sets_every_thread_variable_and_restores_them(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    with threads.exported(2):
        assert all(os.environ[name] == "2" for name in threads.THREAD_VARIABLES)
    assert os.environ["OMP_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in os.environ


def test_apply_threads_sets_torch_only_when_it_is_imported(monkeypatch):
    import sys

    class FakeTorch:
        n = 5

        def get_num_threads(self):
            return self.n

        def set_num_threads(self, n):
            self.n = n

    fake = FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", fake)
    assert threads.apply_threads(2) == 2 and fake.n == 2 and threads.torch_threads() == 2
    monkeypatch.delitem(sys.modules, "torch")
    assert threads.apply_threads(3) == 3 and threads.torch_threads() is None
