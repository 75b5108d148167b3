"""Where Optuna studies live (README §6): SQLite under `.optuna/` by default, any SQLAlchemy URL
(PostgreSQL for many machines), `journal:PATH` (Optuna's journal file), or `grpc://HOST:PORT`
(Optuna's gRPC storage proxy in front of a database, for very many workers), with passwords
redacted from everything printed or written.

* RDB storages (SQLite, PostgreSQL) send a heartbeat per running trial; a trial without one for
  `GRACE_FACTOR` heartbeats (its process was killed) is marked FAIL, not charged, and retried
  as a WAITING copy by `RetryHeartbeatStaleTrialCallback` (one configuration at most
  `MAX_RETRIES` times).
* The journal backend and the gRPC proxy's clients send no heartbeat (Optuna 5.0);
  `study_runner.fail_dead_trials` does the same there for trials of processes of this host that
  are gone. A killed worker's trial on another host stays RUNNING; it is never charged.
* SQLite transactions take the write lock when they begin, so that two workers cannot both pop
  one WAITING trial (Optuna's row lock, SELECT ... FOR UPDATE, is a no-op on SQLite).
* A storage that cannot be opened is a one-line `TuningError` naming `--storage`, at once: a
  closed port is refused, an unreachable PostgreSQL host gives up after `CONNECT_TIMEOUT_S`.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmark.core.paths import REPO_ROOT

STORAGE_DIR = ".optuna"
STORAGE_FILE = "studies.db"
JOURNAL_PREFIX = "journal:"
GRPC_PREFIX = "grpc://"
HEARTBEAT_S = 30
GRACE_FACTOR = 4  # a trial is stale after this many missed heartbeats
MAX_RETRIES = 2  # a stale trial is re-run at most this many times
CONNECT_TIMEOUT_S = 10
SQLITE_LOCK_WAIT_S = 300  # workers on one SQLite file wait this long for its lock


class TuningError(RuntimeError):
    """A study cannot be run as asked (unknown target, a study of other data, ...)."""


def default_storage_url() -> str:
    """SQLite under `.optuna/` at the repository root (git-ignored); the folder is created."""
    folder = REPO_ROOT / STORAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / STORAGE_FILE}"


def retry_callback() -> Any:
    """What happens to a stale trial: a WAITING copy (same parameters and attributes) is queued,
    without the dead worker's name (the worker that takes it writes its own)."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)

    def requeue(study: Any, trial: Any) -> None:  # `trial` is a copy, Optuna's and ours
        trial.user_attrs.pop("worker", None)
        retry(study, trial)

    return requeue


def open_storage(url: str | None, heartbeat_s: int = HEARTBEAT_S) -> Any:
    """An Optuna storage for `url`: SQLAlchemy URLs (sqlite, postgresql, mysql) or journal:PATH."""
    url = url or default_storage_url()
    if url.startswith(JOURNAL_PREFIX):
        return open_journal(url)
    if url.startswith(GRPC_PREFIX):
        return open_grpc(url)
    return _open_rdb(url, heartbeat_s)


def open_journal(url: str) -> Any:
    """Optuna's JournalStorage on the file of `journal:PATH` (created if absent)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    text = url.removeprefix(JOURNAL_PREFIX)
    if not text:
        raise TuningError(
            "--storage journal: name the journal file, e.g. journal:leaderboard/studies/s.jsonl"
        )
    path = Path(text)
    check_journal(path, url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as error:
        raise TuningError(f"--storage {url}: cannot use {path}: {error.strerror}") from error
    except (ValueError, KeyError, TypeError) as error:  # lines Optuna cannot replay
        raise TuningError(f"--storage {url}: {path} is not an Optuna journal file") from error


def open_grpc(url: str) -> Any:
    """A client of `optuna.storages.run_grpc_proxy_server` at grpc://HOST:PORT, once it answers."""
    import socket

    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise TuningError(f"--storage {url}: give grpc://HOST:PORT of Optuna's gRPC storage proxy")
    try:
        import optuna
        from optuna.storages import GrpcStorageProxy
    except ImportError as error:
        raise TuningError(f"--storage {url} needs grpcio: pip install grpcio protobuf") from error
    try:  # a closed port is refused at once; a host that is not there gives up in time
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = GrpcStorageProxy(host=host, port=port)
            storage.wait_server_ready(timeout=CONNECT_TIMEOUT_S)
    except ImportError as error:  # grpcio without protobuf
        raise TuningError(f"--storage {url} needs grpcio: pip install grpcio protobuf") from error
    except OSError as error:  # ConnectionError, a timeout, an unknown host
        raise TuningError(f"--storage {url}: no gRPC storage proxy answers: {error}") from error
    return storage


