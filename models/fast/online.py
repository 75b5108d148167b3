"""What every compiled online predictor shares: the run its warm-up step is compiled with."""

from __future__ import annotations

from benchmark.running.protocol import RunRow

# A run of Python ints and a float, the types the harness's rows have (`row_at`): compiling
# the step for it at `online()` time means the first timed step never compiles.
WARM_UP_ROW = RunRow(task=0, comm=0, delta_us=1.0, end_state=0, prio=0, pid=0, t_ns=0)
