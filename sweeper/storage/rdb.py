"""Where studies and runs are stored: URL resolution and Optuna's RDB storage, set up for many
worker processes (SQLite on one machine, PostgreSQL across machines).

Imports Optuna: import this module inside CLI commands, not at the top of `sweeper.cli`.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from sweeper.errors import StudyError
from sweeper.masking import mask_text, mask_url
from sweeper.storage.resilient import ResilientRDBStorage, reconnect_patiently
from sweeper.storage.sqlite import (
    SQLITE_BUSY_TIMEOUT_S,
    enable_wal,
    require_sqlite_file,
    sqlite_file,
)
from sweeper.study.record import FAIL_REASON, RETRY_HISTORY

DEFAULT_STORAGE = "sqlite:///sweeps.db"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
STORAGE_ENV = "SWEEPER_STORAGE"
TRACKING_ENV = "MLFLOW_TRACKING_URI"

# An unreachable PostgreSQL host should fail in seconds, not after the TCP timeout.
POSTGRES_CONNECT_TIMEOUT_S = 10


def resolve_storage_url(flag: str | None) -> str:
    """The Optuna storage URL: `flag`, else $SWEEPER_STORAGE, else sqlite:///sweeps.db.

    Raises StudyError (one line, password masked) when the URL is malformed, names an unknown
    database or a driver that is not installed, or a SQLite file in a missing directory.
    """
    if flag:
        url, source = flag, "--storage"
    elif os.environ.get(STORAGE_ENV):
        url, source = os.environ[STORAGE_ENV], f"--storage (from ${STORAGE_ENV})"
    else:
        url, source = DEFAULT_STORAGE, "--storage"
    _parse_database_url(url, source)
    return url


def resolve_tracking_uri(flag: str | None) -> str:
    """The MLflow tracking URI: `flag`, else $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.

    Raises StudyError (one line) for a PostgreSQL URI whose driver is not installed: MLflow
    would fail on it only later, naming no fix.
    """
    uri = flag or os.environ.get(TRACKING_ENV) or DEFAULT_TRACKING_URI
    if uri.startswith("postgresql"):
        _parse_database_url(uri, "--tracking-uri")
    return uri


def _parse_database_url(url: str, source: str) -> URL:
    shown = mask_url(url)
    example = "sqlite:///sweeps.db or postgresql://USER:PASSWORD@HOST:5432/DATABASE"
    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        raise StudyError(f"{source} {shown!r} is not a database URL; expected {example}") from None
    try:
        dialect = parsed.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError:
        raise StudyError(
            f"{source} {shown!r}: unknown database {parsed.drivername!r}; expected {example}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        # psycopg is an extra, not a dependency: most users never leave SQLite
        if dialect.driver == "psycopg":
            raise StudyError(
                f"{source} {shown!r}: PostgreSQL needs its driver, psycopg: "
                "pip install 'sweeper[postgres]'"
            ) from None
        raise StudyError(
            f"{source} {shown!r}: the database driver is not installed ({exc.name or exc})"
        ) from None
    database = sqlite_file(parsed)
    if database is not None and not database.parent.is_dir():
        raise StudyError(f"{source} {shown!r}: directory {database.parent} does not exist")
    return parsed


def _engine_kwargs(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    # pool_pre_ping replaces connections that died with a database restart instead of failing
    # the next query on them, so workers carry on once the database is back.
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    return kwargs


class SweepStorage(ResilientRDBStorage):
    """Optuna's RDB storage as sweeper's workers share it (see `open_storage`).

    Pickles as Optuna's storages do, and the copy is set up alike: Optuna makes its engine anew
    when unpickled. Hence a class holding the stale-trial handling, where a closure would not
    pickle; `on_stale` must pickle too.
    """

    _ended_trial_to_annotate: int | None = None

    def __init__(
        self,
        url: str,
        *,
        engine_kwargs: dict[str, Any],
        heartbeat_interval: int,
        grace_period: int,
        max_retry: int,
        on_stale: Callable[[optuna.Study, FrozenTrial], None] | None,
    ) -> None:
        self._max_retry = max_retry
        self._on_stale = on_stale
        # Both are marked experimental in Optuna 5 but are its documented answer to dead
        # workers; the warning would only confuse sweeper's users.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
            super().__init__(
                # RDBStorage formats the URL with str.format ({SCHEMA_VERSION}); keep a
                # password's literal braces intact.
                url.replace("{", "{{").replace("}", "}}"),
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=self._fail_stale,
            )
        self._set_up_engine()

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._set_up_engine()

    def _set_up_engine(self) -> None:
        """SQLite syncs its log at checkpoints; with other databases, new connections wait out
        an outage (see `sweeper.storage.resilient`)."""
        if self.engine.name == "sqlite":
            sqlalchemy.event.listen(self.engine, "connect", _sync_at_checkpoints)
            self.engine.dispose()  # the connections Optuna opened to set up come back with it
        else:
            reconnect_patiently(self.engine, self.url)

    def _fail_stale(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """A trial whose worker stopped sending heartbeats, just failed: retried, its
        FAIL_REASON naming the retry, then `on_stale` told."""
        self._retry(study, trial)
        self._say_why_stale(study, trial)
        if self._on_stale is not None:
            self._on_stale(study, trial)

    def _say_why_stale(self, study: optuna.Study, trial: FrozenTrial) -> None:
        # From the storage itself: the study's cache would keep the failed trial as it reads
        # now, without the reason set below.
        study_id = self.get_study_id_from_name(study.study_name)
        retried = next(
            (
                t.number
                for t in self.get_all_trials(study_id, deepcopy=False)
                if t.system_attrs.get(RETRY_HISTORY, [])[-1:] == [trial.number]
            ),
            None,
        )
        then = (
            f"retried as trial {retried}"
            if retried is not None
            else f"not retried: its parameters have failed {self._max_retry + 1} times"
        )
        reason = f"worker stopped sending heartbeats; {then} (none for {self.grace_period}s)"
        trial_id = self.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        # Optuna refuses to change a trial that has ended: let this one attribute through.
        self._ended_trial_to_annotate = trial_id
        try:
            self.set_trial_user_attr(trial_id, FAIL_REASON, reason)
        finally:
            self._ended_trial_to_annotate = None
        trial.user_attrs[FAIL_REASON] = reason

    def check_trial_is_updatable(self, trial_id: int, trial_state: TrialState) -> None:
        if trial_id != self._ended_trial_to_annotate:
            super().check_trial_is_updatable(trial_id, trial_state)


def open_storage(
    url: str,
    *,
    heartbeat_interval: int,
    grace_period: int,
    max_retry: int,
    on_stale: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> SweepStorage:
    """Optuna's RDB storage for `url`, ready for several workers on one study.

    Running trials send a heartbeat every `heartbeat_interval` seconds; a trial silent for
    `grace_period` seconds (its worker was killed) is marked FAIL by the next worker that asks
    for a trial, and re-queued with the same parameters up to `max_retry` times; its
    FAIL_REASON says so and names the retry; `on_stale` then hears of the failed trial (to close
    its tracking run, say). SQLite gets a busy timeout and write-ahead logging so local worker
    processes do not fail on locks; with other databases, workers wait out a restart (see
    `sweeper.storage.resilient`).
    """
    check_heartbeat(heartbeat_interval, grace_period)
    parsed = _parse_database_url(url, "--storage")
    database = sqlite_file(parsed)
    shown = mask_url(url)
    try:
        if database is not None:
            enable_wal(database)
        for attempt in range(3):
            try:
                storage = SweepStorage(
                    url,
                    engine_kwargs=_engine_kwargs(parsed),
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    max_retry=max_retry,
                    on_stale=on_stale,
                )
                break
            except sqlalchemy.exc.SQLAlchemyError as exc:
                # Workers starting together on a new database race to create Optuna's tables;
                # the loser finds them made and simply opens the storage again.
                if "already exists" not in str(exc) or attempt == 2:
                    raise
                time.sleep(0.5)
    except (sqlite3.Error, sqlalchemy.exc.SQLAlchemyError) as exc:
        raise _cannot_open(url, exc) from None
    except RuntimeError as exc:  # Optuna's table schema is from another Optuna version
        raise StudyError(f"--storage {shown!r}: {mask_text(str(exc), [url])}") from None
    return storage


def check_heartbeat(heartbeat_interval: int, grace_period: int) -> None:
    """A trial silent for `grace_period` seconds is failed: it must outlast a heartbeat."""
    if heartbeat_interval < 1 or grace_period <= heartbeat_interval:
        raise StudyError(
            f"--heartbeat ({heartbeat_interval}s) must be at least 1 s and below the grace "
            f"period, --grace ({grace_period}s)"
        )


def _sync_at_checkpoints(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """SQLite's advice for write-ahead logging: sync the log at checkpoints, not at every
    commit. That halves the cost of Optuna's many small writes per trial (benchmarks/sweep.py);
    a crashed or killed worker still loses nothing, and a power cut can undo the last commits
    but never corrupt the database."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class LockHeld(Exception):
    """Another process holds the lock that was asked for without waiting."""


