"""Plain-text console output: untrusted text (task, model and file names) is never markup.

Every command prints through `console()`: Rich's markup, emoji codes and highlighting are off,
so a task named `[/red]` or `p:ab:30558` prints as itself. Tables built with Rich's `Table` get
their cells through `plain()`, which wraps a string in a `Text` (never parsed).
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.text import Text


def console(*, stderr: bool = False, **options: Any) -> Console:
    """A Rich console that prints every string as plain text (no markup, emoji or highlight)."""
    if "width" not in options and not (sys.stderr if stderr else sys.stdout).isatty():
        options["width"] = 160  # piped: wide enough that tables are not cut
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, **options)


def plain(value: Any) -> Text:
    """A table cell that Rich shows verbatim."""
    return Text(str(value))
