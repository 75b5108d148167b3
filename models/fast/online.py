"""What every compiled online predictor shares: the run its warm-up step is compiled with, and
the fork of its state for a free run."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

from benchmark.running.protocol import OnlinePredictor, RunRow

# A run of Python ints and a float, the types the harness's rows have (`row_at`): compiling
# the step for it at `online()` time means the first timed step never compiles.
WARM_UP_ROW = RunRow(task=0, comm=0, delta_us=1.0, end_state=0, prio=0, pid=0, t_ns=0)


def compiled_entry(kernel: Any, *args: Any) -> Callable[..., Any]:
    """Call the numba `kernel` once on `args` (compiling it, or loading its cache, outside any
    timing) and return its compiled function for their types, which skips the dispatcher.

    The dispatcher resolves the types of every argument at every call: a kernel that does
    nothing with two arrays and six numbers took 837 ns through it and 525 ns direct (one run
    on a loaded machine), against a 1-2 us step.
    The function returned checks none of that, so a stream calls it only with the arrays it
    owns (fresh, C-contiguous, of the dtypes of `args`: a fork's copies are too) and a run's
    fields (Python ints and a float, as `row_at` gives). Where numba keeps its compiled
    overloads elsewhere, the dispatcher itself is returned: slower, never wrong."""
    kernel(*args)
    try:
        return kernel.overloads[tuple(kernel.typeof_pyval(a) for a in args)].entry_point
    except (AttributeError, KeyError, TypeError):
        return kernel


class CompiledStream(OnlinePredictor):
    """A compiled stream: its state lives in the arrays named by `state_arrays` (a step writes
    only those) and its ready answer in `next`, a tuple that may hold one of them.

    `fork` copies those arrays and shares everything else (the packed model, the read-only
    leaf rows): a free run forks a stream at each of its 2,000 origins, and a deep copy there
    cost more than the steps it then took (issue 14's cost target)."""

    state_arrays: ClassVar[tuple[str, ...]] = ()
    next: tuple[Any, ...]

    def fork(self, shared: dict[int, Any] | None = None) -> CompiledStream:
        new = copy.copy(self)
        swapped = {}
        for name in self.state_arrays:
            old = getattr(self, name)
            setattr(new, name, old.copy())
            swapped[id(old)] = getattr(new, name)
        new.next = tuple(swapped.get(id(v), v) for v in self.next)
        return new
