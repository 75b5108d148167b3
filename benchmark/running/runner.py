"""The one orchestrator (README §6): plan the runs of a profile, then run them, one worker each.

`plan` turns model names, traces and a `Profile` into `RunSpec`s (stored parameters, or
`fast_params` in the quick profile; several seeds for stochastic models). `run` evaluates them
`jobs` at a time, each in its own worker process with the profile's time limit, stores every
result through the store, and reports progress through a callback (the CLI renders it; the
runner prints nothing). Building the board is the caller's next step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.core.machine import cpu_model
from benchmark.core.threads import exported, threads_per_run
from benchmark.data.dataset import load_splits
from benchmark.data.manifest import DataIntegrityError, trace_sha256, verify_file
from benchmark.data.splits import SPLIT_VERSION
from benchmark.results import store
from benchmark.running.harness import RunSpec
from benchmark.running.profiles import Profile, prepare_data
from benchmark.running.protocol import Predictor
from benchmark.running.worker import DATA_ERROR, OK, run_isolated, stop_all


@dataclass
class Plan:
    """The runs to do, the data they read and notes for the user (unloadable models)."""

    specs: list[RunSpec]
    data_root: Path | None
    traces: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunEvent:
    """A progress report: `kind` is "start" or "done" (then `result` is the stored result)."""

    kind: str
    spec: RunSpec
    done: int
    total: int
    result: dict[str, Any] | None = None


Progress = Callable[[RunEvent], None]


# -- planning -----------------------------------------------------------------------------------
def default_models() -> list[str]:
    from benchmark.running.registry import registered

    return list(registered())


def _tags(cls: type[Predictor], label: str) -> frozenset[str]:
    """The class's own tags; a class that declares none takes its registry entry's (if any)."""
    from benchmark.running.registry import default_registry

    tags = frozenset(getattr(cls, "tags", None) or ())
    registry = default_registry()
    return tags or (registry.entry(label).tags if label in registry else frozenset())


def is_stochastic(cls: type[Predictor], label: str) -> bool:
    """Whether a model gets several seeds (`"stochastic"` among its tags)."""
    return "stochastic" in _tags(cls, label)


def is_reference(cls: type[Predictor], label: str) -> bool:
    """Reference predictors keep their stored parameters in the quick profile."""
    return "reference" in _tags(cls, label)


def resolve(model: str) -> tuple[type[Predictor], str]:
    """(class, label) of a model name; a label that is unsafe as a folder name or would take a
    registered model's results is a one-line error (as is a file that fails to import)."""
    from benchmark.running.registry import UnknownModelError, get_model_class, model_label

    cls = get_model_class(model)  # a file that fails to import: a one-line error
    label = model_label(model, cls)
    store.check_name(label)
    registered = default_models()
    if model not in registered and store.is_default_label(label):
        raise UnknownModelError(
            f"{model}: names ending in {store.DEFAULT_VARIANT!r} are kept for the default rows "
            "of registered models. Give the class another `name`"
        )
    if model not in registered and label in registered and get_model_class(label) is not cls:
        raise UnknownModelError(
            f"{model}: its name {label!r} is a registered model's; results would overwrite "
            "that model's. Give the class another `name`"
        )
    return cls, label


def _spec_text(model: str) -> str:
    """The model as named, with a file path made relative (result files hold no absolute path)."""
    path, sep, cls = model.rpartition(":")
    return f"{store.relative(path)}:{cls}" if sep and path.endswith(".py") else model


def plan(
    models: Sequence[str],
    traces: Sequence[str] | None,
    profile: Profile,
    params_file: Path | None = None,
) -> Plan:
    """Every model on every trace for each of its seeds; raises one-line errors for unknown
    models or traces, bad names and altered data (checked before anything runs)."""
    from benchmark.running.registry import registered

    data_root, names = prepare_data(profile, traces)
    load_splits(data_root)  # verified against the manifest: an edited split stops here
    for name in names:
        store.check_name(name, "trace name")
        verify_file(f"traces/{name}.parquet", data_root)
    out = Plan([], data_root, names)
    common = {
        "data_root": str(data_root) if data_root else None,
        "timeout_s": profile.timeout_s,
        "online_steps": profile.online_steps,
        "max_test_positions": profile.max_test_positions,
        "horizon_origins": profile.horizon_origins,
    }
    for model in models:
        try:
            cls, label = resolve(model)
        except Exception as error:
            if model not in registered():
                raise
            # A registered model that cannot be imported gets failed results (the worker
            # reports the import error), never a silent gap in the table.
            out.notes.append(f"{model}: cannot be loaded ({type(error).__name__}: {error})")
            out.specs += [RunSpec(model, model, t, 0, {}, {}, **common) for t in names]
            continue
        params, sources = store.stored_params(label, cls.targets, params_file)
        if profile.fast_params and not is_reference(cls, label):
            params = {t: dict(cls.fast_params) for t in params}
            sources = {t: f"fast_params ({profile.name} profile)" for t in params}
        seeds = profile.seeds if is_stochastic(cls, label) else 1
        out.specs += [
            RunSpec(model, label, trace, seed, params, sources, **common)
            for trace in names
            for seed in range(seeds)
        ]
        if has_default_row(cls, label, params, sources, profile, params_file):
            untuned = {t: {} for t in params}
            untouched = {t: "default (the untuned row beside the tuned one)" for t in params}
            out.specs += [
                RunSpec(model, store.default_label(label), trace, 0, untuned, untouched, **common)
                for trace in names
            ]
    return out


