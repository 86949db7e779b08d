"""What a run records of where it ran: sweeper, torch and Python versions, the dataset's
fingerprint, the device, the host and the git commit; and a config as the JSON a run keeps."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Mapping
from typing import Any


def context_tags(fingerprint: str, subset_seed: int, device: str) -> dict[str, str]:
    """What every run records so it can be reproduced: code, data, versions, device."""
    import torch

    from sweeper import __version__

    tags = {
        "sweeper.version": __version__,
        "sweeper.torch_version": torch.__version__,
        "sweeper.python_version": platform.python_version(),
        "sweeper.dataset_fingerprint": fingerprint,
        "sweeper.subset_seed": str(subset_seed),
        "sweeper.device": device,
        "sweeper.host": platform.node(),
    }
    commit = _git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
        tags["sweeper.git_dirty"] = str(_git_dirty()).lower()
    return tags


def config_json(config: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(config), indent=2, sort_keys=True).encode()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _git_commit() -> str | None:
    return _git("rev-parse", "HEAD") or None


def _git_dirty() -> bool:
    """Whether tracked files differ from the commit: the commit alone would not reproduce."""
    return bool(_git("status", "--porcelain", "--untracked-files=no"))
