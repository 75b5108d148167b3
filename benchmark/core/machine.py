"""Facts about the machine a number was measured on (README §6: reproducibility).

Neural results reproduce on the same CPU model and packages but not across CPU models, so each
result records the CPU model and the instruction-set level numpy (and torch, when the model
used it) dispatched to.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The first `model name` line of /proc/cpuinfo ("unknown" where there is none)."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def numpy_isa() -> dict[str, Any]:
    """numpy's compiled baseline and the dispatch targets this CPU supports (used at run time)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy < 2
        try:
            from numpy.core import _multiarray_umath as umath
        except ImportError:
            return {"baseline": None, "dispatched": None}
    features = getattr(umath, "__cpu_features__", {})
    return {
        "baseline": list(getattr(umath, "__cpu_baseline__", [])),
        "dispatched": [f for f in getattr(umath, "__cpu_dispatch__", []) if features.get(f)],
    }


def torch_isa() -> str | None:
    """torch's CPU capability (e.g. AVX2, AVX512) if torch is already imported, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return None
