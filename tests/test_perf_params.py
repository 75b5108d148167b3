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


def test_passes_interleave_and_each_statistic_is_at_its_best_pass(monkeypatch) -> None:
    """perf times a round of every fit, then the next round (the machine's slow phases fall on
    all models alike); p50 and p99 are each at their best pass, the median pass's p50 beside."""
    import numpy as np

    from benchmark.running.harness import LatencyProbe

    order: list[str] = []
    timed = LatencyProbe.time_pass

    def recording_pass(self) -> None:
        order.append(type(self.primed).__name__)
        timed(self)

    monkeypatch.setattr(LatencyProbe, "time_pass", recording_pass)
    rows = perfbench.model_latencies(trace_names()[0], 100, ["majority", "ewma"], 3000, passes=3)
    per_round = len(order) // 3
    assert len(order) == 3 * per_round and order[:per_round] * 3 == order, order
    assert len(set(order[:per_round])) == 2, "a round holds a pass of each model"
    assert all(r["online_passes"] == 3 for r in rows)
    probe = object.__new__(LatencyProbe)  # the statistics alone, on given passes
    probe.primed = None
    # the first pass has the better median, the second the better tail
    probe.passes = [np.array([5.0] * 98 + [90.0] * 2), np.array([9.0] * 100)]
    result = probe.result()
    assert result["online_p50_us"] == 5.0 / 1e3 and result["online_p99_us"] == 9.0 / 1e3
    assert result["online_p50_us_median_pass"] == 7.0 / 1e3 and result["online_passes"] == 2


def test_two_fits_combine_as_in_the_harness_latency_the_worse_memory_the_sum() -> None:
    """A model with other parameters per target runs two fits: a scheduler step is the slower
    fit's, and serving both targets holds both compiled paths (perf and the results agree)."""
    from benchmark.running.harness import add_fit_costs

    total: dict[str, float] = {}
    add_fit_costs(total, {"fit_s": 2.0, "online_p50_us": 3.0, "online_p99_us": 4.0,
                          "online_compile_s": 0.5, "online_state_bytes": 1000})  # fmt: skip
    add_fit_costs(total, {"fit_s": 1.0, "online_p50_us": 2.0, "online_p99_us": 6.0,
                          "online_compile_s": 0.25, "online_state_bytes": 24})  # fmt: skip
    assert total == {
        "fit_s": 3.0,
        "online_p50_us": 3.0,
        "online_p99_us": 6.0,
        "online_compile_s": 0.5,
        "online_state_bytes": 1024,
    }
