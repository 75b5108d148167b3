"""The model registry: names to lazy `"module:Class"` targets (nothing heavy is imported here)."""

from __future__ import annotations

REGISTRY: dict[str, str] = {
    "majority": "models.reference:Majority",
    "markov": "models.reference:Markov",
    "ewma": "models.reference:Ewma",
    "lstm": "models.rnn:LSTM",
    "gru": "models.rnn:GRU",
    "kernel_oracle_lstm": "models.kernel_oracle:KernelOracleLSTM",
    "decision_tree": "models.tree:NegiDecisionTree",
    "lightgbm": "models.lgbm:LightGBM",
    "arima": "models.arima:Arima",
}

# Reference rows: simple predictors every learned model must beat.
REFERENCE = ("majority", "markov", "ewma")
# Models trained by stochastic optimisation: evaluated over several seeds.
NEURAL = ("lstm", "gru", "kernel_oracle_lstm")
