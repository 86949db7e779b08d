"""Where a trial's per-epoch checkpoint lives, so a retried trial resumes on any worker.

A trial and every re-run of its parameters (a retry after its worker died, a resume after an
interruption) form one lineage, named by its first trial's number; the lineage has one
checkpoint, replaced every epoch. Two places hold them:

- a SQLite study: a directory beside the database file (`sweeps.db` -> `sweeps.checkpoints/`),
  which every local worker reads;
- any other study (PostgreSQL, workers on several machines): artifacts of the study's MLflow
  parent run, under `checkpoints/trial-<lineage>/`. The tracking server is the one store every
  worker already reaches and writes files to (`mlflow server --serve-artifacts`); Optuna's
  artifact stores would need a shared file system or an object store besides.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sweeper.storage.sqlite import sqlite_path
from sweeper.study.record import RESUMES, RETRY_OF

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from sweeper.tracking.tracker import Tracker


def lineage(trial: FrozenTrial) -> int:
    """The number of the first trial of the lineage `trial` belongs to."""
    resumes = trial.user_attrs.get(RESUMES)
    if resumes is None:
        resumes = trial.system_attrs.get(RETRY_OF, trial.number)
    return int(resumes)


class CheckpointStore(Protocol):
    def local(self, lineage: int) -> Path:
        """The directory the trainer reads and writes a lineage's checkpoint in."""
        ...

    def fetch(self, lineage: int) -> None:
        """Bring the lineage's latest checkpoint into `local(lineage)`, if there is one."""
        ...

    def publish(self, lineage: int) -> None:
        """Make the checkpoint just written in `local(lineage)` visible to every worker."""
        ...

    def remove(self, lineage: int) -> None: ...


class DirectoryCheckpoints:
    """Checkpoints in one directory all workers of the study see."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local(self, lineage: int) -> Path:
        return self.root / f"trial-{lineage}"

    def fetch(self, lineage: int) -> None:
        pass  # written where it is read

    def publish(self, lineage: int) -> None:
        pass

    def remove(self, lineage: int) -> None:
        shutil.rmtree(self.local(lineage), ignore_errors=True)


class TrackedCheckpoints:
    """Checkpoints kept as artifacts of the study's MLflow parent run, staged in a local scratch
    directory of this worker."""

    def __init__(self, tracker: Tracker, parent_run_id: str) -> None:
        self.tracker = tracker
        self.parent_run_id = parent_run_id
        self.scratch = Path(tempfile.mkdtemp(prefix="sweeper-checkpoints-"))
        weakref.finalize(self, shutil.rmtree, self.scratch, True)

    def _artifact_path(self, lineage: int) -> str:
        return f"checkpoints/trial-{lineage}"

    def local(self, lineage: int) -> Path:
        return self.scratch / f"trial-{lineage}"

    def fetch(self, lineage: int) -> None:
        shutil.rmtree(self.local(lineage), ignore_errors=True)
        self.tracker.download_dir(
            self.parent_run_id, self._artifact_path(lineage), self.local(lineage)
        )

    def publish(self, lineage: int) -> None:
        self.tracker.log_dir(self.parent_run_id, self.local(lineage), self._artifact_path(lineage))

    def remove(self, lineage: int) -> None:
        shutil.rmtree(self.local(lineage), ignore_errors=True)
        self.tracker.delete_artifacts(self.parent_run_id, self._artifact_path(lineage))


def checkpoint_store(
    storage_url: str, study_name: str, tracker: Tracker, parent_run_id: str
) -> CheckpointStore:
    database = sqlite_path(storage_url)
    if database is not None:
        return DirectoryCheckpoints(database.with_suffix(".checkpoints") / study_name)
    return TrackedCheckpoints(tracker, parent_run_id)
