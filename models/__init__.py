"""The model registry's tables (README §2): plain data, so listing models imports nothing heavy.

`benchmark.running.registry` builds its `Registry` from these and checks them against the
classes when it first imports one: a plain entry's name equals the class's `name`, a preset's
keys are constructor parameters, and `TAGS` repeats the class's `tags` (kept here so that
listing which models are references or stochastic imports no model).
"""

from __future__ import annotations

from typing import Any

REGISTRY: dict[str, str] = {
    "majority": "models.reference:Majority",
    "markov": "models.reference:Markov",
    "ewma": "models.reference:Ewma",
    "lstm": "models.rnn:RNNPredictor",
    "gru": "models.rnn:RNNPredictor",
    "kernel_oracle_lstm": "models.kernel_oracle:KernelOracleLSTM",
    "decision_tree": "models.tree:NegiDecisionTree",
    "lightgbm": "models.lgbm:LightGBM",
    "arima": "models.arima:Arima",
    "distilled_tree": "models.distilled:DistilledTree",
    "repeat_period": "models.horizon_reference:RepeatPeriod",
}

# Constructor parameters an entry fixes (darts' RNNModel(model="LSTM"|"GRU"): the cell is one).
PRESETS: dict[str, dict[str, Any]] = {
    "lstm": {"cell": "lstm"},
    "gru": {"cell": "gru"},
}

# The class's `tags`, repeated for lazy listing (benchmark.running.protocol.TAGS says what each
# means); a model missing here has none.
_NEURAL = frozenset({"neural", "stochastic"})
TAGS: dict[str, frozenset[str]] = {
    "majority": frozenset({"reference"}),
    "markov": frozenset({"reference"}),
    "ewma": frozenset({"reference"}),
    "repeat_period": frozenset({"reference"}),
    "lstm": _NEURAL,
    "gru": _NEURAL,
    "kernel_oracle_lstm": _NEURAL,
}

# Derived, for callers that read them: reference rows, and the models evaluated over seeds.
REFERENCE = tuple(name for name in REGISTRY if "reference" in TAGS.get(name, ()))
NEURAL = tuple(name for name in REGISTRY if "stochastic" in TAGS.get(name, ()))
