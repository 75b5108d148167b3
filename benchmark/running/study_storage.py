"""Where Optuna studies live: SQLite under `.optuna/` by default, any SQLAlchemy URL
(PostgreSQL for many machines), or `journal:PATH` (Optuna's journal file), with passwords
redacted from everything printed or written (README §6).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmark.core.paths import REPO_ROOT

STORAGE_DIR = ".optuna"
STORAGE_FILE = "studies.db"


class TuningError(RuntimeError):
    """A study cannot be run as asked (unknown target, a study of other data, ...)."""


def default_storage_url() -> str:
    """SQLite under `.optuna/` at the repository root (git-ignored); the folder is created."""
    folder = REPO_ROOT / STORAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / STORAGE_FILE}"


def open_storage(url: str | None) -> Any:
    """An Optuna storage for `url`: SQLAlchemy URLs (sqlite, postgresql, mysql) or journal:PATH."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    url = url or default_storage_url()
    if url.startswith("journal:"):
        path = Path(url.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        Path(url.split(":///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
        # Several processes on one SQLite file wait for the lock instead of failing at once.
        engine_kwargs = {"connect_args": {"timeout": 300}}
    from sqlalchemy.exc import SQLAlchemyError

    attempts = 6
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # The heartbeat marks trials of a killed process as failed (not charged to the
                # budget, see study_records.counted).
                return RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=30, grace_period=120
                )
        except ImportError as error:  # e.g. postgresql:// without psycopg2
            raise TuningError(
                f"storage {redact(url)} needs a database driver: {error}. For PostgreSQL: "
                "pip install psycopg2-binary"
            ) from error
        except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
            # Workers that start together on a fresh database race to create its tables: the
            # loser retries and then finds them made.
            if attempt == attempts - 1:
                raise TuningError(f"cannot open storage {redact(url)}: {error}") from error
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def redact(url: str) -> str:
    """The URL without its password; the default SQLite path relative to the repository."""
    default_prefix = f"sqlite:///{REPO_ROOT}/"
    if url.startswith(default_prefix):
        return "sqlite:///" + url[len(default_prefix) :]
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


