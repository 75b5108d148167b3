"""The layering of `benchmark/` (README §2): imports run downwards only, and never in a circle.

Layers, bottom to top: core < data < scoring < results < running < reporting < cli. A module may
import its own layer (without a circle) or a lower one; `models/` may import core, data and
the protocol only. The test reads the source with `ast`, so it sees lazy imports inside
functions too, and it fails naming the file, the line and the import that runs upwards.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "data", "scoring", "results", "running", "reporting", "cli")
MODELS_MAY_IMPORT = ("benchmark.core", "benchmark.data", "benchmark.running.protocol")
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            # `from benchmark.x import y` may import the submodule y
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "benchmark" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _known(module: str, names: set[str]) -> str | None:
    """The project module `module` refers to (itself or its package), if any."""
    while module:
        if module in names:
            return module
        module = module.rpartition(".")[0]
    return None


def test_benchmark_has_only_the_layer_packages_at_its_top():
    tops = {p.name for p in (ROOT / "benchmark").iterdir() if not p.name.startswith("__")}
    assert tops <= set(LAYERS), f"benchmark/ holds {sorted(tops - set(LAYERS))} outside the layers"


def test_imports_run_downwards_only():
    upward = []
    for path in _sources("benchmark"):
        own = _layer(_module_name(path))
        for line, module in _imports(path):
            target = _layer(module)
            if own is not None and target is not None and target > own:
                rel = path.relative_to(ROOT)
                upward.append(f"{rel}:{line} imports {module} ({LAYERS[own]} -> {LAYERS[target]})")
    assert not upward, "imports that run upwards:\n" + "\n".join(sorted(set(upward)))


def test_models_import_only_the_data_layer_and_the_protocol():
    bad = []
    for path in _sources("models"):
        for line, module in _imports(path):
            inside = module.startswith("benchmark.")
            if inside and not module.startswith(MODELS_MAY_IMPORT):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "models/ may import only core, data and the protocol:\n" + "\n".join(bad)


def test_no_import_circles():
    paths = _sources("benchmark") + _sources("models")
    names = {_module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        targets = {_known(m, set(names)) for _, m in _imports(path)}
        # a package's __init__ is not a dependency of its own modules' circle checks
        graph[name] = {t for t in targets if t and t != name and not name.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(circles)


@pytest.mark.parametrize("folder", ["benchmark", "models"])
def test_no_module_is_too_long(folder):
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in _sources(folder)
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, f"modules over {MAX_LINES} lines (split them by job):\n" + "\n".join(long)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The walker itself: a planted upward import is reported (so the tests above can fail)."""
    fake = ROOT / "benchmark" / "data" / "_planted_upward.py"
    fake.write_text("def f():\n    from benchmark.reporting import board\n")
    try:
        found = [m for _, m in _imports(fake)]
        assert "benchmark.reporting.board" in found
        assert _layer("benchmark.reporting.board") > _layer(_module_name(fake))
    finally:
        fake.unlink()
