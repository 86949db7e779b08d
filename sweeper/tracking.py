"""Every MLflow call sweeper makes lives here.

One Optuna study <-> one MLflow experiment of the same name <-> one parent run; each trial is a
nested child run `trial-<number>`. The parent's id is kept in the study's user attributes so all
workers, on any machine, nest under the same parent.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Sweeps often run on offline clusters, where MLflow's usage telemetry is wasted work and
# noise; it stays off unless the user asks for it (MLFLOW_DISABLE_TELEMETRY=false).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow prints "View run ... at <tracking URI>" to stdout, password included for http URIs.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

if TYPE_CHECKING:
    import optuna

PARENT_ATTR = "mlflow_parent_run_id"
RUN_ATTR = "mlflow_run_id"
STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
_MAX_TAG = 5000  # MLflow caps tag values; failure reasons can be long tracebacks


class Tracker:
    """MLflow bookkeeping for one study, as seen from one worker process."""

    def __init__(self, tracking_uri: str, study_name: str) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.tracking_uri = tracking_uri
        self.study_name = study_name
        self.experiment_id = self._experiment()

    def _experiment(self) -> str:
        found = self.client.get_experiment_by_name(self.study_name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            return found.experiment_id
        try:
            return self.client.create_experiment(self.study_name)
        except Exception:  # another worker created it between our look and our create
            found = self.client.get_experiment_by_name(self.study_name)
            if found is None:
                raise
            return found.experiment_id

    def parent_run(
        self, study: optuna.Study, tags: Mapping[str, str], params: Mapping[str, Any]
    ) -> str:
        """The study's parent run id, created (with `params`) once for all workers and resumes."""
        known = study.user_attrs.get(PARENT_ATTR)
        if known:
            return str(known)
        run = self.client.create_run(
            self.experiment_id,
            run_name=self.study_name,
            tags={**tags, "sweeper.role": "parent", "sweeper.study": self.study_name},
        )
        # Workers racing at start may each create a parent: all adopt the oldest, the rest go.
        parents = self.client.search_runs(
            [self.experiment_id],
            filter_string="tags.`sweeper.role` = 'parent'",
            order_by=["attributes.start_time ASC", "attributes.run_id ASC"],
        )
        chosen = parents[0].info.run_id
        if chosen != run.info.run_id:
            self.client.delete_run(run.info.run_id)
        else:
            self.log_params(chosen, params)
        study.set_user_attr(PARENT_ATTR, chosen)
        return chosen

    def reopen(self, run_id: str) -> None:
        self.client.update_run(run_id, status="RUNNING")

    def start_trial(
        self,
        parent_id: str,
        trial_number: int,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
    ) -> str:
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"trial-{trial_number}",
            tags={
                **tags,
                "mlflow.parentRunId": parent_id,
                "sweeper.study": self.study_name,
                "sweeper.trial": str(trial_number),
                "sweeper.state": "RUNNING",
            },
        )
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        batch = [Param(k, _param_value(v)) for k, v in sorted(params.items())]
        for start in range(0, len(batch), 100):  # MLflow's per-request param limit
            self.client.log_batch(run_id, params=batch[start : start + 100])

    def log_epoch(self, run_id: str, epoch: int, metrics: Mapping[str, float]) -> None:
        now = _now_ms()
        self.client.log_batch(
            run_id, metrics=[Metric(k, float(v), now, epoch) for k, v in metrics.items()]
        )

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        now = _now_ms()
        self.client.log_batch(
            run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()]
        )

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, _tag_value(v)) for k, v in tags.items()])

    def log_files(
        self, run_id: str, files: Mapping[str, bytes], artifact_path: str | None = None
    ) -> None:
        """Write small in-memory files and log them as artifacts."""
        with tempfile.TemporaryDirectory(prefix="sweeper-artifacts-") as tmp:
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(data)
            self.client.log_artifacts(run_id, tmp, artifact_path)

    def log_dir(self, run_id: str, directory: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(directory), artifact_path)

    def finish(self, run_id: str, state: str, reason: str | None = None) -> None:
        """Close a run: COMPLETE -> FINISHED, PRUNED -> KILLED, FAIL -> FAILED (with reason)."""
        tags = {"sweeper.state": state}
        if reason:
            tags["sweeper.failure"] = reason
        self.set_tags(run_id, tags)
        self.client.set_terminated(run_id, status=STATUS[state])


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
    return tags


def config_json(config: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(config), indent=2, sort_keys=True).encode()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:6000]


def _tag_value(value: str) -> str:
    return value if len(value) <= _MAX_TAG else value[: _MAX_TAG - 3] + "..."


def _now_ms() -> int:
    return int(time.time() * 1000)
