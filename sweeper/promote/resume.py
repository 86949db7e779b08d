"""Where a promotion keeps what lets the same command continue after an interruption: a cache
directory keyed by everything that decides what it trains, with the epoch checkpoints and the
MLflow run id, and a lock so that two promotions of the same thing do not train it twice."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import sqlalchemy
from optuna.trial import FrozenTrial

from sweeper.atomic import write_atomically
from sweeper.promote.request import PromoteRequest
from sweeper.storage.sqlite import sqlite_path


@dataclass(frozen=True)
class ResumeState:
    """A promotion's checkpoints and MLflow run id, in one directory of the user cache."""

    directory: Path

    @classmethod
    def for_promotion(
        cls,
        request: PromoteRequest,
        fingerprint: str,
        candidates: list[FrozenTrial],
        epochs: int,
    ) -> ResumeState:
        key = {
            "storage": request.storage_url,
            "tracking": request.tracking_uri,
            "study": request.study_name,
            "trials": [t.number for t in candidates],
            "epochs": epochs,
            "patience": request.patience,
            "top_scale": request.top_scale,
            "seeds": request.seeds,
            "data": fingerprint,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        readable = re.sub(r"[^\w.-]", "_", request.study_name)[:40]
        return cls(cache_root() / f"{readable}-{digest}")

    @property
    def full_run(self) -> Path:
        return self.directory / "full"

    def recheck(self, trial: int, seed: int) -> Path:
        """A finished recheck's checkpoint holds all its epochs: resumed, it trains none."""
        return self.directory / f"recheck-{trial}-seed-{seed}"

    @property
    def _run_file(self) -> Path:
        return self.directory / "run.json"

    def run_id(self) -> str | None:
        try:
            return str(json.loads(self._run_file.read_text())["run_id"])
        except (OSError, ValueError, KeyError):
            return None

    def remember(self, run_id: str) -> None:
        write_atomically(self._run_file, json.dumps({"run_id": run_id}).encode())

    def forget_full_run(self) -> None:
        shutil.rmtree(self.full_run, ignore_errors=True)

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def cache_root() -> Path:
    return Path(platformdirs.user_cache_dir("sweeper")) / "promote"


def lock_file(kind: str, store: str, name: str) -> Path:
    """The file locking `kind` (a promotion, a crowning) of `name` in `store` on this machine:
    one file per store, however its path is spelt."""
    key = json.dumps([kind, same_store(store), name])
    return cache_root() / "locks" / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"


def same_store(url: str) -> str:
    """`url`, with a SQLite file's path made absolute."""
    try:
        database = sqlite_path(url)
    except sqlalchemy.exc.ArgumentError:
        return url
    return url if database is None else f"sqlite:///{database.resolve()}"
