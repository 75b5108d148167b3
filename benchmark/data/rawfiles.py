"""The layout of a raw capture folder, `<data>/raw/<trace>/` (README §3).

`kernel-oracle capture` writes `perf-script.txt.xz`, `sched-map.txt.xz` and `capture.json`.
`prepare` also reads the texts gzip-compressed (`.gz`) or plain (`.txt`); the compression is
told by content, never by the name, and recorded in the manifest. A folder whose files are
named otherwise is an error that lists the files found and the names expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.data.traces.reading import compression

CAPTURE_JSON = "capture.json"
PERF_SCRIPT_FILE = "perf-script.txt.xz"  # the names `capture` writes
SCHED_MAP_FILE = "sched-map.txt.xz"
SUFFIXES = (".xz", ".gz", "")
PERF_SCRIPT_NAMES = tuple(f"perf-script.txt{s}" for s in SUFFIXES)
SCHED_MAP_NAMES = tuple(f"sched-map.txt{s}" for s in SUFFIXES)


class RawLayoutError(ValueError):
    """A raw folder is missing or holds files under names `prepare` does not read."""


@dataclass(frozen=True)
class RawFolder:
    """One raw capture: its folder and the files found in it (None where absent)."""

    name: str
    folder: Path
    perf_script: Path
    sched_map: Path | None
    capture_json: Path | None
    found: tuple[str, ...]  # every file name in the folder

    def compressions(self) -> dict[str, dict[str, str]]:
        """`{"perf_script": {"file", "compression"}, ...}` for the manifest."""
        out = {}
        for key, path in (("perf_script", self.perf_script), ("sched_map", self.sched_map)):
            if path is not None:
                out[key] = {"file": path.name, "compression": compression(path)}
        return out


def _expected() -> str:
    return (
        f"{' or '.join(PERF_SCRIPT_NAMES)} (xz, gzip or plain text), optionally "
        f"{' or '.join(SCHED_MAP_NAMES)}, and {CAPTURE_JSON}"
    )


def _one_of(folder: Path, names: tuple[str, ...]) -> Path | None:
    present = [folder / n for n in names if (folder / n).is_file()]
    if len(present) > 1:
        raise RawLayoutError(
            f"{folder}: {' and '.join(p.name for p in present)} are both there; keep one"
        )
    return present[0] if present else None


def raw_folder(folder: Path) -> RawFolder:
    """The files of one raw capture folder; an error names what was found and what is expected."""
    found = tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))
    script = _one_of(folder, PERF_SCRIPT_NAMES)
    if script is None:
        listed = ", ".join(found) if found else "no files"
        raise RawLayoutError(
            f"{folder}: no perf script text; found {listed}; expected {_expected()}"
        )
    capture = folder / CAPTURE_JSON
    return RawFolder(
        name=folder.name,
        folder=folder,
        perf_script=script,
        sched_map=_one_of(folder, SCHED_MAP_NAMES),
        capture_json=capture if capture.is_file() else None,
        found=found,
    )


def raw_folders(root: Path) -> list[RawFolder]:
    """Every capture folder of `root/raw` (hidden ones skipped), sorted by name."""
    raw = root / "raw"
    how = (
        f"put each capture in {raw}/<trace>/ ({_expected()}), or record one with "
        "`kernel-oracle capture --scenario NAME`"
    )
    if not raw.is_dir():
        raise RawLayoutError(f"{raw}: no such folder; {how}")
    folders = sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        stray = sorted(p.name for p in raw.iterdir() if p.is_file())
        found = f" (found only files: {', '.join(stray)})" if stray else ""
        raise RawLayoutError(f"{raw}: no captures{found}; {how}")
    return [raw_folder(p) for p in folders]


def missing_sched_map(raw: RawFolder) -> str:
    """The warning for a capture without a map: the perf script text is not cross-checked."""
    return (
        f"{raw.folder}: no sched map ({' or '.join(SCHED_MAP_NAMES)}; found "
        f"{', '.join(raw.found)}), so the perf script text was not cross-checked against it"
    )
