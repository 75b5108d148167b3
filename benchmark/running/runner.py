"""Evaluating many runs (README §6): plan the runs, run them (one worker process each).

Moved here from benchmark/reporting/board.py: the runner returns results; the `leaderboard`
command builds the board from the stored files afterwards (running never imports reporting).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmark.core.paths import REPO_ROOT, leaderboard_dir
from benchmark.results.store import STATUS_OK, results_dir

NEURAL_SEEDS = 3

# The quick profile (CI): every registered model, learned ones with their `fast_params`, on an
# excerpt of the first QUICK_TRACES traces (their first QUICK_RUNS runs, split by the fixed rule),
# one seed, a short online-latency measurement; written to build/ (never to leaderboard/).
QUICK_TRACES = 1
QUICK_RUNS = 12_000
QUICK_ONLINE_STEPS = 200
QUICK_TIMEOUT_S = 150.0
QUICK_OUT = REPO_ROOT / "build" / "leaderboard-quick"


def default_models() -> list[str]:
    from benchmark.running.registry import registered

    return list(registered())


def seeds_for(models: Sequence[str], neural_seeds: int) -> dict[str, int]:
    """Seeds per model label: `neural_seeds` for models in models.NEURAL, 1 for the others."""
    from models import NEURAL

    return {m: (neural_seeds if m in NEURAL else 1) for m in models}


def make_quick_data(
    source_root: Path | None, dest_root: Path, traces: Sequence[str], runs: int = QUICK_RUNS
) -> Path:
    """Excerpts (first `runs` runs) of `traces`, with their own split and manifest, in `dest_root`.

    The excerpt's parquet is rewritten only when its content changes, so result files of an
    earlier quick run stay valid for the same excerpt.
    """
    import pandas as pd

    from benchmark.core.atomic import write_json
    from benchmark.data.manifest import MANIFEST_VERSION, read_run_table, sha256_file
    from benchmark.data.splits import compute_split, write_splits

    files: dict[str, str] = {}
    entries: dict[str, Any] = {}
    splits = {}
    for name in traces:
        frame = read_run_table(name, source_root).iloc[:runs].reset_index(drop=True)
        path = dest_root / "traces" / f"{name}.parquet"
        old = pd.read_parquet(path) if path.exists() else None
        if old is None or not old.equals(frame):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, path)
        files[f"traces/{name}.parquet"] = sha256_file(path)
        entries[name] = {"runs": len(frame), "excerpt_of": name, "excerpt_runs": runs}
        splits[name] = compute_split(frame)
    write_json(
        dest_root / "manifest.json",
        {"version": MANIFEST_VERSION, "files": files, "traces": entries, "quick": True},
    )
    write_splits(dest_root / "splits.json", splits)
    return dest_root


def _clear_other_seeds(out_root: Path, label: str, trace: str, seeds: set[int]) -> None:
    """Remove result files of (label, trace) for seeds this run does not produce."""
    folder = results_dir(out_root) / label / trace
    for path in folder.glob("seed*.json"):
        try:
            seed = int(path.stem.removeprefix("seed"))
        except ValueError:
            continue
        if seed not in seeds:
            path.unlink(missing_ok=True)
            path.with_suffix(".npz").unlink(missing_ok=True)


def evaluate_specs(specs: list, out_root: Path, jobs: int = 1, quiet: bool = False) -> list[dict]:
    """Evaluate every spec (each in its own worker process), `jobs` at a time, with progress."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmark.running.harness import evaluate_one

    wanted: dict[tuple[str, str], set[int]] = {}
    for spec in specs:
        wanted.setdefault((spec.label, spec.trace), set()).add(spec.seed)
    for (label, trace), seeds in wanted.items():
        _clear_other_seeds(out_root, label, trace, seeds)
    if jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        # Workers inherit this: jobs workers x threads each = the machine's cores.
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    results: list[dict] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} runs"),
        TimeElapsedColumn(),
        disable=quiet,
    ) as progress:
        bar = progress.add_task("evaluating", total=len(specs))

        def one(spec: Any) -> dict:
            result = evaluate_one(spec, out_root)
            if result["status"] != STATUS_OK:
                progress.console.print(
                    f"failed {spec.label} on {spec.trace} seed {spec.seed}: {result['error']}",
                    markup=False,
                    highlight=False,
                )
            progress.update(bar, advance=1, description=f"done {spec.label} on {spec.trace}")
            return result

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(one, specs))
    return results