@contextmanager
def storage_lock(
    url: str, name: str, *, wait: bool = True, lock_file: Path | None = None
) -> Iterator[None]:
    """Hold the lock `name` against every process, on any machine, using the storage `url`.

    For the steps that read, then write: creating the study's MLflow parent run, and counting
    a study's free trial slots before taking one. Optuna's storage has no compare-and-set, so
    workers doing either at the same moment would each write.
    PostgreSQL gives a session-wide advisory lock, released when its connection ends, even if
    the process is killed. A SQLite file is shared only by processes of one machine, which lock
    its directory, or `lock_file` when given: a lock held for minutes (a promotion) must not
    hold up the sweep workers, which take the directory's before each trial. Other databases:
    `lock_file`, else no lock. With `wait=False`, a lock another process holds raises LockHeld
    at once.
    """
    parsed = _parse_database_url(url, "--storage")
    database = sqlite_file(parsed)
    postgres = parsed.get_backend_name() == "postgresql"
    if not postgres and (lock_file is not None or database is not None):
        if lock_file is not None:
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        else:
            assert database is not None
            # Not the database file: closing any descriptor of it would drop the POSIX locks
            # that SQLite holds on it in this process, and let other processes write at once.
            descriptor = os.open(database.parent, os.O_RDONLY)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise LockHeld(name) from None
            yield
        finally:
            os.close(descriptor)  # releases the lock
        return
    if not postgres:
        yield
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    take = "SELECT pg_advisory_lock(:key)" if wait else "SELECT pg_try_advisory_lock(:key)"
    try:
        connection = _lock_engine(url).connect()
        held = connection.execute(sqlalchemy.text(take), {"key": key}).scalar()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _cannot_open(url, exc) from None
    try:
        if held is False:
            raise LockHeld(name)
        yield
    finally:
        # If the database went away meanwhile, so did the lock with the session that held it.
        with suppress(sqlalchemy.exc.SQLAlchemyError):
            connection.close()


