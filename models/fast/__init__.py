"""Compiled (numba) online paths: one `@njit(cache=True)` call per scheduler step.

Each online predictor keeps its state and its fitted model in a few preallocated arrays and
makes one compiled call per `update(row)` that both appends the run and computes the next
prediction, so `predict_next()` only returns what is ready (README §4). The kernels are
compiled on first use and cached on disk; `online()` runs them once, outside any timing, and
reports the seconds as `compile_s`.

The cache directory is keyed by a hash of this package's sources: numba checks only the
source file of the function it loads, so a kernel cached before an edit to a kernel it calls
(in another module) would otherwise be loaded stale, with the old array layout (a crash).
Setting it here sets numba's process-wide `config.CACHE_DIR` (under `$NUMBA_CACHE_DIR` where
that is set, else this package's `__pycache__`); nothing else in the project caches with numba.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba


def _cache_dir() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for source in sorted(here.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    root = os.environ.get("NUMBA_CACHE_DIR") or str(here / "__pycache__")
    return str(Path(root) / f"kernels-{digest.hexdigest()[:16]}")


numba.config.CACHE_DIR = _cache_dir()