def run_leaderboard(
    *,
    models: Sequence[str] | None = None,
    traces: Sequence[str] | None = None,
    neural_seeds: int = NEURAL_SEEDS,
    quick: bool = False,
    holdout: Path | None = None,
    out: Path | None = None,
    jobs: int = 1,
    timeout_s: float | None = None,
    max_test_positions: int | None = None,
    quiet: bool = False,
    log: Callable[[str], None] | None = None,
) -> tuple[list[dict], Path, Path | None]:
    """Evaluate the models; returns (results, output folder, data root of the runs)."""
    from benchmark.data.manifest import trace_names
    from benchmark.running.harness import DEFAULT_TIMEOUT_S, ONLINE_STEPS, plan
    from benchmark.running.registry import get_model_class, model_label, registered

    say = log or (lambda _m: None)
    models = list(models or default_models())
    source_root = holdout or None
    if holdout is not None:
        out = out or holdout / "leaderboard"
    elif quick:
        out = out or QUICK_OUT
    out = out or leaderboard_dir()
    data_root: Path | None = source_root
    chosen = list(traces) if traces else None
    if quick:
        names = chosen or trace_names(source_root)[:QUICK_TRACES]
        data_root = make_quick_data(source_root, out / "data", names, QUICK_RUNS)
        chosen = names
        say(f"quick profile: first {QUICK_RUNS} runs of {', '.join(names)}, fast_params, 1 seed")

    timeout = timeout_s or (QUICK_TIMEOUT_S if quick else DEFAULT_TIMEOUT_S)
    online_steps = QUICK_ONLINE_STEPS if quick else ONLINE_STEPS
    specs = []
    for model in models:
        try:
            label = model_label(model, get_model_class(model))
        except Exception as error:
            if model not in registered():
                raise
            # A registered model that cannot even be imported gets failed results (the worker
            # reports the import error), never a silent gap in the table.
            say(f"{model}: cannot be loaded ({type(error).__name__}: {error}); recorded as failed")
            specs += _unloadable_specs(model, chosen, data_root, timeout)
            continue
        n_seeds = seeds_for([label], 1 if quick else neural_seeds)
        planned = plan(
            [model],
            chosen,
            1,
            data_root=data_root,
            timeout_s=timeout,
            max_test_positions=max_test_positions,
            online_steps=online_steps,
            seeds_for=n_seeds,
        )
        specs += [_with_fast_params(s) for s in planned] if quick else planned
    say(f"{len(specs)} runs of {len(models)} models; results in {results_dir(out)}")
    results = evaluate_specs(specs, out, jobs=jobs, quiet=quiet)
    return results, out, data_root


def _unloadable_specs(
    model: str, traces: Sequence[str] | None, data_root: Path | None, timeout_s: float
) -> list[Any]:
    from benchmark.data.manifest import trace_names
    from benchmark.running.harness import RunSpec

    names = list(traces) if traces else trace_names(data_root)
    root = str(data_root) if data_root else None
    return [RunSpec(model, model, t, 0, {}, {}, root, timeout_s) for t in names]


def _with_fast_params(spec: Any) -> Any:
    """Learned models use their `fast_params`; reference models keep their stored parameters."""
    from benchmark.running.registry import get_model_class
    from models import REFERENCE

    if spec.label in REFERENCE:
        return spec
    fast = dict(get_model_class(spec.model).fast_params)
    return replace(
        spec,
        params={t: {**fast} for t in spec.params},
        params_source={t: "fast_params (quick profile)" for t in spec.params},
    )
