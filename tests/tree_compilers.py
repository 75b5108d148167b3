"""The batch-1 tree walk of lightgbm, measured against the tree compilers the issue named.

    OMP_NUM_THREADS=1 .venv/bin/python tests/tree_compilers.py export DIR [--trace clients]
    OMP_NUM_THREADS=1 OTHER_VENV/bin/python tests/tree_compilers.py time DIR

`export` (the project's venv) fits lightgbm as `kernel-oracle perf` does (an excerpt of the
trace with about 20,000 train runs, the params files, one fit per parameter set), times the
shipped walk (`models/fast/trees.py`: fill the forest's row, walk every tree, sum the leaf
values) per row from a compiled loop, and writes each booster's model file, 10,000 feature rows
and LightGBM's raw scores to DIR. `time` (another venv: lleaves 1.3.0, the newest release,
fails to compile against the llvmlite 0.50 that numba 0.68 needs, so
`pip install "llvmlite==0.43.0" "numba==0.60.0" "numpy<2.1" lleaves==1.3.0 treelite`) compiles
each booster with lleaves and times it the same way (a numba loop calling its compiled
`forest_root` for rows i..i+1) and from Python (`Model.predict` on one row), then treelite's GTIL
per row and per batch. Every path's max |raw score - LightGBM's| is printed beside its time.

Prints one JSON line per booster and path. Not part of `make test`: a measure, not a gate.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

ROWS, PASSES = 10_000, 20


def best_ns_per_row(fn: Any, rows: int, passes: int = PASSES) -> float:
    """Nanoseconds per row of `fn()` over `rows` rows, at its best of `passes` calls (the first
    call, compiling, not counted)."""
    fn()
    best = np.inf
    for _ in range(passes):
        t0 = time.perf_counter_ns()
        fn()
        best = min(best, (time.perf_counter_ns() - t0) / rows)
    return float(best)


def export(out: Path, trace: str) -> None:
    from benchmark.results.store import stored_params
    from benchmark.running.harness import param_groups
    from benchmark.running.perfbench import perf_excerpt
    from benchmark.running.registry import build_model
    from models.fast.trees import forest_leaves, forest_row
    from models.lgbm import _shift_categorical

    @numba.njit
    def walk_rows(x, ints, floats, values, sums):
        sums[:] = 0.0  # as lleaves' forest_root, which writes its output
        row = forest_row(ints, floats, 0, 0)
        k = sums.shape[1]
        for i in range(x.shape[0]):
            row[: x.shape[1]] = x[i]
            leaves = forest_leaves(ints, floats, 0, 0)
            for t in range(leaves.shape[0]):
                sums[i, t % k] += values[leaves[t]]
        return sums

    out.mkdir(parents=True, exist_ok=True)
    runs = perf_excerpt(trace, ROWS, fit_runs=20_000)  # the CLI's default
    boosters = []
    for group, values in param_groups(stored_params("lightgbm", ("task", "delta"))[0]):
        model = build_model("lightgbm", values)
        model.fit(runs.train(), valid=runs.valid(), seed=0, targets=list(group))
        start = runs.split.valid[0]
        x = model.features_.transform(runs, np.arange(start, start + ROWS))
        x = _shift_categorical(x, model.features_.categorical).astype(np.float64)
        for label, est in (("classifier", model.classifier_), ("regressor", model.regressor_)):
            if est is not None:
                name = f"{trace}-{label}"
                _export_booster(out, name, est.booster_, model._best(est), x, walk_rows)
                boosters.append(name)
    (out / "boosters.json").write_text(json.dumps(boosters))


def _export_booster(
    out: Path, name: str, booster: Any, kept: int, x: np.ndarray, walk_rows: Any
) -> None:
    """Time the shipped walk on one booster; write its model file, rows and raw scores.
    compile_s is this model's own part (flattening and packing its trees): the numba kernels
    are compiled once for every model and cached on disk."""
    from models.fast.trees import Forest

    truth = np.asarray(booster.predict(x, num_iteration=kept, raw_score=True)).reshape(ROWS, -1)
    x32 = x.astype(np.float32)
    t0 = time.perf_counter()
    forest = Forest.from_lightgbm(booster, kept)
    ints, floats = forest.pack(x.shape[1])
    compile_s = time.perf_counter() - t0
    sums = np.zeros(truth.shape)
    walk_rows(x32, ints, floats, forest.value, sums)
    ns = best_ns_per_row(lambda: walk_rows(x32, ints, floats, forest.value, sums), ROWS)
    booster.save_model(out / f"{name}.txt", num_iteration=kept)
    np.save(out / f"{name}-x.npy", x)
    np.save(out / f"{name}-truth.npy", truth)
    _report(name, "numba lockstep walk (shipped)", sums - truth, trees=forest.n_trees,
            classes=truth.shape[1], compile_s=compile_s, ns_per_row=ns)  # fmt: skip


def _report(booster: str, path: str, diff: np.ndarray, **numbers: float) -> None:
    values = {k: round(v, 3 if k.endswith("_s") else 1) for k, v in numbers.items()}
    line = {"booster": booster, "path": path, **values, "max_abs_diff": float(np.abs(diff).max())}
    print(json.dumps(line), flush=True)


def time_others(out: Path) -> None:
    import lleaves
    import treelite

    for name in json.loads((out / "boosters.json").read_text()):
        _time_lleaves(out, name, lleaves)
        _time_treelite(out, name, treelite)


def _time_lleaves(out: Path, name: str, lleaves: Any) -> None:
    """compile_s: lleaves' code generation and LLVM compile of this model."""
    x, truth = np.load(out / f"{name}-x.npy"), np.load(out / f"{name}-truth.npy")
    t0 = time.perf_counter()
    model = lleaves.Model(model_file=str(out / f"{name}.txt"))
    # one cache block of every tree: lleaves' advice for single rows
    model.compile(raw_score=True, fblocksize=model.num_trees())
    compile_s = time.perf_counter() - t0
    entry = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)
    func = entry(model._execution_engine.get_function_address("forest_root"))

    @numba.njit
    def rows_one_by_one(x, sums):
        for i in range(x.shape[0]):
            func(x.ctypes.data, sums.ctypes.data, i, i + 1)
        return sums

    sums = np.zeros(truth.shape)
    ns = best_ns_per_row(lambda: rows_one_by_one(x, sums), len(x))
    _report(name, "lleaves, called from a compiled loop", sums - truth, compile_s=compile_s,
            ns_per_row=ns)  # fmt: skip
    one = [x[i : i + 1] for i in range(len(x))]
    ns = best_ns_per_row(lambda: [model.predict(r, n_jobs=1) for r in one], len(x))
    diff = model.predict(x, n_jobs=1).reshape(truth.shape) - truth
    _report(name, "lleaves Model.predict, one row from Python", diff, ns_per_row=ns)


