"""The model registry: names to lazy `"module:Class"` targets (nothing heavy is imported here)."""

from __future__ import annotations

REGISTRY: dict[str, str] = {
    "majority": "models.reference:Majority",
    "markov": "models.reference:Markov",
    "ewma": "models.reference:Ewma",
}

# Reference rows: simple predictors every learned model must beat.
REFERENCE = ("majority", "markov", "ewma")
# Models trained with stochastic optimisation: evaluated over several seeds.
NEURAL: tuple[str, ...] = ()
