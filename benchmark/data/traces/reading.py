"""Open a trace text file (plain, xz or gzip, told apart by content) and read it line by line.

Lines keep their 1-based number and whether they ended with a newline (a last line without one
may be a cut-off file). CRLF and LF both work. What cannot be trace text is refused naming the
file: an empty file, binary data, a cut or corrupt .xz/.gz (README §3). Reading is linear and
bounded: a line over `MAX_LINE_BYTES` is skipped (counted `overlong`) without being held in
memory, and bytes that are not UTF-8 are kept as `\\xNN` escapes and counted (`non_utf8`).
"""

from __future__ import annotations

import gzip
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from benchmark.data.traces.damage import Damage

XZ_MAGIC = b"\xfd7zXZ\x00"
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 1 << 16
MAX_LINE_BYTES = 1 << 16
COMPRESSIONS = ("xz", "gzip", "none")
# Bytes that never occur in trace text (C0 controls other than tab, LF, CR; DEL).
_CONTROL = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_TEXT = bytes(b for b in range(256) if b not in _CONTROL)
_DECOMPRESS_ERRORS = (EOFError, lzma.LZMAError, zlib.error, gzip.BadGzipFile)


class TraceFormatError(ValueError):
    """The file is empty, binary or not a trace of a known format; the message names the file."""


def compression(path: Path) -> str:
    """`xz`, `gzip` or `none`, from the file's first bytes (never from its name)."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic.startswith(XZ_MAGIC):
        return "xz"
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    return "none"


def _open_binary(path: Path) -> IO[bytes]:
    kind = compression(path)
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind == "gzip":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _cut(path: Path, after: str, exc: BaseException) -> TraceFormatError:
    return TraceFormatError(
        f"{path}: the {compression(path)} data is cut or corrupt {after} ({exc}); copy the file "
        "again from where it was recorded"
    )


def sniff(path: Path) -> bytes:
    """The first 64 KiB of the (decompressed) file; errors for missing, empty or binary files."""
    path = Path(path)
    if not path.exists():
        raise TraceFormatError(f"{path}: no such file")
    if path.is_dir():
        raise TraceFormatError(f"{path}: a folder, not a trace file")
    try:
        with _open_binary(path) as handle:
            head = handle.read(SNIFF_BYTES)
    except _DECOMPRESS_ERRORS as exc:
        raise _cut(path, "at its start", exc) from exc
    except OSError as exc:
        raise TraceFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    kind = compression(path)
    inside = "" if kind == "none" else f" (after {kind} decompression)"
    if not head.strip():
        what = "empty" if not head else "blank (only white space)"
        raise TraceFormatError(
            f"{path}: the file is {what}{inside}; expected `perf script` sched_switch text or "
            "`perf sched map` text"
        )
    control = len(head.translate(None, _TEXT))  # the bytes left are control bytes
    invalid = head.decode("utf-8", errors="replace").count("\ufffd")
    if b"\x00" in head or control > len(head) // 100 or invalid > len(head) // 10:
        raise TraceFormatError(
            f"{path}: binary data{inside}, not trace text (a perf.data file? export it with "
            "`perf script --ns -F comm,tid,cpu,time,event,trace` or `perf sched map`)"
        )
    return head


def iter_lines(path: Path, damage: Damage | None = None) -> Iterator[tuple[int, str, bool]]:
    """Yield (line number, line without its line ending, whether it had one).

    Overlong and non-UTF-8 lines are counted in `damage` (when given); a cut or corrupt
    compressed file raises `TraceFormatError` naming the file and the last line read."""
    path = Path(path)
    damage = damage if damage is not None else Damage()
    lineno = 0
    try:
        with _open_binary(path) as raw:
            readline = raw.readline
            while chunk := readline(MAX_LINE_BYTES + 1):
                lineno += 1
                had_newline = chunk.endswith(b"\n")
                if not had_newline and len(chunk) > MAX_LINE_BYTES:
                    while chunk and not chunk.endswith(b"\n"):
                        chunk = readline(1 << 20)  # read past the rest of the line
                    damage.add("overlong", lineno)
                    continue
                body = chunk.rstrip(b"\r\n")
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    text = body.decode("utf-8", errors="backslashreplace")
                    damage.add("non_utf8", lineno)
                yield lineno, text, had_newline
    except _DECOMPRESS_ERRORS as exc:
        raise _cut(path, f"after line {lineno:,}", exc) from exc
