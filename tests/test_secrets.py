"""Passwords never reach a printed line or a log: URL and text masking."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from sweeper.masking import mask_logging, mask_text, mask_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql+psycopg://alice:s3cr%40t@db.example:5432/optuna",
            "postgresql+psycopg://alice:***@db.example:5432/optuna",
        ),
        ("postgresql://alice:hunter2@db/optuna", "postgresql://alice:***@db/optuna"),
        ("mysql+pymysql://root:hunter2@db/optuna", "mysql+pymysql://root:***@db/optuna"),
        ("http://bob:hunter2@mlflow:5000", "http://bob:***@mlflow:5000"),
        ("https://bob:hunter2@mlflow.example/api", "https://bob:***@mlflow.example/api"),
        # Unencoded @ and / in a password: masked whole, as the database driver would read it.
        ("postgresql://alice:p@ss@db/optuna", "postgresql://alice:***@db/optuna"),
        ("postgresql://alice:pa/ss@db/optuna", "postgresql://alice:***@db/optuna"),
        (
            "postgresql://alice@db/optuna?sslmode=require&password=hunter2",
            "postgresql://alice@db/optuna?sslmode=require&password=***",
        ),
        ("postgresql://db/optuna?sslpassword=hunter2", "postgresql://db/optuna?sslpassword=***"),
        # Malformed (one slash): still no password shown.
        ("postgresql:/alice:hunter2@db/optuna", "postgresql:***@db/optuna"),
    ],
)
def test_mask_url_hides_the_password_and_keeps_the_rest(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///sweeps.db",
        "sqlite:////tmp/odd:name@x.db",
        "postgresql://alice@db:5432/optuna",
        "postgresql+psycopg://db/optuna?sslmode=require",
        "http://127.0.0.1:5000",
        "https://mlflow.example:5000/path@v2",
        "db.example:5432",
        "alice@db.example",
    ],
)
def test_mask_url_leaves_urls_without_password_unchanged(url: str) -> None:
    assert mask_url(url) == url


def test_mask_text_masks_urls_anywhere_in_a_line() -> None:
    line = "cannot reach 'postgresql://alice:hunter2@db/optuna' nor http://bob:pw@mlflow:5000/x"
    assert mask_text(line) == (
        "cannot reach 'postgresql://alice:***@db/optuna' nor http://bob:***@mlflow:5000/x"
    )


def test_mask_text_masks_a_known_password_outside_its_url() -> None:
    url = "postgresql://alice:s3cr%40t@db/optuna"
    text = "login with s3cr@t failed (sent s3cr%40t)"
    assert mask_text(text, [url]) == "login with *** failed (sent ***)"


def test_mask_text_masks_whole_tokens_only() -> None:
    url = "postgresql://postgres:postgres@localhost/optuna"
    masked = mask_text(f"storage {url}: password postgres refused", [url])
    assert masked == "storage postgresql://***:***@localhost/optuna: password *** refused"


def test_mask_text_masks_bare_secrets_and_conninfo_passwords() -> None:
    assert mask_text("token abc123 expired", ["abc123"]) == "token *** expired"
    assert mask_text("host=db password=hunter2 user=x") == "host=db password=*** user=x"


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    factory = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("sweeper.test_secrets")
    logger.addHandler(handler)
    logger.propagate = False
    yield stream
    logger.removeHandler(handler)
    logging.setLogRecordFactory(factory)


def test_mask_logging_masks_messages_arguments_and_tracebacks(captured_log: io.StringIO) -> None:
    url = "postgresql://alice:hunter2@db/optuna"
    mask_logging([url])
    logger = logging.getLogger("sweeper.test_secrets")
    logger.warning("connecting to %s", url)
    try:
        raise ConnectionError("password hunter2 rejected")
    except ConnectionError:
        logger.exception("storage failed")
    output = captured_log.getvalue()
    assert "hunter2" not in output
    assert "connecting to postgresql://alice:***@db/optuna" in output
    assert "ConnectionError: password *** rejected" in output
