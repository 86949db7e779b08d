"""The study's MLflow parent run: one for all its workers, on any machine, and all its resumes.
Its id sits in the study's user attrs, where every worker and `sweeper promote` find it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeper.errors import first_line
from sweeper.masking import mask_text
from sweeper.storage.rdb import storage_lock
from sweeper.study.record import PARENT_ATTR
from sweeper.sweep.plan import RunPlan
from sweeper.tracking.tracker import Tracker

# Settings a resume may change (paths, the target) are the parent's tags; the rest its params.
RESUMABLE = ("study_file", "data_dir", "target")

_logger = logging.getLogger(__name__)


def parent_run(
    study: optuna.Study, tracker: Tracker, tags: Mapping[str, str], params: Mapping[str, Any]
) -> str:
    """The study's parent run id, created (with `params`) once for all workers and resumes, and
    kept in the study for every worker to find."""
    known = study.user_attrs.get(PARENT_ATTR)
    if known:
        return str(known)
    chosen = tracker.create_parent(tags, params)
    study.set_user_attr(PARENT_ATTR, chosen)
    return chosen


def open_parent(
    study: optuna.Study,
    tracker: Tracker,
    plan: RunPlan,
    settings: Mapping[str, Any],
    tags: Mapping[str, str],
) -> str:
    """The study's parent run, found or created, and RUNNING again; worker 0 tags it with this
    run's settings and logs the study file on it."""
    # Locked: workers starting together on several machines must create one parent.
    with storage_lock(plan.storage_url, f"sweeper parent run of {plan.name}"):
        params = {k: v for k, v in settings.items() if k not in RESUMABLE}
        parent = parent_run(study, tracker, tags, params)
    tracker.reopen(parent)
    if plan.worker_index == 0:
        resumable = {f"sweeper.{k}": str(settings[k]) for k in RESUMABLE}
        tracker.set_tags(parent, {**tags, **resumable})
        digest = settings["study_file_sha256"]
        tracker.log_study_file(parent, plan.study_file.path, digest)
    return parent


def close_parent(study: optuna.Study, tracker: Tracker, outcome: str) -> None:
    """The last worker out closes the parent run; an interrupted one marks it KILLED."""
    parent = study.user_attrs.get(PARENT_ATTR)
    if not parent:
        return
    try:
        if outcome == "interrupted":
            tracker.end(parent, "KILLED")
        elif not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            tracker.end(parent, "FINISHED")
    except Exception as exc:  # a tracking outage: the trials are in the study all the same
        _logger.warning(
            "the MLflow parent run %s stays RUNNING: %s",
            parent,
            mask_text(first_line(exc), [tracker.tracking_uri]),
        )
