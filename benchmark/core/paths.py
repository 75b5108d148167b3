"""Where the project's files live; one place so that tests and the CLI can redirect them."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The data folder (`data/`), or `$KERNEL_ORACLE_DATA` when set (tests, private holdouts)."""
    return Path(os.environ.get("KERNEL_ORACLE_DATA", REPO_ROOT / "data"))


def leaderboard_dir() -> Path:
    """The leaderboard folder, or `$KERNEL_ORACLE_LEADERBOARD` when set."""
    return Path(os.environ.get("KERNEL_ORACLE_LEADERBOARD", REPO_ROOT / "leaderboard"))
