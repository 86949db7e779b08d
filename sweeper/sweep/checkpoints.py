"""Where a trial's per-epoch checkpoint lives, so a retried trial resumes on any worker.

A trial and every re-run of its parameters (a retry after its worker died, a resume after an
interruption or the time budget) form one lineage, named by its first trial's number; the
lineage has one checkpoint, replaced after every epoch, every few minutes inside a long one
and where a stop left it inside one (sweeper.training.state), each published to every worker
alike. Two places hold them:

- a SQLite study: a directory beside the database file (`sweeps.db` -> `sweeps.checkpoints/`),
  which every local worker reads;
- any other study (PostgreSQL, workers on several machines): artifacts of the study's MLflow
  parent run, under `checkpoints/trial-<lineage>/`. The tracking server is the one store every
  worker already reaches and writes files to (`mlflow server --serve-artifacts`); Optuna's
  artifact stores would need a shared file system or an object store besides.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from optuna.trial import TrialState

from sweeper.masking import mask_text
from sweeper.storage.sqlite import sqlite_path
from sweeper.study.record import RESUMES, RETRY_OF, ranked, was_stopped

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from sweeper.tracking.artifacts import RunArtifacts

_logger = logging.getLogger(__name__)


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

    def __init__(self, artifacts: RunArtifacts, parent_run_id: str) -> None:
        self.artifacts = artifacts
        self.parent_run_id = parent_run_id
        self.scratch = Path(tempfile.mkdtemp(prefix="sweeper-checkpoints-"))
        weakref.finalize(self, shutil.rmtree, self.scratch, True)

    def _artifact_path(self, lineage: int) -> str:
        return f"checkpoints/trial-{lineage}"

    def local(self, lineage: int) -> Path:
        return self.scratch / f"trial-{lineage}"

    def fetch(self, lineage: int) -> None:
        shutil.rmtree(self.local(lineage), ignore_errors=True)
        self.artifacts.download_dir(
            self.parent_run_id, self._artifact_path(lineage), self.local(lineage)
        )

    def publish(self, lineage: int) -> None:
        self.artifacts.log_dir(
            self.parent_run_id, self.local(lineage), self._artifact_path(lineage)
        )

    def remove(self, lineage: int) -> None:
        shutil.rmtree(self.local(lineage), ignore_errors=True)
        self.artifacts.delete_artifacts(self.parent_run_id, self._artifact_path(lineage))


def checkpoint_store(
    storage_url: str, study_name: str, artifacts: RunArtifacts, parent_run_id: str
) -> CheckpointStore:
    database = sqlite_path(storage_url)
    if database is not None:
        return DirectoryCheckpoints(database.with_suffix(".checkpoints") / study_name)
    return TrackedCheckpoints(artifacts, parent_run_id)


def tidy_checkpoints(
    store: CheckpointStore, study: optuna.Study, trial: FrozenTrial, keep: int
) -> None:
    """Once `trial` has ended, its checkpoint is needed only to resume it after a stop (the
    user's, or the time budget's), or as one of the best `keep` COMPLETE trials; a checkpoint
    left over (the store refused) costs disk, not results, so it is a warning."""
    try:
        _tidy(store, study, trial, keep)
    except Exception as exc:
        _logger.warning(
            "could not remove the checkpoint of trial %s: %s",
            trial.number,
            mask_text(f"{type(exc).__name__}: {exc}"),
        )


def _tidy(store: CheckpointStore, study: optuna.Study, trial: FrozenTrial, keep: int) -> None:
    root = lineage(trial)
    if was_stopped(trial):
        return
    if trial.state != TrialState.COMPLETE:
        store.remove(root)
        return
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = [lineage(t) for t in ranked(complete)]
    if root not in best[:keep]:
        store.remove(root)
    elif len(best) > keep:
        store.remove(best[keep])  # the one this trial pushed out of the best