def _time_treelite(out: Path, name: str, treelite: Any) -> None:
    """treelite's GTIL: its interpreter, the path that needs no C compiler."""
    x, truth = np.load(out / f"{name}-x.npy"), np.load(out / f"{name}-truth.npy")
    forest = treelite.frontend.load_lightgbm_model(str(out / f"{name}.txt"))

    def gtil(rows: np.ndarray) -> np.ndarray:
        return np.asarray(treelite.gtil.predict(forest, rows, pred_margin=True, nthread=1))

    few = [x[i : i + 1] for i in range(2_000)]  # ~60 us a row from Python: 2,000 rows
    one_row = best_ns_per_row(lambda: [gtil(r) for r in few], len(few), passes=5)
    batch = best_ns_per_row(lambda: gtil(x), len(x), passes=5)
    _report(name, "treelite GTIL", gtil(x).reshape(truth.shape) - truth,
            ns_per_row_one_row=one_row, ns_per_row_batch=batch)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("export", "time"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--trace", default="clients")
    args = parser.parse_args()
    if args.mode == "export":
        export(args.dir, args.trace)
    elif not (args.dir / "boosters.json").is_file():
        parser.error(f"{args.dir}: no boosters.json; run `export {args.dir}` first")
    else:
        time_others(args.dir)


if __name__ == "__main__":
    main()
