"""Find a model class by registered name, `module:Class`, or `path/to/file.py:Class`.

Registered names map to lazy `"module:Class"` strings (models/__init__.py), so listing models
never imports torch or LightGBM; an unknown name suggests the closest ones.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from pathlib import Path

from benchmark.running.protocol import Predictor


class UnknownModelError(KeyError):
    """A model name that is neither registered nor a loadable `file.py:Class`."""

    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence.
        return str(self.args[0])


def registered() -> dict[str, str]:
    """Registered model names and their `"module:Class"` targets."""
    from models import REGISTRY

    return dict(REGISTRY)


def _import_target(target: str) -> type:
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)


def _load_file(spec: str) -> type:
    path_text, _, class_name = spec.rpartition(":")
    path = Path(path_text)
    if not path.is_file():
        raise UnknownModelError(f"Model file {path} not found (from {spec!r})")
    module_name = f"kernel_oracle_submission_{abs(hash(path.resolve()))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise UnknownModelError(f"Cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # pickling the model needs its module importable
    module_spec.loader.exec_module(module)
    if not hasattr(module, class_name):
        classes = [n for n, v in vars(module).items() if isinstance(v, type)]
        raise UnknownModelError(
            f"{path} defines no class {class_name!r}; classes there: {', '.join(classes) or 'none'}"
        )
    return getattr(module, class_name)


def get_model_class(spec: str) -> type[Predictor]:
    """The Predictor class that `spec` names."""
    models = registered()
    if spec in models:
        cls = _import_target(models[spec])
    elif spec.endswith(".py") or ".py:" in spec:
        if ":" not in spec:
            raise UnknownModelError(f"Name the class too: {spec}:MyPredictor")
        cls = _load_file(spec)
    elif ":" in spec:
        cls = _import_target(spec)
    else:
        close = difflib.get_close_matches(spec, list(models), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"Unknown model {spec!r}.{hint} Available: {', '.join(sorted(models))}"
        )
    if not (isinstance(cls, type) and issubclass(cls, Predictor)):
        raise UnknownModelError(
            f"{spec} is not a Predictor subclass (see benchmark.running.protocol)"
        )
    return cls


def model_label(spec: str, cls: type[Predictor]) -> str:
    """The name results are filed under: the registered name, else the class's `name`."""
    return spec if spec in registered() else (cls.name or cls.__name__)
