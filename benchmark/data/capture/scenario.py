"""Scenarios: what runs on the traced CPU while perf records (`data/scenarios.toml`, README §3).

Each `[scenarios.NAME]` table gives the nginx workers, ab's concurrency, keep-alive and TLS, the
body size, the recording length, the CPU and the background loads. Every key is checked for its type
and range here, so that a bad table is one line naming the file, the scenario and the key.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from benchmark.core.paths import data_dir
from benchmark.data.capture.errors import ScenarioError

BACKGROUND_KINDS = ("cpu-hog", "timer", "fsync")


@dataclass(frozen=True)
class Background:
    """One background load on the traced CPU: a niced CPU hog, a periodic timer, an fsync writer."""

    kind: str
    nice: int = 0
    period_ms: float = 0.0


@dataclass(frozen=True)
class Client:
    """One more ab client beside the main one: its own concurrency and keep-alive."""

    concurrency: int
    keepalive: bool = False


@dataclass(frozen=True)
class Scenario:
    """What runs on the traced CPU while perf records (one table of `data/scenarios.toml`)."""

    name: str
    description: str = ""
    nginx_workers: int = 1
    ab_concurrency: int = 10
    keepalive: bool = False
    tls: bool = False
    nginx_cpu_limit: float = 0.0  # a share of one CPU for nginx (cgroup bandwidth); 0: none
    body_bytes: int = 4096
    seconds: float = 10.0
    cpu: int = 1
    warmup_seconds: float = 1.0
    background: tuple[Background, ...] = ()
    extra_clients: tuple[Client, ...] = ()
    vm: bool = False  # record inside a one-vCPU guest on Debian's CFS kernel (capture/vm.py)
    icount: bool = False  # with vm: qemu -icount shift=auto (guest time counts instructions)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["background"] = [asdict(b) for b in self.background]
        out["extra_clients"] = [asdict(c) for c in self.extra_clients]
        return out


# key -> (accepted types, lowest, highest, what it is); bool is never a number here.
Rule = tuple[tuple[type, ...], float | None, float | None, str]
_KEYS: dict[str, Rule] = {
    "description": ((str,), None, None, "text"),
    "nginx_workers": ((int,), 1, 64, "an integer from 1 to 64"),
    "ab_concurrency": ((int,), 1, 20_000, "an integer from 1 to 20000 (ab's limit)"),
    "keepalive": ((bool,), None, None, "true or false"),
    "tls": ((bool,), None, None, "true or false (HTTPS with a self-signed certificate)"),
    "nginx_cpu_limit": ((int, float), 0, 1, "a share of one CPU from 0 (no limit) to 1"),
    "body_bytes": ((int,), 0, 1 << 30, "an integer from 0 to 1 GiB"),
    "seconds": ((int, float), 0.001, 3600, "a number of seconds above 0, at most 3600"),
    "cpu": ((int,), 0, 4095, "a CPU number from 0 to 4095"),
    "warmup_seconds": ((int, float), 0, 600, "a number of seconds from 0 to 600"),
    "vm": ((bool,), None, None, "true (record inside the CFS guest, capture/vm.py) or false"),
    "icount": ((bool,), None, None, "true (with vm = true: qemu -icount shift=auto) or false"),
}
_BACKGROUND_KEYS: dict[str, Rule] = {
    "nice": ((int,), -20, 19, "an integer from -20 to 19"),
    "period_ms": ((int, float), 0, 60_000, "a number of milliseconds from 0 to 60000"),
}


def _check(where: str, key: str, value: Any, rule: Rule) -> Any:
    types, lowest, highest, what = rule
    wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
    if not wrong and isinstance(value, (int, float)) and not isinstance(value, bool):
        wrong = not math.isfinite(value) or (
            (lowest is not None and value < lowest) or (highest is not None and value > highest)
        )
    if wrong:
        raise ScenarioError(f"{where}: {key} = {value!r}; expected {what}")
    return value


def scenarios_path() -> Path:
    """The shipped scenario file, `data/scenarios.toml`."""
    return data_dir() / "scenarios.toml"


def _background(item: Any, where: str) -> Background:
    if not isinstance(item, dict) or item.get("kind") not in BACKGROUND_KINDS:
        raise ScenarioError(
            f"{where}: background entry {item!r} needs kind = one of {', '.join(BACKGROUND_KINDS)}"
        )
    extra = sorted(set(item) - {"kind", *_BACKGROUND_KEYS})
    if extra:
        raise ScenarioError(f"{where}: background key(s) {', '.join(extra)} unknown")
    values = {k: _check(where, k, v, _BACKGROUND_KEYS[k]) for k, v in item.items() if k != "kind"}
    if item["kind"] in ("timer", "fsync") and values.get("period_ms", 0) <= 0:
        raise ScenarioError(f"{where}: {item['kind']} needs period_ms > 0")
    if "period_ms" in values:
        values["period_ms"] = float(values["period_ms"])
    return Background(kind=item["kind"], **values)


_CLIENT_KEYS: dict[str, Rule] = {
    "concurrency": _KEYS["ab_concurrency"],
    "keepalive": _KEYS["keepalive"],
}


def _client(item: Any, where: str) -> Client:
    if not isinstance(item, dict) or "concurrency" not in item:
        raise ScenarioError(f"{where}: extra_clients entry {item!r} needs concurrency = N")
    extra = sorted(set(item) - set(_CLIENT_KEYS))
    if extra:
        raise ScenarioError(f"{where}: extra_clients key(s) {', '.join(extra)} unknown")
    return Client(**{k: _check(where, k, v, _CLIENT_KEYS[k]) for k, v in item.items()})


def _scenario_from_table(name: str, table: Any, path: Path) -> Scenario:
    where = f"{path}: scenario {name!r}"
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: a table is expected, got {table!r}")
    lists = ("background", "extra_clients")
    unknown = sorted(set(table) - set(_KEYS) - set(lists))
    if unknown:
        raise ScenarioError(
            f"{where} has unknown key(s) {', '.join(unknown)}; known keys: "
            f"{', '.join(sorted([*_KEYS, *lists]))}"
        )
    values = {k: _check(where, k, v, _KEYS[k]) for k, v in table.items() if k not in lists}
    for key in lists:
        if not isinstance(table.get(key, []), list):
            raise ScenarioError(f"{where}: {key} = {table[key]!r}; expected a list of tables")
    if values.get("icount") and not values.get("vm"):
        raise ScenarioError(f"{where}: icount = true needs vm = true (it is a qemu option)")
    return Scenario(
        name=name,
        background=tuple(_background(b, where) for b in table.get("background", [])),
        extra_clients=tuple(_client(c, where) for c in table.get("extra_clients", [])),
        **values,
    )


def load_scenarios(path: Path | None = None) -> dict[str, Scenario]:
    """Every scenario of a `scenarios.toml` (tables under `[scenarios.NAME]`)."""
    path = path or scenarios_path()
    if not path.is_file():
        raise ScenarioError(f"{path}: no scenario file")
    try:
        obj = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    tables = obj.get("scenarios")
    if not isinstance(tables, dict) or not tables:
        raise ScenarioError(f"{path}: no [scenarios.NAME] tables")
    return {name: _scenario_from_table(name, t, path) for name, t in tables.items()}


def load_scenario(name: str, path: Path | None = None) -> Scenario:
    """One scenario by name; an unknown name lists the known ones."""
    scenarios = load_scenarios(path)
    if name not in scenarios:
        raise ScenarioError(
            f"unknown scenario {name!r}; known: {', '.join(sorted(scenarios))} "
            f"(in {path or scenarios_path()})"
        )
    return scenarios[name]


def with_overrides(
    scenario: Scenario, *, seconds: float | None = None, cpu: int | None = None
) -> Scenario:
    """The scenario with the command line's --seconds / --cpu applied (checked like the file)."""
    changes: dict[str, Any] = {}
    if seconds is not None:
        changes["seconds"] = _check("--seconds", "seconds", seconds, _KEYS["seconds"])
    if cpu is not None:
        changes["cpu"] = _check("--cpu", "cpu", cpu, _KEYS["cpu"])
    return replace(scenario, **changes)
