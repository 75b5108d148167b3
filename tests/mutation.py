"""`make mutation`: mutation testing (mutmut) of the scoring, data and reference code, per group.

    .venv/bin/python tests/mutation.py [GROUP ...] [--jobs N] [--show]

A mutant is a small change to the code (an operator, a constant, a condition flipped); a test
suite that lets one pass ("survived") does not pin that behaviour. The groups, their modules and
their tests are `[tool.kernel-oracle.mutation.<group>]` in pyproject.toml; the options shared by
every group are `[tool.mutmut]`. Each group runs in its own snapshot of the working tree under
`.mutation/<group>/` (git-ignored), so the tree itself is never mutated, with a `[tool.mutmut]`
that mutates only the group's files and collects test coverage from only the group's tests;
mutmut then runs, for each mutant, only the tests that executed the mutated function.

Prints, per group and in all: mutants, killed, survived (no test failed), untested (no selected
test executes the function: counted as surviving), timeouts (counted as killed), the survival
rate, and every surviving mutant's name (with `--show`, its diff). `--report` prints the same from
the last run's snapshots without running anything again.

Every survivor should be explained in `tests/mutation_survivors/<group>.toml`
(`[explained."<mutant>"]` with `line`, the mutated line as `mutmut show` prints it after `+`,
and `why`: equivalent or unreachable, and how). Each survivor is printed with its explanation,
or as UNEXPLAINED; an explanation whose `line` no longer matches the mutant's diff (the code
moved) is STALE and counts as unexplained. Exit status 0 always: this is a measure, not a gate.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: mutmut brings `toml` there
    import toml as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
EXPLAINED = Path(__file__).resolve().parent / "mutation_survivors"  # <group>.toml
COPIED = ("benchmark", "models", "tests", "data")
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
SURVIVED = {"survived"}
UNTESTED = {"no tests"}


def load_config() -> tuple[dict, dict[str, dict]]:
    """The shared `[tool.mutmut]` options and the groups from pyproject.toml."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    return tool["mutmut"], tool["kernel-oracle"]["mutation"]


def toml_value(value: object) -> str:
    """A TOML literal for the simple values used here (strings, numbers, booleans, lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def group_pyproject(shared: dict, group: dict) -> str:
    """pyproject.toml of one group's snapshot: pytest's options and the group's mutmut table."""
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    options = {
        **shared,
        "only_mutate": group["mutate"],
        "pytest_add_cli_args_test_selection": group["tests"],
    }
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in pytest_options["ini_options"].items()]
    lines += ["", "[tool.mutmut]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def snapshot(name: str, shared: dict, group: dict) -> Path:
    """A fresh copy of the code, tests and data for one group (the tree is never mutated)."""
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for folder in COPIED:
        shutil.copytree(ROOT / folder, work / folder, ignore=ignore)
    (work / "pyproject.toml").write_text(group_pyproject(shared, group))
    return work


def mutmut(work: Path, *args: str, log: Path | None = None) -> str:
    """Run mutmut in `work` at the lowest priority, one thread per test process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("KERNEL_ORACLE_DATA", None)  # the snapshot's own data/
    command = ["nice", "-n", "19", str(Path(sys.executable).parent / "mutmut"), *args]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    return done.stdout


def statuses(work: Path, patterns: list[str]) -> dict[str, str]:
    """Mutant name -> status, for the mutants of the group's name patterns."""
    out: dict[str, str] = {}
    for line in mutmut(work, "results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and any(fnmatch.fnmatch(name, p) for p in patterns):
            out[name] = status
    return out


def load_explanations(group: str, folder: Path = EXPLAINED) -> dict[str, dict[str, str]]:
    """Mutant name -> {line, why} from the group's survivors file (empty when there is none)."""
    path = folder / f"{group}.toml"
    if not path.is_file():
        return {}
    return tomllib.loads(path.read_text()).get("explained", {})


def mutated_line(diff: str) -> str:
    """The first added line of a `mutmut show` diff, without its `+` and surrounding blanks."""
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def explanation(mutant: str, diff: str, explained: dict[str, dict[str, str]]) -> tuple[str, bool]:
    """(what to print after the survivor's name, whether it counts as explained)."""
    entry = explained.get(mutant)
    if entry is None:
        return "UNEXPLAINED", False
    if entry.get("line", "").strip() != mutated_line(diff):
        return f"STALE (the explanation was for `{entry.get('line', '')}`)", False
    return str(entry.get("why", "")), True


def run_group(
    name: str, shared: dict, group: dict, jobs: int, show: bool, report: bool = False
) -> dict[str, int]:
    """Mutate one group (or, with `report`, read its last run); print its counts and
    survivors with their explanations; return the counts."""
    patterns = group.get("mutants", ["*"])
    log = WORK / f"{name}.log"
    if report:
        work = WORK / name
        if not (work / "mutants").is_dir():
            print(f"{name}: no earlier run in {work}; run `tests/mutation.py {name}` first")
            return {k: 0 for k in ("mutants", "killed", "survived", "untested", "other")}
    else:
        work = snapshot(name, shared, group)
        mutmut(work, "run", "--max-children", str(jobs), *group.get("mutants", []), log=log)
    found = statuses(work, patterns)
    if not found or all(s == "not checked" for s in found.values()):
        last = (log.read_text().strip().splitlines() or ["(empty)"])[-1]
        print(f"{name}: mutmut did not run ({last}); see {log}")
        return {"mutants": 0, "killed": 0, "survived": 0, "untested": 0, "other": 0}
    survivors = sorted(n for n, s in found.items() if s in SURVIVED | UNTESTED)
    counts = {
        "mutants": len(found),
        "killed": sum(s in KILLED for s in found.values()),
        "survived": sum(s in SURVIVED for s in found.values()),
        "untested": sum(s in UNTESTED for s in found.values()),
    }
    counts["other"] = counts["mutants"] - counts["killed"] - counts["survived"] - counts["untested"]
    rate = (counts["survived"] + counts["untested"]) / counts["mutants"]
    print(
        f"{name}: {counts['mutants']} mutants, {counts['killed']} killed, "
        f"{counts['survived']} survived, {counts['untested']} untested, {counts['other']} other; "
        f"survival {rate:.1%}"
    )
    explained = load_explanations(name)
    counts["explained"] = 0
    for mutant in survivors:
        diff = mutmut(work, "show", mutant)
        why, ok = explanation(mutant, diff, explained)
        counts["explained"] += ok
        print(f"  {found[mutant]}: {mutant}: {why}")
        if show:
            print(diff)
    print(f"{name}: {counts['explained']} of {len(survivors)} survivors explained")
    return counts


def main(argv: list[str] | None = None) -> int:
    shared, groups = load_config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help=f"default all: {' '.join(groups)}")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument(
        "--report", action="store_true", help="read the last run's results; run nothing"
    )
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in groups]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(groups)}")
    total = {"mutants": 0, "killed": 0, "survived": 0, "untested": 0, "other": 0, "explained": 0}
    for name in args.groups or list(groups):
        counts = run_group(name, shared, groups[name], args.jobs, args.show, args.report)
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    if total["mutants"]:
        surviving = total["survived"] + total["untested"]
        rate = surviving / total["mutants"]
        print(
            f"all: {total['mutants']} mutants, {surviving} surviving; survival {rate:.1%}; "
            f"{total['explained']} of {surviving} survivors explained"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
