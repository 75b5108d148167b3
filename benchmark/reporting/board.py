"""Build the leaderboard files from the stored results alone (README §6).

`build` reads the store's accepted results (and the data manifest), computes the per-trace
ceilings from the data, assembles the `Board` once and writes README.md, leaderboard.csv,
leaderboard.json and index.html from it. Evaluating lives in `benchmark.running.runner`; the
`leaderboard` command runs it first, then calls `build`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.core.atomic import write_text
from benchmark.core.paths import REPO_ROOT, leaderboard_dir
from benchmark.reporting.assemble import group, make_board
from benchmark.reporting.boardtypes import Board
from benchmark.reporting.ceilings import compute_ceilings
from benchmark.reporting.evidence import gather
from benchmark.reporting.markdown import markdown
from benchmark.reporting.page import html_page
from benchmark.reporting.tables import csv_text, json_text
from benchmark.reporting.transfer import transfer_view
from benchmark.reporting.tuning_gain import tuning_gains
from benchmark.results.store import Stored, is_default_label, read_results
from benchmark.scoring.bootstrap import N_RESAMPLES

OUTPUTS = ("README.md", "leaderboard.csv", "leaderboard.json", "index.html")


def collect(
    root: Path | None = None,
    data_root: Path | None = None,
    ceilings: dict[str, dict[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
    n_resamples: int = N_RESAMPLES,
) -> tuple[Board, list[Stored]]:
    """The board of the results under `root` (default: the leaderboard folder) on the data of
    `data_root`, and the accepted results it was assembled from (what figures read their
    stored predictions and curves from).

    `ceilings` (trace -> kind -> ceiling) default to `compute_ceilings` on the data. The
    comparisons use the stored predictions of every cell a first assembly scores.
    """
    from benchmark.data.manifest import load_manifest

    root = root or leaderboard_dir()
    manifest = load_manifest(data_root)
    if ceilings is None:
        ceilings = compute_ceilings(sorted(manifest.get("traces", {})), data_root, log)
    accepted, refused = read_results(root, manifest)
    first = make_board(accepted, refused, manifest, ceilings)
    by_model = group(accepted)
    ok_cells = [
        (row.model, trace, cell)
        for row in (*first.models, *first.default_models)
        for trace, cell in row.per_trace.items()
        if cell.status == "ok"
    ]
    cells = {(model, trace): by_model[model][trace] for model, trace, _ in ok_cells}
    recorded = {
        (model, trace): {m: e.value for m, e in cell.metrics.items()}
        for model, trace, cell in ok_cells
    }
    notes: list[str] = []

    def note(message: str) -> None:
        notes.append(message)
        if log:
            log(message)

    evidence = gather(root, data_root, cells, recorded, first.traces, n_resamples, note)
    board = make_board(accepted, refused, manifest, ceilings, evidence)
    sources = _tuned_sources(accepted)
    board.tuning = tuning_gains(
        board.models, board.default_models, board.traces, evidence, sources, n_resamples
    )
    link_params(board, sources, root)
    board.notes = notes  # which cells' comparisons could not use stored predictions, and why
    for warning in board.warnings:
        if log:
            log(f"warning: {warning}")
    return board, [s for s in accepted if not is_default_label(s.model)]


def _tuned_sources(accepted: list[Stored]) -> dict[tuple[str, str], str]:
    """(model, target) -> the params file its results were run with (the first ok result's)."""
    out: dict[tuple[str, str], str] = {}
    for stored in accepted:
        for target, source in (stored.result.get("params_source") or {}).items():
            out.setdefault((stored.model, target), source)
    return out


JOURNAL = "journal:"  # a study storage that is a file (benchmark.running.study_storage)


def link_params(board: Board, sources: dict[tuple[str, str], str], root: Path) -> None:
    """Each row's params file per target (`sources`: what its results' `params_source` names)
    and the study journal that file's `study.storage` names (`journal:PATH`), relative to
    `root` (the page's folder), where the file exists under `root`: any row that ran on a
    params file, whether or not it has a default row."""
    base = root.resolve()
    for row in (*board.models, *board.default_models):
        for target in row.targets:
            params = _file_under(sources.get((row.model, target), ""), base)
            if params is None:
                continue
            row.params_files[target] = params
            study = _file_under(_journal_of(base / params), base)
            if study is not None:
                row.study_files[target] = study


def _file_under(recorded: str, base: Path) -> str | None:
    """`recorded` (a path as the store writes it: relative to the repository or to the
    leaderboard folder) relative to `base`, when it names a file under `base`."""
    if not recorded:
        return None
    path = Path(recorded)
    for candidate in [path] if path.is_absolute() else [REPO_ROOT / path, base / path]:
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError):
            continue
        if resolved.is_relative_to(base) and resolved.is_file():
            return resolved.relative_to(base).as_posix()
    return None


def _journal_of(params_file: Path) -> str:
    """The journal file a params file's study was stored in (`study.storage`), or ""."""
    try:
        study = json.loads(params_file.read_text(encoding="utf-8")).get("study")
    except (OSError, ValueError, AttributeError):
        return ""
    storage = study.get("storage") if isinstance(study, dict) else None
    if isinstance(storage, str) and storage.startswith(JOURNAL):
        return storage[len(JOURNAL) :]
    return ""


def board_of(
    root: Path | None = None,
    data_root: Path | None = None,
    ceilings: dict[str, dict[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
) -> Board:
    """The board alone (`collect`)."""
    return collect(root, data_root, ceilings, log)[0]


def write_board(board: Board, out_dir: Path) -> None:
    """Write the four board files into `out_dir`."""
    write_text(out_dir / "README.md", markdown(board))
    write_text(out_dir / "leaderboard.csv", csv_text(board))
    write_text(out_dir / "leaderboard.json", json_text(board))
    write_text(out_dir / "index.html", html_page(board))


def with_transfer(board: Board, shipped: Path, log: Callable[[str], None] | None = None) -> None:
    """Add the transfer view against the shipped board in `shipped` (a holdout board's)."""
    try:
        reference = json.loads(shipped.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if log:
            log(f"no transfer view: {shipped} cannot be read ({exc}); run `make leaderboard`")
        return
    where = shipped.resolve()
    source = where.relative_to(REPO_ROOT) if where.is_relative_to(REPO_ROOT) else shipped
    board.transfer = transfer_view(board, reference, str(source))


def build(
    root: Path | None = None,
    out_dir: Path | None = None,
    data_root: Path | None = None,
    ceilings: dict[str, dict[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
    shipped: Path | None = None,
) -> Board:
    """Write README.md, leaderboard.csv, leaderboard.json and index.html from result files alone.

    `root` holds results/ (default: the leaderboard folder); files go to `out_dir` (default
    `root`). A holdout board names the `shipped` board's leaderboard.json, which gives it the
    transfer view.
    """
    root = root or leaderboard_dir()
    board = board_of(root, data_root, ceilings, log)
    if shipped is not None:
        with_transfer(board, shipped, log)
    write_board(board, out_dir or root)
    return board