@functools.cache
def _lock_engine(url: str) -> sqlalchemy.Engine:
    """One engine per process for `storage_lock`, which workers take before every trial."""
    parsed = _parse_database_url(url, "--storage")
    # Without a pool, closing the connection ends the database session, releasing the lock.
    engine = sqlalchemy.create_engine(parsed, poolclass=NullPool, **_engine_kwargs(parsed))
    reconnect_patiently(engine, url)  # ride out a database restart, as the storage does
    return engine


def _cannot_open(url: str, exc: Exception) -> StudyError:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return StudyError(
        f"--storage {mask_url(url)!r}: cannot open the database: {mask_text(reason, [url])}"
    )


def load_existing_study(name: str, storage_url: str) -> optuna.Study:
    """A study that must already exist, for reading; an unknown name lists the ones that do."""
    require_sqlite_file(storage_url, "--storage")
    try:
        names = optuna.get_all_study_names(storage_url)
    except Exception as exc:
        raise StudyError(
            f"--storage {mask_url(storage_url)}: cannot read it ({type(exc).__name__})"
        ) from None
    if name not in names:
        known = ", ".join(sorted(names)) or "none yet"
        raise StudyError(f"no study named {name!r} in {mask_url(storage_url)} (studies: {known})")
    return optuna.load_study(study_name=name, storage=storage_url)
