"""The thread policy (README §6): how many threads one model run uses, decided in one place.

One number serves the runner and the models: `OMP_NUM_THREADS` when it is set (the Makefile
sets 1: the small networks and trees here run faster single-threaded), else the machine's cores
shared out among the runs that go at once (`jobs`). The runner exports it to each worker through
`THREAD_VARIABLES` before the worker imports numpy; models call `apply_threads()` to hand it to
torch, and read `threads_per_run()` for libraries that take a thread count (LightGBM).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

# Read by OpenMP (torch, LightGBM), OpenBLAS and MKL when a process starts.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_run(jobs: int = 1, environ: Mapping[str, str] | None = None) -> int:
    """`OMP_NUM_THREADS` if it is a positive integer, else cores // jobs (at least 1)."""
    environ = os.environ if environ is None else environ
    text = environ.get("OMP_NUM_THREADS", "").strip()
    if text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    return max(1, usable_cores() // max(1, jobs))


def usable_cores() -> int:
    """The CPUs this process may run on (taskset / affinity), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def exported(threads: int) -> Iterator[None]:
    """Set `THREAD_VARIABLES` to `threads` while worker processes start; restore them after."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def apply_threads(threads: int | None = None) -> int:
    """Apply the policy to torch if it is already imported (it never imports torch); returns
    the thread count, for libraries that take one as a parameter."""
    n = threads or threads_per_run()
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def torch_threads() -> int | None:
    """torch's intra-op thread count, if the run imported torch (None otherwise)."""
    torch = sys.modules.get("torch")
    return None if torch is None else int(torch.get_num_threads())
