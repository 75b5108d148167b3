"""The transfer view of a holdout board (issue 12): does the ranking on the shipped traces carry
over to an unseen capture?

Each model ranked on both boards gets its rank on the holdout and its rank on the shipped board
(the committed `leaderboard/leaderboard.json`), per target; Spearman's rho compares the two
orders (average ranks for ties, then Pearson's correlation of the ranks). Fewer than three
common models, or one board with every rank tied, give no rho, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from benchmark.reporting.boardtypes import Board, Transfer, TransferRank

MIN_MODELS = 3


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of `values` (smallest first), tied values sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation of two equally long sequences; None when either is constant."""
    rx, ry = average_ranks(xs), average_ranks(ys)
    n = len(rx)
    mx, my = sum(rx) / n, sum(ry) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def shipped_ranks(shipped: Mapping[str, Any], target: str) -> dict[str, int]:
    """model -> rank on `target` of a shipped board's JSON (models without one are left out)."""
    out = {}
    for row in shipped.get("models", []):
        rank = (row.get("rank") or {}).get(target)
        if isinstance(rank, int) and not isinstance(rank, bool):
            out[str(row["model"])] = rank
    return out


def transfer_view(board: Board, shipped: Mapping[str, Any], source: str) -> list[Transfer]:
    """Per target: each common model's holdout and shipped rank, and Spearman's rho."""
    views = []
    for target in ("task", "delta"):
        on_shipped = shipped_ranks(shipped, target)
        common = sorted(
            (row.model for row in board.models if target in row.rank and row.model in on_shipped),
            key=lambda m: (board.row(m).rank[target], m),
        )
        ranks = [TransferRank(m, board.row(m).rank[target], on_shipped[m]) for m in common]
        rho, reason = None, None
        if len(ranks) < MIN_MODELS:
            reason = f"{len(ranks)} model(s) ranked on both boards; rho needs {MIN_MODELS}"
        else:
            rho = spearman([r.holdout for r in ranks], [r.shipped for r in ranks])
            if rho is None:
                reason = "every model has the same rank on one board"
        views.append(Transfer(target=target, source=source, ranks=ranks, rho=rho, reason=reason))
    return views
