"""SQLite files that several worker processes share (the sweep's storage, MLflow's store):
which file a URL names, and the journal mode that lets readers and a writer work at once.

Light to import: no Optuna, no MLflow.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from sweeper.errors import StudyError
from sweeper.masking import mask_url

# How long a SQLite writer waits for another process's lock before failing with
# "database is locked": the stores' transactions are short, so waiting is always right.
SQLITE_BUSY_TIMEOUT_S = 60


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory SQLite."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    # sqlite:///file:NAME?uri=true names its file in SQLite's URI syntax: leave it to SQLite.
    return None if url.database.startswith("file:") else Path(url.database)


def sqlite_path(url: str) -> Path | None:
    """The database file a store's URL names; None unless it is a SQLite URL naming a file."""
    return sqlite_file(make_url(url)) if url.startswith("sqlite:") else None


def require_sqlite_file(url: str, flag: str) -> None:
    """For commands that read a store: a SQLite file that is not there yet is a one-line error
    (SQLite would create an empty one), naming the `flag` it came from."""
    database = sqlite_path(url)
    if database is not None and not database.is_file():
        raise StudyError(f"{flag} {mask_url(url)}: {database} does not exist (run a sweep first)")


def enable_wal(database: Path, timeout: float = SQLITE_BUSY_TIMEOUT_S) -> None:
    """Write-ahead logging: readers (every worker's sampler, `mlflow ui`) no longer block the
    one writer, and a commit costs less.

    The journal mode is stored in the database file, so setting it once serves every later
    connection of every process. Switching waits up to `timeout` seconds for other processes'
    transactions to end.
    """
    with closing(sqlite3.connect(database, timeout=timeout)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
