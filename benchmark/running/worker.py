"""Process isolation of one run (README §6): a fresh worker process with a time limit.

The worker starts its own session (process group), so that on a timeout, a crash or the end of
the run the whole group is killed: a process the model started (a `sleep 300`, a server) dies
with it and cannot hold the result pipe open. A model that raises, hangs or runs out of memory
becomes an `error` outcome; altered data becomes `data-error`, which the runner turns into an
error of the command rather than a failed result.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from typing import Any

from benchmark.data.manifest import DataIntegrityError
from benchmark.results.store import relative_text
from benchmark.running.harness import RunSpec

OK = "ok"
ERROR = "error"
DATA_ERROR = "data-error"
MESSAGE_CHARS = 2000
# Workers running now (the runner stops them all on Ctrl-C: in their own sessions, a terminal's
# SIGINT does not reach them).
_ACTIVE: set[Any] = set()
_ACTIVE_LOCK = threading.Lock()


def _error(error: BaseException, with_traceback: bool = True) -> dict[str, str]:
    return {
        "type": type(error).__name__,
        "message": relative_text(str(error))[:MESSAGE_CHARS],
        "traceback": relative_text(traceback.format_exc()) if with_traceback else "",
    }


def _worker(spec: RunSpec, conn: Any) -> None:
    with contextlib.suppress(OSError):  # its own group: killing it kills what the model started
        os.setsid()
    from benchmark.running.harness import run_one

    try:
        conn.send((OK, run_one(spec)))
    except DataIntegrityError as error:
        conn.send((DATA_ERROR, _error(error, with_traceback=False)))
    except BaseException as error:  # any model failure is reported, never raised
        conn.send((ERROR, _error(error)))
    finally:
        conn.close()


def _kill_group(process: Any) -> None:
    """SIGKILL the worker's process group (and the worker itself, if it never made one).

    Safe before the worker is reaped: a group with the worker's pid as its id exists only if the
    worker made it, and Linux does not reuse an id while its group has members."""
    pid = process.pid
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if process.is_alive():
        process.kill()


def run_isolated(spec: RunSpec) -> tuple[str, dict[str, Any], float]:
    """Run `spec` in a fresh process with its time limit; returns (outcome, payload, seconds).

    The outcome is `OK` (payload: what `run_one` returned), `ERROR` or `DATA_ERROR` (payload:
    type, message, traceback).
    """
    context = mp.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_worker, args=(spec, child), daemon=True)
    t0 = time.perf_counter()
    with _ACTIVE_LOCK:
        process.start()
        _ACTIVE.add(process)
    child.close()
    try:
        if parent.poll(spec.timeout_s):
            outcome, payload = parent.recv()
        else:
            outcome, payload = (
                ERROR,
                {
                    "type": "TimeoutError",
                    "message": f"run exceeded its time limit of {spec.timeout_s:g} s; stopped "
                    "(the worker and every process it started)",
                    "traceback": "",
                },
            )
    except (EOFError, ConnectionError):
        process.join(5)
        outcome, payload = (
            ERROR,
            {
                "type": "WorkerDied",
                "message": f"the worker process died (exit code {process.exitcode}); "
                "out of memory or a crash in native code",
                "traceback": "",
            },
        )
    finally:
        _kill_group(process)
        process.join(5)
        parent.close()
        with _ACTIVE_LOCK:
            _ACTIVE.discard(process)
    return outcome, payload, time.perf_counter() - t0


def stop_all() -> None:
    """Kill every running worker and what it started (an interrupted command)."""
    with _ACTIVE_LOCK:
        for process in list(_ACTIVE):
            _kill_group(process)
