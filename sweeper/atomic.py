"""Files written whole or not at all: a reader never sees half a file, a crash keeps the old one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomically(path: Path, content: bytes | Callable[[IO[bytes]], object]) -> Path:
    """Write `content` (bytes, or a function writing to a binary stream) to a temporary file
    beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name, so concurrent writers of one path never share a temporary file; not mkstemp,
    # whose files are private (0600) while these (CSVs, reports, caches) are meant to be shared.
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("xb") as stream:
            if isinstance(content, bytes):
                stream.write(content)
            else:
                content(stream)
        os.replace(temporary, path)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        failed_write = _os_error_behind(exc)
        if failed_write is not None:
            raise failed_write from exc
        raise
    return path


def _os_error_behind(exc: BaseException) -> OSError | None:
    """The OSError (a full disk, say) behind an error of a writer that reports it as its own:
    torch.save raises RuntimeError('... unexpected pos ...') when the stream's write fails."""
    if isinstance(exc, OSError) or not isinstance(exc, Exception):
        return None
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
