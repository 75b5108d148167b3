"""Fixed forecast origins of the horizon track (issue 14): evenly spaced test positions.

Every model of a trace is forecast from the same origins, so their horizon scores are paired.
The origins are a pure function of the trace's fixed split (integer arithmetic only), so they
can be recomputed anywhere and recorded next to the split.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.data.dataset import Runs

HORIZONS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
COUNT = 2000


def horizon_origins(
    runs: Runs, count: int = COUNT, horizons: Sequence[int] = HORIZONS
) -> np.ndarray:
    """int64[m]: `count` evenly spaced origins in the test split [a, b) of `runs`'s trace.

    An origin o is admissible when a <= o and o + max(horizons) <= b (the truth of every
    step exists); with N admissible origins, origin i = a + (i * N) // count, i < count, so the
    gaps differ by at most one row. With fewer admissible origins than `count`, all of them are
    returned (m = N < count). A ValueError if there is none, or if `runs` does not hold the
    test rows.
    """
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    steps = [int(h) for h in horizons]
    if not steps or min(steps) < 1:
        raise ValueError(f"horizons must be positive ints, got {tuple(horizons)!r}")
    a, b = (int(x) for x in runs.split.test)
    if a < runs.start or b > runs.start + len(runs):
        raise ValueError(
            f"runs [{runs.start}, {runs.start + len(runs)}) do not hold the test rows [{a}, {b})"
        )
    available = b - max(steps) - a + 1
    if available < 1:
        raise ValueError(f"the test split [{a}, {b}) is shorter than the horizon {max(steps)}")
    m = min(int(count), available)
    return a + (np.arange(m, dtype=np.int64) * available) // m
