"""Compiled (numba) online paths: one `@njit(cache=True)` call per scheduler step.

Each online predictor keeps its state and its fitted model in a few preallocated arrays and
makes one compiled call per `update(row)` that both appends the run and computes the next
prediction, so `predict_next()` only returns what is ready (README §4). The kernels are
compiled on first use and cached on disk beside this package; `warm_up` runs them once at
`online()` time, outside any timing, and reports the seconds as `compile_s`.
"""
