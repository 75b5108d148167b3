"""The tuner's side of pruning (README §6): turning a model's reports into Optuna's steps.

A model calls `report(step, value, target=t)` after each epoch / boosting round of the head
that scores target `t` (`benchmark.running.protocol.Reporter`). Only the tuner knows the study
and the tuning trace: `make_reporter` drops the reports of another target, puts trace `i`'s
step `s` at Optuna step `i * STEP_STRIDE + s` and turns the value the study's way
(`report_sign`, from the class's `report_metric`).
"""

from __future__ import annotations

import math
from typing import Any

from benchmark.running.protocol import Predictor, Reporter
from benchmark.running.study_runner import InterruptGate

STEP_STRIDE = 100_000  # Optuna steps per tuning trace; a model's own steps stay below it


def report_sign(cls: type[Predictor], direction: str, target: str | None = None) -> float:
    """+1 if the model's reported score of `target` already points the study's way, else -1.

    `report_metric` is {target: (name, higher_is_better)} or one (name, higher_is_better) for
    every target; a target it does not describe is taken to point the study's way.
    """
    metric = cls.report_metric
    if isinstance(metric, dict):
        metric = metric.get(target) if target is not None else None
    if metric is None:
        return 1.0
    _, higher_is_better = metric
    return 1.0 if higher_is_better == (direction == "maximize") else -1.0


def make_reporter(
    trial: Any,
    trace_index: int,
    sign: float,
    gate: InterruptGate | None = None,
    target: str | None = None,
) -> Reporter:
    """The `report` callback for `fit` on tuning trace `trace_index` of a study of `target`:
    feeds the pruner at Optuna step `trace_index * STEP_STRIDE + step`, raises TrialPruned when
    told to. A report of another target, a step outside [0, STEP_STRIDE) or a non-finite value
    never reaches the pruner; a report without a target counts as the study's.

    The storage write is held from Ctrl-C (`gate`), so a report is never half written.
    """
    import optuna

    gate = gate or InterruptGate()
    offset = int(trace_index) * STEP_STRIDE
    study_target = target

    def report(step: int, value: float, *, target: str | None = None) -> None:
        value, step = float(value), int(step)
        if target is not None and study_target is not None and target != study_target:
            return
        if not (math.isfinite(value) and 0 <= step < STEP_STRIDE):
            return
        with gate.held():
            trial.report(sign * value, offset + step)
            prune = trial.should_prune()
        if prune:
            raise optuna.TrialPruned(f"pruned at step {step} (reported {value:.6g})")

    return report
