"""`make tune` / `tune --all` (issue 10 items 2-4): which studies it runs, the two fidelity rungs,
the journal files it resumes from, and its usage errors.

Real fits (markov, on excerpts of two shipped traces) so that the rungs see real valid scores;
the expected numbers are read back from the journal with Optuna, not from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from typer.testing import CliRunner

import benchmark.cli.board  # noqa: F401 (registers the commands)
from benchmark.cli.app import app
from benchmark.data.dataset import load_trace
from benchmark.results import schema
from benchmark.running import tune_all
from benchmark.running.profiles import make_quick_data
from benchmark.running.tuning import tuning_fit_rows
from models.reference import Markov
from models.tree import NegiDecisionTree

TRACES = ["keepalive", "timers"]
ROWS = 6000


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_quick_data(None, tmp_path_factory.mktemp("data"), TRACES, ROWS)


def _study(path: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))


def test_the_studies_are_every_tunable_model_and_target_slowest_first():
    assert tune_all.tunable_studies() == [
        ("gru", "delta"), ("gru", "task"), ("lstm", "delta"), ("lstm", "task"),
        ("lightgbm", "delta"), ("lightgbm", "task"), ("decision_tree", "delta"),
        ("decision_tree", "task"), ("arima", "delta"), ("markov", "delta"), ("markov", "task"),
        ("ewma", "delta"), ("ewma", "task"),
    ]  # fmt: skip


def test_low_fidelity_keeps_the_train_rows_nearest_valid(data):
    runs = load_trace(TRACES[0], data)
    (t0, t1), (v0, v1) = runs.split.train, runs.split.valid
    train, valid = tuning_fit_rows(runs, NegiDecisionTree, 1000)
    assert (train.start, train.start + len(train)) == (t1 - 1000, t1)
    assert (valid.start, valid.start + len(valid)) == (v0, v1)
    # A model that trains on its valid rows gets the tail of train as valid, and the rows
    # before it as train: the real valid rows stay unseen.
    train, valid = tuning_fit_rows(runs, Markov, 1000)
    cut = t1 - (v1 - v0)
    assert (valid.start, valid.start + len(valid)) == (cut, t1)
    assert (train.start, train.start + len(train)) == (cut - 1000, cut)
    full, _ = tuning_fit_rows(runs, Markov)
    assert (full.start, full.start + len(full)) == (t0, cut)


def test_a_study_runs_both_rungs_and_resumes_from_its_journal(data, tmp_path):
    lb = tmp_path / "lb"
    out = tune_all.run_study("markov", "task", trials=6, train_rows=1500, root=lb, data_root=data)
    journal = lb / "studies" / "markov-task.jsonl"
    rung0, rung1 = _study(journal, "markov-task@rung0"), _study(journal, "markov-task@rung1")
    states = [t.state.name for t in rung0.trials]
    assert len(states) == 6 and set(states) <= {"COMPLETE", "PRUNED", "FAIL"}
    assert rung0.trials[0].user_attrs.get("defaults")
    done = sorted(
        (t for t in rung0.trials if t.state.name == "COMPLETE" and t.number), key=lambda t: -t.value
    )
    full = rung1.trials
    assert full[0].user_attrs.get("defaults") and full[0].params == {}
    assert [t.params for t in full[1:]] == [t.params for t in done[:2]], "the 2 best promoted"
    assert all(t.state.name == "COMPLETE" for t in full)
    best = max(full, key=lambda t: t.value)
    summary = schema.load(lb / "params" / "markov-task.json", "params")  # the published schema
    assert summary["best_value"] == best.value and summary["default_value"] == full[0].value
    assert summary["best_value"] >= summary["default_value"], "never worse than the defaults"
    assert summary["gain_over_default"] == pytest.approx(best.value - full[0].value)
    assert summary["params"] == best.user_attrs["constructor_params"]
    assert set(summary["gain_per_trace"]) == set(TRACES)
    assert summary["used"]["counted_trials"] == 6 == out.counted
    assert summary["budget"]["low_fidelity_train_rows"] == 1500
    assert summary["study"]["storage"].endswith("markov-task.jsonl")
    # The low rung fitted on fewer rows than the full one: the same defaults score otherwise.
    assert rung0.trials[0].value != full[0].value

    journal_bytes = journal.read_bytes()
    params_bytes = (lb / "params" / "markov-task.json").read_bytes()
    tune_all.run_study("markov", "task", trials=6, train_rows=1500, root=lb, data_root=data)
    assert len(_study(journal, "markov-task@rung0").trials) == 6, "a finished study runs nothing"
    assert len(_study(journal, "markov-task@rung1").trials) == len(full)
    # ... and changes nothing: no record appended, the params file (date, commit) kept.
    assert journal.read_bytes() == journal_bytes
    assert (lb / "params" / "markov-task.json").read_bytes() == params_bytes
    # A bigger budget later adds trials to the same journal, and what it promotes is run.
    tune_all.run_study("markov", "task", trials=8, train_rows=1500, root=lb, data_root=data)
    rung0 = _study(journal, "markov-task@rung0")
    assert len(rung0.trials) == 8
    top = sorted(
        (t for t in rung0.trials if t.state.name == "COMPLETE" and t.number), key=lambda t: -t.value
    )[:2]
    run = [t.params for t in _study(journal, "markov-task@rung1").trials]
    assert all(t.params in run for t in top)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--all", "--model", "lstm"], "--model: not with --all"),
        (["--all", "--jobs", "0"], "--jobs 0"),
        (["--target", "task"], "--model: give one, or use --all"),
    ],
)
def test_usage_errors_are_one_line(args, named):
    result = CliRunner().invoke(app, ["tune", *args])
    assert result.exit_code == 2
    assert named in result.output
    assert "Traceback" not in result.output


def test_only_registered_models_are_tuned_all_at_once(tmp_path):
    from benchmark.running.study_storage import TuningError

    with pytest.raises(TuningError, match=r"--models x\.py:Y: `tune --all` tunes registered"):
        tune_all.tunable_studies(["markov", "x.py:Y"])


def test_two_studies_at_a_time_write_every_params_file(data, tmp_path, monkeypatch):
    lb = tmp_path / "lb"
    monkeypatch.setenv("KERNEL_ORACLE_LEADERBOARD", str(lb))
    monkeypatch.setenv("KERNEL_ORACLE_DATA", str(data))
    said: list[str] = []
    outcomes = tune_all.tune_all(["ewma", "markov"], jobs=2, trials=3, log=said.append)
    assert sorted((o.model, o.target) for o in outcomes) == [
        ("ewma", "delta"), ("ewma", "task"), ("markov", "delta"), ("markov", "task")
    ]  # fmt: skip
    for model, target in [(o.model, o.target) for o in outcomes]:
        summary = json.loads((lb / "params" / f"{model}-{target}.json").read_text())
        assert summary["used"]["counted_trials"] == 3
        assert summary["objective"]["traces"] == TRACES
        assert (lb / "studies" / f"{model}-{target}.jsonl").is_file()
    assert said[0] == "4 studies, 3 rung-0 trials each, 2 at a time"
    assert sum("counted trials" in line for line in said) == 4
