"""Running a study's trials until its budget is spent, with other workers, Ctrl-C and kill -9
in mind (README §6).

* Ctrl-C raises only inside model code (`InterruptGate.interruptible`); during Optuna's own
  bookkeeping (telling a trial, sampling, the heartbeat thread's start and stop) it is held until
  that step is done, then the study stops. So the interrupted trial is always recorded as FAIL
  (not charged), no thread is left running and the process exits at once. A second Ctrl-C while
  one is held raises at once (the trial may then stay RUNNING until it goes stale).
* Trials of a process that is gone are failed (not charged) and retried: by Optuna's heartbeat on
  RDB storages, and for storages without one (the journal, the gRPC proxy) when the trial's
  worker is a process of this host that no longer exists (a journal on NFS or a proxy shared by
  several hosts keeps another host's killed trial RUNNING; it is never charged).
* A trial that another worker failed as stale while it ran (its process was frozen beyond the
  grace period) cannot be told; its result is dropped with one line and the study goes on.
* A storage that fails mid-study stops it: the main thread reports it (tuning.tune, one line);
  Optuna's heartbeat thread, which fails with it, prints nothing.
"""

from __future__ import annotations

import copy
import hashlib
import os
import signal
import socket
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from benchmark.running.study_records import budget_used, interrupted
from benchmark.running.study_storage import retry_callback, storage_failure


def worker_id() -> str:
    """`host:pid`, recorded on every trial as its `worker` attribute (one `tune` per process)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def sampler_seed(seed: int, n_existing: int, shared: bool, worker: str) -> int:
    """Reproducible for one process on a fresh study (`seed`); a resumed study continues with a
    new stream (so the start-up trials are not repeated); workers of a shared study differ."""
    if n_existing == 0 and not shared:
        return seed
    text = f"{seed}:{n_existing}:{worker if shared else ''}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def open_study(
    storage: Any, study_name: str, direction: str, seed: int, shared: bool, pruner: Any
) -> Any:
    """Create or load the study (TPE seeded by `sampler_seed`, so its history is read first)."""
    import optuna

    try:
        existing = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        existing = None
    n_existing = 0 if existing is None else len(existing.get_trials(deepcopy=False))
    sampler = optuna.samplers.TPESampler(seed=sampler_seed(seed, n_existing, shared, worker_id()))
    if existing is not None:
        # Loading, not create_study(load_if_exists=True): that appends a create record to a
        # journal on every resume, so a finished study's journal would grow on each re-run.
        return optuna.load_study(
            study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
        )
    return optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )


def queue_missing(study: Any, params_sets: Sequence[dict[str, Any]]) -> None:
    """Enqueue each parameter set the study has not run or queued yet (by its parameters), so
    that re-running a rung after a kill runs what is missing and nothing twice."""
    if not params_sets:
        return
    trials = study.get_trials(deepcopy=False)
    if not trials:  # trial 0 is the defaults, as in every study
        study.enqueue_trial({}, user_attrs={"defaults": True})
    live = [t for t in trials if not interrupted(t)]
    seen = [t.params or t.system_attrs.get("fixed_params", {}) for t in live]
    for params in params_sets:
        if dict(params) not in seen:
            study.enqueue_trial(dict(params), skip_if_exists=False)
            seen.append(dict(params))


class InterruptGate:
    """SIGINT raises KeyboardInterrupt only inside `interruptible` blocks; elsewhere it is held."""

    def __init__(self) -> None:
        self.requested = False
        self._open = 0

    def _on_sigint(self, _signum: int, _frame: Any) -> None:
        held_before = self.requested
        self.requested = True
        if self._open or held_before:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT while the block runs (main thread only; an ignored SIGINT stays so)."""
        usable = threading.current_thread() is threading.main_thread()
        if not usable or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            yield
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """Model code: Ctrl-C raises here (and a held one raises on entry)."""
        if self.requested:
            raise KeyboardInterrupt
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1

    @contextmanager
    def held(self) -> Iterator[None]:
        """A storage write inside model code (a reported score): Ctrl-C waits until it is done."""
        saved, self._open = self._open, 0
        try:
            yield
        finally:
            self._open = saved
        if self.requested and saved:
            raise KeyboardInterrupt


@contextmanager
def _quiet_heartbeat_failures() -> Iterator[None]:
    """A heartbeat thread that dies of a storage failure prints no traceback (the main thread
    meets the same failure and reports it in one line); other thread errors print as usual."""
    previous = threading.excepthook

    def hook(args: Any) -> None:
        heartbeat = "_record_heartbeat" in getattr(args.thread, "name", "")
        if not (heartbeat and args.exc_value is not None and storage_failure(args.exc_value)):
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def _process_gone(worker: object) -> bool:
    """Whether `host:pid` names a process of this host that no longer runs (or this process:
    none of its trials runs while the runner looks)."""
    if not isinstance(worker, str) or ":" not in worker:
        return False
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child its parent has not reaped yet
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return False


def fail_dead_trials(study: Any) -> list[int]:
    """Mark RUNNING trials whose process is gone as FAIL and queue their retries; returns the
    numbers failed here (another worker may fail some first: each is failed and retried once)."""
    import optuna
    from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
    from optuna.storages._heartbeat import is_heartbeat_enabled
    from optuna.trial import TrialState

    storage = study._storage  # as optuna.storages.fail_stale_trials reads it
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if is_heartbeat_enabled(storage):
        before = {t.number for t in running}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        still = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        return sorted(before - still)
    failed = []
    retry = retry_callback()
    for trial in running:
        if not _process_gone(trial.user_attrs.get("worker")):
            continue
        try:
            won = storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except UpdateFinishedTrialError:  # another worker failed it first
            continue
        if won:
            failed.append(trial.number)
            retry(study, copy.deepcopy(storage.get_trial(trial._trial_id)))
    return failed


def run_trials(
    study: Any,
    objective: Callable[[Any], float],
    *,
    budget_trials: int,
    timeout_s: float,
    gate: InterruptGate,
    on_trial: Callable[[Any, Any], None],
    log: Callable[[str], None],
) -> list[int]:
    """Run trials until the study's budget (every worker's counted trials and their summed
    seconds) is spent; the numbers of the trials this process ran. Raises KeyboardInterrupt
    after the interrupted trial is recorded."""
    from optuna.exceptions import UpdateFinishedTrialError

    ran: list[int] = []

    def spent() -> bool:
        counted, used_s = budget_used(study)
        return counted >= budget_trials or used_s >= timeout_s

    def after_trial(study: Any, trial: Any) -> None:
        ran.append(trial.number)
        fail_dead_trials(study)
        on_trial(study, trial)
        if gate.requested or spent():
            study.stop()

    with gate.installed(), _quiet_heartbeat_failures():
        fail_dead_trials(study)
        while not gate.requested and not spent():
            try:
                study.optimize(objective, catch=(Exception,), callbacks=[after_trial])
            except UpdateFinishedTrialError as error:
                log(f"a trial's result is dropped: another worker failed it as stale ({error})")
    if gate.requested:
        raise KeyboardInterrupt
    return ran