def check_journal(path: Path, url: str) -> None:
    """Refuse a file that is not a journal: every line a JSON object with an `op_code`.

    The text after the last newline may be a record another worker is writing right now.
    """
    if path.is_dir():
        raise TuningError(f"--storage {url}: {path} is a folder, not a journal file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as error:
        raise TuningError(f"--storage {url}: cannot read {path}: {error.strerror}") from error
    *lines, tail = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or "op_code" not in record:
            raise TuningError(
                f"--storage {url}: {path} is not an Optuna journal file (line {number} is not "
                "a journal record); name a new file or the journal of the study"
            )
    if tail and not tail.startswith(b"{"):
        raise TuningError(f"--storage {url}: {path} is not an Optuna journal file")


def _open_rdb(given: str, heartbeat_s: int) -> Any:
    import optuna
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import SQLAlchemyError

    url, shown = with_driver(given), redact(given)
    engine_kwargs = _engine_kwargs(url)
    _probe(url, engine_kwargs, shown)
    attempts = 6
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_s,
                    grace_period=GRACE_FACTOR * heartbeat_s,
                    heartbeat_stale_trial_callback=retry_callback(),
                )
            break
        except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
            # Workers that start together on a fresh database race to create its tables: the
            # loser retries and then finds them made.
            if attempt == attempts - 1:
                raise TuningError(
                    f"--storage {shown}: cannot open it: {error_line(error)}"
                ) from error
            time.sleep(0.5 * (attempt + 1))
    if url.startswith("sqlite:"):
        _begin_immediate(storage.engine)
    return storage


def with_driver(url: str) -> str:
    """`postgresql://` names no driver, and SQLAlchemy 2.1 takes psycopg (3) where 2.0 took
    psycopg2: use whichever of them is installed (psycopg2-binary is the documented one)."""
    import importlib.util

    scheme, _, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    for driver in ("psycopg", "psycopg2"):
        if importlib.util.find_spec(driver) is not None:
            return f"postgresql+{driver}://{rest}"
    return url  # opening it names the driver to install


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite:"):
        try:
            Path(url.split(":///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TuningError(
                f"--storage {url}: cannot make its folder: {error.strerror}"
            ) from error
        return {"connect_args": {"timeout": SQLITE_LOCK_WAIT_S}}
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
    return {}


def _probe(url: str, engine_kwargs: dict[str, Any], shown: str) -> None:
    """Connect once, so that a server that is not there is one line now, not retries later."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(url, **engine_kwargs)
    except ImportError as error:  # e.g. postgresql:// without psycopg2
        raise TuningError(
            f"--storage {shown} needs a database driver ({error}); for PostgreSQL: "
            "pip install psycopg2-binary"
        ) from error
    except (SQLAlchemyError, ValueError) as error:
        raise TuningError(f"--storage {shown}: not a storage URL: {error_line(error)}") from error
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as error:
        raise TuningError(f"--storage {shown}: cannot connect: {error_line(error)}") from error
    finally:
        engine.dispose()


def _begin_immediate(engine: Any) -> None:
    """Every SQLite transaction takes the write lock as it begins (SQLAlchemy's recipe for
    SQLite transactions), so read-then-write steps of two workers never interleave."""
    from sqlalchemy import event

    def no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    def begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", no_implicit_begin)
    event.listen(engine, "begin", begin)
    engine.dispose()  # connections opened before the listeners are closed


def error_line(error: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's background link."""
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0] if text else type(error).__name__


def storage_failure(error: BaseException) -> BaseException | None:
    """The storage error behind `error` (a database, proxy or journal file that failed
    mid-study): the deepest one in the exception chain, since Optuna wraps or masks it."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    kinds = (SQLAlchemyError, optuna.exceptions.StorageInternalError, OSError)
    found, seen = None, error
    while seen is not None:
        if isinstance(seen, kinds) or type(seen).__module__.startswith("grpc"):
            found = seen
        seen = seen.__cause__ or seen.__context__
    return found


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
