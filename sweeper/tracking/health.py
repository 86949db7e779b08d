"""Is the tracking store there? A check made before a sweep starts, so that a wrong URI or a
server that is down fails in seconds with one line, not after MLflow's minutes of retries."""

from __future__ import annotations

from mlflow.exceptions import MlflowException

from sweeper.errors import StudyError
from sweeper.masking import mask_url
from sweeper.storage.sqlite import sqlite_path

HEALTH_TIMEOUT_S = 5


_SQLITE_HEADER = b"SQLite format 3\x00"


def check_tracking_store(uri: str) -> None:
    """Fail fast, before any store is written, when `uri` cannot be a working tracking store:
    a scheme MLflow has no store for, a file that is not SQLite, a server that does not answer
    (asked once, for HEALTH_TIMEOUT_S, instead of MLflow's retries)."""
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry

    shown = f"--tracking-uri {mask_url(uri)!r}"
    try:
        _tracking_store_registry.get_store_builder(uri)
    except MlflowException:
        raise StudyError(
            f"{shown}: not a tracking store MLflow knows; expected sqlite:///mlflow.db, "
            "http://HOST:5000 or a database URL"
        ) from None
    if uri.startswith(("http://", "https://")):
        _check_server(uri, shown)
    elif uri.startswith("sqlite:"):
        database = sqlite_path(uri)
        if database is None:
            return
        if not database.parent.is_dir():
            raise StudyError(f"{shown}: directory {database.parent} does not exist")
        if database.is_file():
            with database.open("rb") as file:
                header = file.read(len(_SQLITE_HEADER))
            if header and header != _SQLITE_HEADER:
                raise StudyError(f"{shown}: {database} is not a SQLite database")


def _check_server(uri: str, shown: str) -> None:
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    # /health needs no login; urllib would take a password in the URL for part of the port.
    health = parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="")
    url = urllib.parse.urlunsplit(health).rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S):
            return
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} from {url}"
    except (OSError, ValueError) as exc:
        reason = str(getattr(exc, "reason", None) or exc)
    raise StudyError(f"{shown}: the tracking server does not answer ({reason})")
