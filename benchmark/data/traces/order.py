"""Which switches to drop so that one CPU's switch times run forward (README §3: damage).

A time out of order can be a switch that went back (earlier than those before it) or one whose
time jumped forward (later than those after it). Dropping whatever is earlier than the last
accepted switch turns a single forward jump into the loss of every later switch, so the rule
here is: keep the longest run of switches whose times never decrease (the fewest drops; among
equally long choices the one that keeps the earliest switches), and name each dropped switch
`backwards` or `jump` by where its time lies relative to the kept ones. Linear time when the
times are already in order (every shipped trace), O(n log n) otherwise.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

import numpy as np


def _longest_from(times: Sequence[int]) -> list[int]:
    """For each i, the length of the longest non-decreasing run of times starting at i."""
    n = len(times)
    longest = [0] * n
    tails: list[int] = []  # tails[k]: the largest start of a run of length k + 1 seen so far
    for i in range(n - 1, -1, -1):
        value = -times[i]  # walking backwards, a run forward is non-increasing: negate
        k = bisect_right(tails, value)
        if k == len(tails):
            tails.append(value)
        else:
            tails[k] = value
        longest[i] = k + 1
    return longest


def out_of_order(times: Sequence[int]) -> dict[int, str]:
    """`{index: "backwards" | "jump"}` for the switches to drop; empty when all are in order."""
    if len(times) < 2 or bool(np.all(np.diff(np.asarray(times, dtype=np.int64)) >= 0)):
        return {}
    longest = _longest_from(times)
    need = max(longest)
    keep: list[int] = []
    last: int | None = None
    for i, t in enumerate(times):  # greedy: the earliest switch that still completes a run
        if need and longest[i] == need and (last is None or t >= last):
            keep.append(i)
            last, need = t, need - 1
    kept = set(keep)
    dropped: dict[int, str] = {}
    next_kept: int | None = None  # the time of the first kept switch after i
    for i in range(len(times) - 1, -1, -1):
        if i in kept:
            next_kept = times[i]
            continue
        dropped[i] = "jump" if next_kept is not None and times[i] > next_kept else "backwards"
    return dict(sorted(dropped.items()))
