"""The end of a promotion in MLflow: the model logged and registered, the champion alias moved
when the new version wins, and the outcome logged on the promote run."""

from __future__ import annotations

from typing import Any

from optuna.trial import FrozenTrial

from sweeper.data.corpus import Corpus
from sweeper.promote.request import PromoteRequest, Recheck, recheck_csv
from sweeper.promote.resume import lock_file, same_store
from sweeper.promote.servable import example_features
from sweeper.storage.rdb import storage_lock
from sweeper.study.record import (
    RUN_ATTR,
)
from sweeper.tracking.context import config_json
from sweeper.tracking.registry import VAL_ACC_TAG, Champion, ModelRegistry, crown_if_better
from sweeper.tracking.tracker import Tracker
from sweeper.training.loop import TrainResult


def register(
    registry: ModelRegistry,
    run_id: str,
    program: Any,
    request: PromoteRequest,
    trial: FrozenTrial,
    result: TrainResult,
    test_acc: float | None,
    corpus: Corpus,
) -> Champion:
    name = request.register_as or request.study_name
    source_run = trial.user_attrs.get(RUN_ATTR, "")
    version_tags = {
        VAL_ACC_TAG: repr(result.best_val_acc),
        "sweeper.study": request.study_name,
        "sweeper.trial": str(trial.number),
        "sweeper.source_run_id": source_run,
        "sweeper.dataset_fingerprint": corpus.fingerprint,
    }
    if test_acc is not None:
        version_tags["test_acc"] = repr(test_acc)
    # a resumed promotion may have registered its model before it was stopped
    version = registry.version_of_run(name, run_id, version_tags)
    if version is None:
        # the model's page says where the version came from, with no need to read its tags
        description = (
            f"Trial {trial.number} of study {request.study_name!r} (its sweep run {source_run}), "
            f"retrained on the full data in run {run_id}: val_acc {result.best_val_acc:.4f}."
        )
        version = registry.log_model(
            run_id, program, example_features(), name, version_tags, description
        )
    # read, compare, set: two promotions crowning at once must not both win
    with storage_lock(
        request.storage_url,
        f"sweeper champion of {name} at {same_store(request.tracking_uri)}",
        lock_file=lock_file("champion", request.tracking_uri, name),
    ):
        champion = crown_if_better(registry, name, version, result.best_val_acc)
    registry.tracker.set_tags(
        run_id,
        {"sweeper.model_version": f"{name}/{version}", "sweeper.champion": str(champion.crowned)},
    )
    return champion


def log_outcome(
    tracker: Tracker,
    run_id: str,
    request: PromoteRequest,
    config: dict[str, Any],
    result: TrainResult,
    test_acc: float | None,
    rechecks: list[Recheck],
) -> None:
    metrics = {"best_val_acc": result.best_val_acc, "best_epoch": result.best_epoch}
    if test_acc is not None:
        metrics["test_acc"] = test_acc
    tracker.log_metrics(run_id, metrics)
    files = {"predictions.csv": request.out.read_bytes(), "config.json": config_json(config)}
    if rechecks:
        files["top_k.csv"] = recheck_csv(rechecks)
    tracker.log_files(run_id, files)
