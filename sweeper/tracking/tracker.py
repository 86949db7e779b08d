"""A study's runs in MLflow: the experiment, the parent run, the trials' runs and what they log.

One Optuna study <-> one MLflow experiment of the same name <-> one parent run; each trial is a
nested child run `trial-<number>`. The sweep layer keeps the parent's id in the study, so all
workers, on any machine, nest under the same parent. A run's artifact directories are
`RunArtifacts` (`Tracker.artifacts`); promotion runs and the model registry, `ModelRegistry`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sweeper.storage.sqlite import enable_wal, sqlite_path
from sweeper.tracking.artifacts import RunArtifacts

if TYPE_CHECKING:
    from sweeper.study.progress import StudyProgress

_logger = logging.getLogger(__name__)

STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
_MAX_TAG = 5000  # MLflow caps tag values; failure reasons can be long tracebacks
# MLflow 3's UI opens an experiment of no kind in its GenAI view; this kind opens model training.
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default
BEST_METRIC = "best_val_acc"  # on trial runs, and on the parent stepped by trial number
_MAX_METRICS = 1000  # MLflow's per-request metric limit


class Tracker:
    """MLflow bookkeeping for one study, as seen from one worker process."""

    def __init__(self, tracking_uri: str, study_name: str) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.tracking_uri = tracking_uri
        self.artifacts = RunArtifacts(self.client, tracking_uri)
        self.study_name = study_name
        self.experiment_id = self._experiment()
        database = sqlite_path(tracking_uri)
        if database is not None:
            # As for the sweep's storage: local workers write to one file, `mlflow ui` reads it.
            # Only an optimisation, so a file kept busy by another process keeps its mode.
            with suppress(sqlite3.Error):
                enable_wal(database, timeout=1)

    def _experiment(self) -> str:
        found = self.client.get_experiment_by_name(self.study_name)
        if found is None:
            try:
                return self.client.create_experiment(self.study_name, tags={KIND_TAG: KIND})
            except Exception:  # another worker created it between our look and our create
                found = self.client.get_experiment_by_name(self.study_name)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            self.client.restore_experiment(found.experiment_id)
        if found.tags.get(KIND_TAG) != KIND:  # made by an older sweeper, or by hand
            self.client.set_experiment_tag(found.experiment_id, KIND_TAG, KIND)
        return found.experiment_id

    def create_parent(self, tags: Mapping[str, str], params: Mapping[str, Any]) -> str:
        """A parent run for the study, with `params`; the one another worker made first when
        several race to create it."""
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
        return chosen

    def log_progress(self, parent_id: str, progress: StudyProgress) -> None:
        """The parent's best-so-far curve (the steps not logged yet) and trial counts.

        Every worker calls this as its trials end. A curve point depends only on finished
        trials, so workers racing with listings of different ages log the same values; the
        counts are stepped by the number of finished trials, so the latest is the newest.
        A summary, not a record: when MLflow refuses, the sweep goes on with a warning, and
        the next trial's end logs what is missing."""
        try:
            logged = self.client.get_metric_history(parent_id, BEST_METRIC)
            last = max((m.step for m in logged), default=-1)
            now = _now_ms()
            metrics = [
                Metric(BEST_METRIC, value, now, step)
                for step, value in progress.best_so_far.items()
                if step > last
            ]
            metrics += [Metric(k, v, now, progress.finished) for k, v in progress.counts.items()]
            for start in range(0, len(metrics), _MAX_METRICS):
                self.client.log_batch(parent_id, metrics=metrics[start : start + _MAX_METRICS])
        except MlflowException as exc:
            _logger.warning("the parent run's best_val_acc and counts wait: %s", exc.message)

    def reopen(self, run_id: str) -> None:
        self.client.update_run(run_id, status="RUNNING")

    def start_trial(
        self,
        parent_id: str,
        trial_number: int,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
    ) -> str:
        return self.start_child(
            parent_id, f"trial-{trial_number}", params, {**tags, "sweeper.trial": str(trial_number)}
        )

    def start_child(
        self, parent_id: str, name: str, params: Mapping[str, Any], tags: Mapping[str, str]
    ) -> str:
        """A RUNNING run nested under the study's parent run, with its params logged."""
        run = self.client.create_run(
            self.experiment_id,
            run_name=name,
            tags={
                **tags,
                "mlflow.parentRunId": parent_id,
                "sweeper.study": self.study_name,
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
        # Synchronous on purpose: MLflow's asynchronous logging batches on a timer, and waiting
        # for it when a trial ends cost about a second per trial (benchmarks/sweep.py).
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

    def log_study_file(self, run_id: str, path: Path, digest: str) -> None:
        """The study file's text, kept per version (`study/<digest>/<name>`): the search space
        that produced the study's runs, recoverable from MLflow alone."""
        self.client.log_artifact(run_id, str(path), f"study/{digest[:12]}")
        self.set_tags(run_id, {"sweeper.study_file_sha256": digest})

    def metric_history(self, run_id: str, key: str) -> dict[int, float]:
        """A run's values of metric `key` by step (the epoch, for per-epoch metrics)."""
        return {m.step: m.value for m in self.client.get_metric_history(run_id, key)}

    def finish(
        self,
        run_id: str,
        state: str,
        reason: str | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """Close a run: COMPLETE -> FINISHED, PRUNED -> KILLED, FAIL -> FAILED (with reason);
        final `metrics` go in the same request as the state tags."""
        tags = {"sweeper.state": state}
        if reason:
            tags["sweeper.failure"] = reason
        now = _now_ms()
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
            tags=[RunTag(k, _tag_value(v)) for k, v in tags.items()],
        )
        self.client.set_terminated(run_id, status=STATUS[state])

    def run_status(self, run_id: str) -> str | None:
        """RUNNING, FINISHED, KILLED, FAILED; None when the run was deleted or never existed."""
        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return None
        return None if run.info.lifecycle_stage == "deleted" else run.info.status

    def end(self, run_id: str, status: str) -> None:
        """Close a run that is not a trial's (the study's parent): FINISHED or KILLED."""
        self.client.set_terminated(run_id, status=status)

    def interrupt(self, run_id: str) -> None:
        """Close a run the user stopped; running the same command again reopens it."""
        self.set_tags(run_id, {"sweeper.state": "INTERRUPTED"})
        self.client.set_terminated(run_id, status="KILLED")


def where_to_look(tracking_uri: str, experiment_id: str) -> str:
    """How to open a study's runs in MLflow's model-training view: the page's URL, after the
    `mlflow ui` command that serves it for a database store (one line; passwords masked).

    Ranked by best_val_acc: sorted by anything but start time, the UI lists the trials
    themselves, not one collapsed parent run."""
    from urllib.parse import urlencode

    from sweeper.masking import mask_url
    from sweeper.process.executables import command

    query = urlencode(
        {
            "workflowType": "machine_learning",
            "orderByKey": f"metrics.`{BEST_METRIC}`",
            "orderByAsc": "false",
        }
    )
    page = f"#/experiments/{experiment_id}/runs?{query}"
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {mask_url(tracking_uri).rstrip('/')}/{page}"
    serve = f"{command('mlflow')} ui"
    if tracking_uri != "sqlite:///mlflow.db":  # what `mlflow ui` reads with no arguments
        serve += f" --backend-store-uri {mask_url(tracking_uri)}"
    return f"run `{serve}`, then open {LOCAL_UI}/{page}"


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:6000]


def _tag_value(value: str) -> str:
    return value if len(value) <= _MAX_TAG else value[: _MAX_TAG - 3] + "..."


def _now_ms() -> int:
    return int(time.time() * 1000)
