"""How to spell, in a printed hint, a command installed with sweeper (`mlflow`,
`optuna-dashboard`): a bare name fails in a shell whose PATH lacks the virtual environment."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path


def command(name: str) -> str:
    """The bare `name` where this process's PATH finds the very script installed beside the
    Python running sweeper (an activated virtual environment); else that script's path, relative
    to the current directory below it (`.venv/bin/mlflow`)."""
    beside = Path(sys.executable).parent / name  # not resolved: a venv's python is a link
    found = shutil.which(name)
    if not beside.is_file() or (found is not None and Path(found).samefile(beside)):
        return name
    try:
        shown = beside.relative_to(Path.cwd())
    except ValueError:
        shown = beside
    return shlex.quote(str(shown))
