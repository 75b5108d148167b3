"""`kernel-oracle perf` times what the leaderboard ranks: each model on its params files (one
fit per parameter set, with its own targets), or its defaults with `--defaults`."""

from __future__ import annotations

import benchmark.running.perfbench as perfbench
from benchmark.data.manifest import trace_names
from benchmark.results.store import stored_params
from benchmark.running.registry import build_model


def _recorded_fits(monkeypatch) -> list[tuple[dict, list | None]]:
    """(params, targets) of every model `model_latencies` builds and fits."""
    fits: list[tuple[dict, list | None]] = []

    def recording_build(name, params=None):
        model = build_model(name, params)
        fit = model.fit

        def recorded_fit(*args, targets=None, **kwargs):
            fits.append((dict(params or {}), None if targets is None else sorted(targets)))
            return fit(*args, targets=targets, **kwargs)

        model.fit = recorded_fit
        return model

    monkeypatch.setattr(perfbench, "build_model", recording_build)
    return fits


def test_perf_times_the_params_files_model_and_defaults_on_request(monkeypatch) -> None:
    trace = trace_names()[0]
    params, _ = stored_params("markov", ("task", "delta"))
    assert params["task"] != params["delta"], "markov's tuned task and delta params differ"
    fits = _recorded_fits(monkeypatch)
    (row,) = perfbench.model_latencies(trace, 200, ["markov"], 3000)
    assert row["params"] == "params files" and row["online_steps"] == 200
    assert sorted(fits, key=lambda f: f[1]) == [
        (params["delta"], ["delta"]),
        (params["task"], ["task"]),
    ], "one fit per parameter set, each on its own target"
    fits.clear()
    (row,) = perfbench.model_latencies(trace, 200, ["markov"], 3000, defaults=True)
    assert row["params"] == "defaults"
    assert fits == [({}, ["delta", "task"])], "the defaults: one fit of both targets"
