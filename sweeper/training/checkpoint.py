"""Atomic training checkpoints: a dict of tensors and plain values, written with torch.save.

A checkpoint is written to a temporary file beside its target and renamed over it, so a run
killed mid-write leaves the previous checkpoint intact. Loading uses `weights_only=True`: a
checkpoint directory may be shared, and a pickle could run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sweeper.atomic import write_atomically
from sweeper.errors import SweeperError

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(SweeperError):
    """A checkpoint cannot be read, or belongs to a different run config."""


def save_checkpoint(directory: Path, state: dict[str, Any]) -> Path:
    """Write `state` to `directory`/checkpoint.pt, replacing any older checkpoint atomically."""
    path = directory / CHECKPOINT_NAME
    try:
        return write_atomically(path, lambda stream: torch.save(state, stream))
    except OSError as exc:  # the previous checkpoint, if any, is intact
        raise CheckpointError(
            f"{path}: cannot write the checkpoint: {exc.strerror or exc}"
        ) from None


def remove_checkpoint(directory: Path) -> None:
    (directory / CHECKPOINT_NAME).unlink(missing_ok=True)


def load_checkpoint(directory: Path) -> dict[str, Any] | None:
    """The state in `directory`/checkpoint.pt, or None when there is no checkpoint yet."""
    path = directory / CHECKPOINT_NAME
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a damaged file
        reason = type(exc).__name__
        raise CheckpointError(f"{path}: unreadable checkpoint ({reason}); delete it") from None
