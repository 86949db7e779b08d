"""Masking of passwords in URLs, printed text and log records.

Storage and tracking URLs may carry passwords (`postgresql://user:PASSWORD@host/db`,
`http://user:PASSWORD@host:5000`, `...?password=PASSWORD`). Whatever sweeper prints, logs or
records in MLflow goes through `mask_url` / `mask_text`; `mask_logging` covers other libraries'
log records.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

MASK = "***"

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")
# `password=`, `sslpassword=`, `access_token=`, ... in a query string or a libpq-style conninfo.
_SECRET_PARAM = re.compile(r"(?i)\b([\w.\-]*?(?:password|passwd|pwd|secret|token)=)([^&#\s'\"]+)")


def _password_span(url: str) -> tuple[int, int] | None:
    """Where the userinfo password of `url` lies, as its consumers would read it, or None."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        # Not a URL (a typo such as "postgresql:/user:pw@host"): whatever lies between the
        # first colon and the last @ may be a password.
        colon, at = url.find(":"), url.rfind("@")
        return (colon + 1, at) if -1 < colon < at - 1 else None
    start = scheme.end()
    # requests and urllib: the authority ends at the first / ? or #; the password runs to its
    # last @ (so a password may contain an unencoded @).
    authority_end = min(
        (i for i in (url.find(c, start) for c in "/?#") if i != -1), default=len(url)
    )
    ends = [url.rfind("@", start, authority_end)]
    if not scheme.group().lower().startswith(("http://", "https://")):
        # SQLAlchemy's own parser lets the password contain / ? and # (it runs to the first @),
        # so a database URL is masked as SQLAlchemy would read it as well.
        ends.append(url.find("@", start))
    end = max(ends)
    colon = url.find(":", start, end) if end != -1 else -1
    if colon == -1 or "/" in url[start:colon] or colon + 1 == end:
        return None
    return colon + 1, end


def mask_url(url: str) -> str:
    """`url` with its password (userinfo and `password=`-like query values) replaced by ***.

    Everything else is left byte for byte; a URL without a password comes back unchanged.
    """
    span = _password_span(url)
    if span is not None:
        url = url[: span[0]] + MASK + url[span[1] :]
    return _SECRET_PARAM.sub(rf"\1{MASK}", url)


def _passwords(url: str) -> set[str]:
    span = _password_span(url)
    found = {url[span[0] : span[1]]} if span else set()
    found.update(match.group(2) for match in _SECRET_PARAM.finditer(url))
    return found | {unquote(password) for password in found}


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL's password masked, plus each of `secrets` wherever it occurs.

    A secret that is a URL (the storage URL, the tracking URI) contributes its passwords, so
    they are masked even where they appear outside a URL; any other secret is masked as is.
    """
    text = _SECRET_PARAM.sub(rf"\1{MASK}", _URL_IN_TEXT.sub(lambda m: mask_url(m.group()), text))
    literals: set[str] = set()
    for secret in secrets:
        literals |= _passwords(secret) if _SCHEME.match(secret) else {secret}
    for literal in sorted(filter(None, literals), key=len, reverse=True):
        # Whole tokens only: a password "postgres" must not turn "postgresql" into "***ql".
        text = re.sub(rf"(?<!\w){re.escape(literal)}(?!\w)", MASK, text)
    return text


def mask_logging(secrets: Iterable[str] = ()) -> None:
    """Mask passwords in every log record created from now on, by any logger of any library.

    Works at record creation (not in a handler), so loggers and handlers configured later,
    such as MLflow's and Optuna's own, are covered too. Tracebacks attached to records are
    masked as well.
    """
    known = tuple(secrets)
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed logging call: keep its parts, masked
            message = f"{record.msg} {record.args}"
        record.msg = mask_text(message, known)
        record.args = None
        if record.exc_info:
            record.exc_text = mask_text(formatter.formatException(record.exc_info), known)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info, known)
        return record

    logging.setLogRecordFactory(masking_factory)
