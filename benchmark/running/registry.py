"""The model registry (README §2, §4), in the manner of lm-evaluation-harness's `Registry`.

An entry maps a name to a lazy `"module:Class"` target, optional constructor parameters (a
preset: `lstm` and `gru` are `RNNPredictor` with `cell="lstm"` / `"gru"`) and tags. Listing
names, presets and tags never imports a model (so neither torch nor LightGBM); `get` imports
a class once, caches it and checks it: a `Predictor` subclass, a plain entry's name equal to
the class's `name`, preset keys that are constructor parameters, tags equal to the class's.

A model is named by its registered name, `module:Class` or `path/to/file.py:Class`; a class
from a file or module declares its tags itself, so `stochastic` gets seeds like a built-in.
Build models with `build_model(spec, params)`, which applies the entry's preset.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.running.protocol import TAGS, Predictor


class UnknownModelError(KeyError):
    """A model name that is neither registered nor a loadable `module:Class` / `file.py:Class`."""

    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence.
        return str(self.args[0])


class RegistryError(ValueError):
    """The registry's own tables are inconsistent (a collision, a wrong name, drifted tags)."""


@dataclass(frozen=True)
class Entry:
    """One registered model: where its class lives, the parameters it fixes, its tags."""

    key: str
    target: str
    preset: Mapping[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()


class Registry:
    """Names to lazy entries; each target is imported once (`cache`, shareable) and checked."""

    def __init__(self, cache: dict[str, type] | None = None) -> None:
        self._entries: dict[str, Entry] = {}
        self._cache: dict[str, type] = {} if cache is None else cache

    def register(
        self,
        key: str,
        target: str,
        *,
        preset: Mapping[str, Any] | None = None,
        tags: frozenset[str] | set[str] | tuple[str, ...] = (),
    ) -> Entry:
        """Add an entry; a second entry for one name or for one (target, preset) is refused."""
        entry = Entry(key, target, dict(preset or {}), frozenset(tags))
        if ":" not in target:
            raise RegistryError(f"model {key!r}: target {target!r} is not 'module:Class'")
        if not entry.tags <= TAGS:
            raise RegistryError(
                f"model {key!r}: unknown tags {sorted(entry.tags - TAGS)}; use {sorted(TAGS)}"
            )
        if key in self._entries:
            raise RegistryError(
                f"model {key!r} is registered twice: {self._entries[key].target} and {target}"
            )
        for other in self._entries.values():
            if other.target == target and dict(other.preset) == dict(entry.preset):
                raise RegistryError(
                    f"models {other.key!r} and {key!r} are one model ({target}, preset "
                    f"{dict(entry.preset)}); register it once"
                )
        self._entries[key] = entry
        return entry

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def entry(self, key: str) -> Entry:
        if key not in self._entries:
            close = difflib.get_close_matches(key, list(self._entries), n=3, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise UnknownModelError(
                f"Unknown model {key!r}.{hint} Available: {', '.join(sorted(self._entries))}"
            )
        return self._entries[key]

    def tagged(self, tag: str) -> tuple[str, ...]:
        """Registered names carrying `tag`, in registration order (imports nothing)."""
        return tuple(k for k, e in self._entries.items() if tag in e.tags)

    def get(self, key: str) -> type[Predictor]:
        """The checked class of entry `key`, imported on first use and cached."""
        entry = self.entry(key)
        cls = self._cache.get(entry.target)
        if cls is None:
            cls = _checked_predictor(_import_target(entry.target), entry.target)
            self._cache[entry.target] = cls
        _check_entry(entry, cls)
        return cls

    def build(self, key: str, params: Mapping[str, Any] | None = None) -> Predictor:
        """An unfitted model of entry `key`: its preset, then `params` (which may not undo it)."""
        entry = self.entry(key)
        cls = self.get(key)
        params = dict(params or {})
        for name, value in entry.preset.items():
            if name in params and params[name] != value:
                raise ValueError(
                    f"model {key!r} fixes {name}={value!r}; drop {name}={params[name]!r} from its "
                    f"parameters (or use the entry whose preset has it)"
                )
        return cls(**{**entry.preset, **params})


# Classes materialised by any default registry: importing a model happens once per process.
_MATERIALISED: dict[str, type] = {}


def default_registry() -> Registry:
    """The registry of `models/__init__.py` (its tables are read on each call, so a test may
    patch them; the classes stay cached)."""
    import models

    registry = Registry(_MATERIALISED)
    for table in ("PRESETS", "TAGS"):
        orphans = set(getattr(models, table)) - set(models.REGISTRY)
        if orphans:
            raise RegistryError(f"models.{table} names unregistered models {sorted(orphans)}")
    for key, target in models.REGISTRY.items():
        registry.register(
            key, target, preset=models.PRESETS.get(key), tags=models.TAGS.get(key, frozenset())
        )
    return registry


def _check_entry(entry: Entry, cls: type[Predictor]) -> None:
    where = f"models/__init__.py: {entry.key!r} -> {entry.target}"
    if not entry.preset and cls.name != entry.key:
        raise RegistryError(
            f"{where}: the class's name is {cls.name!r}; a registered name must equal it "
            "(results are filed under it), or the entry must be a preset"
        )
    unknown = set(entry.preset) - set(cls._param_names())
    if unknown:
        raise RegistryError(f"{where}: preset {sorted(unknown)} are not constructor parameters")
    if frozenset(cls.tags) != entry.tags:
        raise RegistryError(
            f"{where}: tags {sorted(entry.tags)} in models.TAGS but {sorted(cls.tags)} on the "
            "class; make them equal"
        )


def _checked_predictor(obj: Any, spec: str) -> type[Predictor]:
    if not (isinstance(obj, type) and issubclass(obj, Predictor)):
        raise UnknownModelError(
            f"{spec} is not a Predictor subclass (see benchmark.running.protocol)"
        )
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise UnknownModelError(f"{spec} does not implement {missing} (see README §4)")
    if not obj.tags <= TAGS:
        raise UnknownModelError(
            f"{spec}: unknown tags {sorted(set(obj.tags) - TAGS)}; use a subset of {sorted(TAGS)}"
        )
    try:
        obj._param_names()
    except TypeError as error:  # *args / **kwargs in the constructor
        raise UnknownModelError(f"{spec}: {error}") from error
    return obj


def _import_target(target: str) -> type:
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise UnknownModelError(f"{target}: no module named {module_name!r}") from error
        raise
    if not hasattr(module, class_name):
        raise UnknownModelError(f"{target}: module {module_name!r} has no {class_name!r}")
    return getattr(module, class_name)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


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
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(module_name, None)
        raise UnknownModelError(
            f"{path}:{error.lineno}: syntax error ({error.msg}); fix the file and retry"
        ) from error
    except Exception as error:  # a submitted file may raise anything while it is imported
        sys.modules.pop(module_name, None)
        raise UnknownModelError(
            f"{path}: importing it raised {type(error).__name__}: {_first_line(error)}; "
            "fix the file and retry"
        ) from error
    if not hasattr(module, class_name):
        classes = [n for n, v in vars(module).items() if isinstance(v, type)]
        raise UnknownModelError(
            f"{path} defines no class {class_name!r}; classes there: {', '.join(classes) or 'none'}"
        )
    return getattr(module, class_name)


# -- the functions callers use (the default registry) ---------------------------------------
def registered() -> dict[str, str]:
    """Registered model names and their `"module:Class"` targets."""
    registry = default_registry()
    return {key: registry.entry(key).target for key in registry}


def tagged(tag: str) -> tuple[str, ...]:
    """Registered names with `tag` (e.g. `reference`), without importing any model."""
    return default_registry().tagged(tag)


def get_model_class(spec: str) -> type[Predictor]:
    """The Predictor class `spec` names: a registered name, `module:Class` or `file.py:Class`."""
    registry = default_registry()
    if spec in registry:
        return registry.get(spec)
    if spec.endswith(".py") or ".py:" in spec:
        if ":" not in spec or spec.endswith(":"):
            raise UnknownModelError(f"Name the class too: {spec.rstrip(':')}:MyPredictor")
        return _checked_predictor(_load_file(spec), spec)
    if ":" in spec:
        try:
            return _checked_predictor(_import_target(spec), spec)
        except UnknownModelError:
            raise
        except Exception as error:
            raise UnknownModelError(
                f"{spec}: importing it raised {type(error).__name__}: {_first_line(error)}"
            ) from error
    registry.entry(spec)  # raises the did-you-mean error
    raise AssertionError("unreachable")


def build_model(spec: str, params: Mapping[str, Any] | None = None) -> Predictor:
    """An unfitted model: a registered entry's preset applied, then `params`."""
    registry = default_registry()
    if spec in registry:
        return registry.build(spec, params)
    return get_model_class(spec)(**dict(params or {}))


def model_defaults(spec: str) -> dict[str, Any]:
    """The parameters an untuned model uses: constructor defaults, then the entry's preset."""
    cls = get_model_class(spec)
    defaults = {
        p.name: p.default
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name in cls._param_names() and p.default is not inspect.Parameter.empty
    }
    registry = default_registry()
    return {**defaults, **(registry.entry(spec).preset if spec in registry else {})}


def model_tags(spec: str) -> frozenset[str]:
    """A model's tags: the entry's for a registered name (no import), else the class's."""
    registry = default_registry()
    if spec in registry:
        return registry.entry(spec).tags
    return frozenset(get_model_class(spec).tags)


def model_label(spec: str, cls: type[Predictor]) -> str:
    """The name results are filed under: the registered name, else the class's `name`."""
    return spec if spec in default_registry() else (cls.name or cls.__name__)
