"""Open a trace text file (plain, xz or gzip, by magic bytes) and read it line by line.

Lines keep their 1-based number and whether they ended with a newline (a last line without one
may be a cut-off file). CRLF and LF both work. Binary data is refused with a clear error.
"""

from __future__ import annotations

import gzip
import io
import lzma
from collections.abc import Iterator
from pathlib import Path
from typing import IO

XZ_MAGIC = b"\xfd7zXZ\x00"
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 1 << 16


class TraceFormatError(ValueError):
    """The file is empty, binary or not a trace of a known format; the message names the file."""


def _open_binary(path: Path) -> IO[bytes]:
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic.startswith(XZ_MAGIC):
        return lzma.open(path, "rb")
    if magic.startswith(GZIP_MAGIC):
        return gzip.open(path, "rb")
    return open(path, "rb")


def sniff(path: Path) -> bytes:
    """The first 64 KiB of the (decompressed) file; errors for missing, empty or binary files."""
    path = Path(path)
    if not path.exists():
        raise TraceFormatError(f"{path}: no such file")
    try:
        with _open_binary(path) as handle:
            head = handle.read(SNIFF_BYTES)
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise TraceFormatError(f"{path}: cannot be decompressed ({exc})") from exc
    if not head.strip():
        raise TraceFormatError(
            f"{path}: the file is empty; expected `perf script` sched_switch text or "
            "`perf sched map` text"
        )
    if b"\x00" in head:
        raise TraceFormatError(
            f"{path}: binary data, not trace text (a perf.data file? export it with "
            "`perf script --ns -F comm,tid,cpu,time,event,trace` or `perf sched map`)"
        )
    return head


def iter_lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """Yield (line number, line without its line ending, whether it had one)."""
    with _open_binary(Path(path)) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        for lineno, line in enumerate(text, start=1):
            stripped = line.rstrip("\r\n")
            yield lineno, stripped, len(stripped) != len(line)
