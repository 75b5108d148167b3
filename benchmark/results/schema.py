"""The published JSON Schemas of result, params and board files, and their validator (README §6).

The schemas ship in the package (`benchmark/results/schemas/<kind>.schema.json`, each version
listed in `schemas/CHANGELOG.md`), so that a figure script, in any language, can check what it
reads. Each schema pins its files' `schema_version` with `const`; a file of another version is
refused with a message naming both versions, before any other check.

Validation is a small implementation of the subset of JSON Schema 2020-12 that the schemas use
(`ASSERTIONS` below) rather than `jsonschema` at run time: the loading API then needs only the
runtime dependencies, errors come out as one line naming the file and the JSON path, and a
schema that uses a keyword outside the subset is an error, never silently ignored. The tests
check every schema against the official metaschema and that `jsonschema` agrees with this
validator on the committed files and on broken ones.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

KINDS = ("result", "params", "board")
VERSION_KEY = "schema_version"
# Params files written before the field existed carry no schema_version: they are version 1.
IMPLICIT_VERSION = {"params": 1}
# The command that writes each kind of file again, for the refusal message.
REGENERATE = {
    "result": "kernel-oracle evaluate",
    "params": "kernel-oracle tune",
    "board": "kernel-oracle leaderboard --build-only",
}
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default"}
)
ASSERTIONS = frozenset(
    {
        "type", "enum", "const", "properties", "required", "additionalProperties",
        "propertyNames", "items", "minItems", "minimum", "maximum", "exclusiveMinimum",
        "minLength", "pattern", "$ref", "allOf", "if", "then", "else",
    }
)  # fmt: skip
TYPES = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


class SchemaError(ValueError):
    """A file does not match its published schema (or is of a version this code does not read)."""


def schema_path(kind: str) -> Path:
    """Where the schema of `kind` ships (inside the installed package)."""
    if kind not in KINDS:
        raise KeyError(f"unknown schema kind {kind!r}; known: {', '.join(KINDS)}")
    return Path(str(resources.files("benchmark.results") / "schemas" / f"{kind}.schema.json"))


@cache
def schema(kind: str) -> dict[str, Any]:
    """The parsed JSON Schema of `kind` (result, params or board)."""
    return json.loads(schema_path(kind).read_text())


def schema_version(kind: str) -> int:
    """The `schema_version` the shipped schema of `kind` describes."""
    return int(schema(kind)["properties"][VERSION_KEY]["const"])


def _same(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{path}[{key!r}]"


def _describe(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if TYPES[name](value):
            return name
    return type(value).__name__


def errors(value: Any, node: dict[str, Any], root: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `value` breaks schema `node` (`root` resolves `$ref`), as `path: problem`."""
    unknown = set(node) - ASSERTIONS - ANNOTATIONS
    if unknown:
        raise SchemaError(f"schema keyword(s) {sorted(unknown)} at {path} are not supported here")
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/$defs/"):
            raise SchemaError(f"$ref {ref!r} at {path}: only local #/$defs/... references")
        found = errors(value, root["$defs"][ref.removeprefix("#/$defs/")], root, path)
        return found + errors(value, {k: v for k, v in node.items() if k != "$ref"}, root, path)
    if "type" in node:
        allowed = [node["type"]] if isinstance(node["type"], str) else node["type"]
        if not any(TYPES[t](value) for t in allowed):
            return [f"{path}: expected {' or '.join(allowed)}, got {_describe(value)}"]
    out: list[str] = []
    if "const" in node and not _same(value, node["const"]):
        out.append(f"{path}: must be {node['const']!r}, got {value!r}")
    if "enum" in node and not any(_same(value, e) for e in node["enum"]):
        out.append(f"{path}: {value!r} is not one of {node['enum']!r}")
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0):
            out.append(f"{path}: shorter than {node['minLength']} characters")
        if "pattern" in node and not re.search(node["pattern"], value):
            out.append(f"{path}: {value[:40]!r} does not match {node['pattern']!r}")
    if TYPES["number"](value):
        if "minimum" in node and value < node["minimum"]:
            out.append(f"{path}: {value!r} is below the minimum {node['minimum']!r}")
        if "maximum" in node and value > node["maximum"]:
            out.append(f"{path}: {value!r} is above the maximum {node['maximum']!r}")
        if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
            out.append(f"{path}: {value!r} must be above {node['exclusiveMinimum']!r}")
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            out.append(f"{path}: fewer than {node['minItems']} items")
        if "items" in node:
            for i, item in enumerate(value):
                out += errors(item, node["items"], root, _child(path, i))
    if isinstance(value, dict):
        out += _object_errors(value, node, root, path)
    for sub in node.get("allOf", ()):
        out += errors(value, sub, root, path)
    if "if" in node:
        branch = node.get("then") if not errors(value, node["if"], root, path) else node.get("else")
        out += errors(value, branch, root, path) if branch is not None else []
    return out


def _object_errors(
    value: dict[str, Any], node: dict[str, Any], root: dict[str, Any], path: str
) -> list[str]:
    out = [f"{path}: missing required field {key!r}" for key in node.get("required", ())
           if key not in value]  # fmt: skip
    properties = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    for key, item in value.items():
        if "propertyNames" in node:
            out += [f"{path}: key {key!r}: {e.split(': ', 1)[1]}"
                    for e in errors(key, node["propertyNames"], root, path)]  # fmt: skip
        if key in properties:
            out += errors(item, properties[key], root, _child(path, key))
        elif extra is False:
            out.append(f"{_child(path, key)}: unexpected field (not in the schema)")
        elif isinstance(extra, dict):
            out += errors(item, extra, root, _child(path, key))
    return out


def check(obj: Any, kind: str, source: str | Path) -> dict[str, Any]:
    """`obj` if it is a valid `kind` file of the version this code reads; else `SchemaError`.

    The message is one line: the file, then the first problem (and how many more).
    """
    want = schema_version(kind)
    got = obj.get(VERSION_KEY, IMPLICIT_VERSION.get(kind)) if isinstance(obj, dict) else None
    if isinstance(obj, dict) and not _same(got, want):
        raise SchemaError(
            f"{source}: {kind} file of schema_version {got!r}; this code reads version {want} "
            f"(benchmark/results/schemas/CHANGELOG.md); write it again with `{REGENERATE[kind]}`"
        )
    found = errors(obj, schema(kind), schema(kind))
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise SchemaError(
            f"{source}: does not match the {kind} schema v{want}: {found[0]}{more}; "
            f"write it again with `{REGENERATE[kind]}`"
        )
    return obj


def load(path: str | Path, kind: str) -> dict[str, Any]:
    """Read a JSON file and `check` it against the schema of `kind`."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SchemaError(f"{path}: not valid JSON ({error}); write it again") from error
    return check(obj, kind, path)
