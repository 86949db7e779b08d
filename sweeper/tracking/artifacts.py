"""A run's artifact directories, as a file store: written, read back, deleted.

A study shared by workers on several machines keeps its trial checkpoints so, as artifacts of
its parent run (sweeper.sweep.checkpoints); the report is logged so on the parent run too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


class RunArtifacts:
    """Directories under the runs of one tracking store, through the tracker's client."""

    def __init__(self, client: MlflowClient, tracking_uri: str) -> None:
        self.client = client
        self.tracking_uri = tracking_uri

    def log_dir(self, run_id: str, directory: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(directory), artifact_path)

    def download_dir(self, run_id: str, artifact_path: str, destination: Path) -> bool:
        """Copy a run's artifact directory to `destination`; False when it has none there."""
        if not self.client.list_artifacts(run_id, artifact_path):
            return False
        destination.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="sweeper-download-") as tmp:
            fetched = Path(self.client.download_artifacts(run_id, artifact_path, tmp))
            for item in fetched.iterdir():
                os.replace(item, destination / item.name)
        return True

    def delete_artifacts(self, run_id: str, artifact_path: str) -> None:
        """Remove a run's artifacts under `artifact_path`, if it has any."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        if self.client.list_artifacts(run_id, artifact_path):
            uri = self.client.get_run(run_id).info.artifact_uri
            repository = get_artifact_repository(uri, tracking_uri=self.tracking_uri)
            repository.delete_artifacts(artifact_path)