def has_default_row(
    cls: type[Predictor],
    label: str,
    params: dict[str, dict[str, Any]],
    sources: dict[str, str],
    profile: Profile,
    params_file: Path | None,
) -> bool:
    """A learned (not reference) model on tuned parameters gets a defaults row in profiles that
    ask for it (the full one), one seed: the tuned-minus-default difference on the board. A
    params file that sets nothing (an empty search space's) is its defaults: no second row."""
    return (
        profile.default_rows
        and params_file is None
        and not is_reference(cls, label)
        and any(sources[t] != "default" and params[t] for t in params)
    )


# -- running ------------------------------------------------------------------------------------
def _targets(spec: RunSpec) -> list[str]:
    from benchmark.running.registry import get_model_class

    try:
        return sorted(get_model_class(spec.model).targets)
    except Exception:  # an unloadable model: its failed result has no targets
        return []


def _result(
    spec: RunSpec, outcome: str, payload: dict[str, Any], wall_s: float, commit: str | None
) -> dict:
    """The result record of one finished run (without its predictions); `commit` is the code
    the command started from (a commit made while it runs changes no code a worker imported)."""
    root = Path(spec.data_root) if spec.data_root else None
    result: dict[str, Any] = {
        "model": spec.label,
        "model_spec": _spec_text(spec.model),
        "targets": _targets(spec),
        "params": spec.params,
        "params_source": spec.params_source,
        "seed": spec.seed,
        "trace": spec.trace,
        "data_sha256": trace_sha256(spec.trace, root),
        "split_version": SPLIT_VERSION,
        "status": store.STATUS_OK if outcome == OK else store.STATUS_FAILED,
        "error": None if outcome == OK else payload,
        "wall_s": wall_s,
        "versions": store.package_versions(),
        "git_commit": commit,
        "created": store.now_iso(),
        "cpu_count": os.cpu_count(),
        "machine": {"threads": spec.threads, "cpu_model": cpu_model()},
    }
    if outcome == OK:
        result.update({k: v for k, v in payload.items() if k != "predictions"})
    return result


class _Groups:
    """Completion of each (model, trace): stale seeds are cleared once all its seeds succeeded."""

    def __init__(self, specs: Sequence[RunSpec], out: Path) -> None:
        self.out = out
        self.left: dict[tuple[str, str], set[int]] = {}
        self.seeds: dict[tuple[str, str], set[int]] = {}
        self.failed: set[tuple[str, str]] = set()
        for spec in specs:
            self.left.setdefault((spec.label, spec.trace), set()).add(spec.seed)
        self.seeds = {key: set(seeds) for key, seeds in self.left.items()}

    def finished(self, spec: RunSpec, ok: bool) -> None:
        key = (spec.label, spec.trace)
        self.left[key].discard(spec.seed)
        if not ok:
            self.failed.add(key)
        if not self.left[key] and key not in self.failed:
            store.clear_other_seeds(spec.label, spec.trace, self.seeds[key], self.out)


def run(
    specs: Sequence[RunSpec], out: Path, jobs: int = 1, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Evaluate every spec (each in its own worker), `jobs` at a time, storing each result under
    `out`; returns the results in the order of `specs`. Altered data stops the runs and raises
    `DataIntegrityError` (an error of the command: nothing is written for that run)."""
    threads = threads_per_run(jobs)
    commit = store.git_commit()  # once: every seed of a cell records the same code
    specs = [replace(spec, threads=threads) for spec in specs]
    groups = _Groups(specs, out)
    lock = threading.Lock()
    stop = threading.Event()
    done = [0]
    report = progress or (lambda _event: None)

    def one(spec: RunSpec) -> dict[str, Any] | None:
        if stop.is_set():
            return None
        with lock:
            report(RunEvent("start", spec, done[0], len(specs)))
        outcome, payload, wall_s = run_isolated(spec)
        if stop.is_set():  # interrupted, or another run found altered data: record nothing
            return None
        if outcome == DATA_ERROR:
            stop.set()
            raise DataIntegrityError(payload["message"])
        result = _result(spec, outcome, payload, wall_s, commit)
        predictions = payload.get("predictions") if outcome == OK else None
        with lock:
            store.record(result, predictions, out)
            groups.finished(spec, outcome == OK)
            done[0] += 1
            report(RunEvent("done", spec, done[0], len(specs), result))
        return result

    with exported(threads), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, spec) for spec in specs]
        try:
            results = [f.result() for f in futures]
        except BaseException:  # Ctrl-C or altered data: stop the rest, kill what runs
            stop.set()
            stop_all()
            raise
    return [r for r in results if r is not None]
