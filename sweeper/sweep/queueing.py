"""What a study runs before its sampler's next suggestion: the stopped trials again, then the
study file's baselines. Called under the trial-slot lock (sweeper.sweep.slots) before each
trial a worker starts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeper.study.record import (
    BASELINE,
    BASELINES_ATTR,
    REQUEUED_FROM,
    RESUMES,
    WARM_START_FROM,
    was_stopped,
)
from sweeper.sweep.checkpoints import lineage


def requeue_stopped(study: optuna.Study) -> list[int]:
    """Queue once more, with the same parameters, every trial stopped before its end (Ctrl-C,
    a stop signal, the time budget) that no trial re-runs yet; the re-run resumes from its
    checkpoint, at its batch. A FAIL trial never counts towards the target, so the parameters
    count once, when they finish."""
    trials = study.get_trials(deepcopy=False)
    requeued = {t.user_attrs.get(REQUEUED_FROM) for t in trials}
    numbers = []
    for trial in trials:
        if not was_stopped(trial) or trial.number in requeued:
            continue
        # a re-run of a baseline, or of another study's trial, is still marked as one
        attrs = trial.user_attrs
        marks = {k: attrs[k] for k in (BASELINE, WARM_START_FROM) if k in attrs}
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs={RESUMES: lineage(trial), REQUEUED_FROM: trial.number, **marks},
            )
        )
        numbers.append(trial.number)
    return numbers


def queue_next(study: optuna.Study, baselines: Sequence[Mapping[str, Any]]) -> None:
    """Before each trial a worker starts: the stopped trials' re-runs first, so that a trial the
    time budget or a signal stopped goes on before anything new starts; then, when nothing else
    waits to run, the next baseline."""
    requeue_stopped(study)
    queue_next_baseline(study, baselines)


def queue_next_baseline(study: optuna.Study, baselines: Sequence[Mapping[str, Any]]) -> int | None:
    """Queue the first baseline of the study file this study has never queued (a resume, or
    another worker, may have), when no trial waits to run; returns its index. One at a time, so
    that a re-run queued later still runs before the baselines not started yet, and each
    baseline still runs ahead of any sampled trial.

    Called under the trial-slot lock: the record and the queue must change together. The
    record is written first: a crash in between loses a baseline rather than running it twice.
    """
    if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        return None
    queued = list(study.user_attrs.get(BASELINES_ATTR, []))
    index = next((i for i, params in enumerate(baselines) if dict(params) not in queued), None)
    if index is None:
        return None
    study.set_user_attr(BASELINES_ATTR, [*queued, dict(baselines[index])])
    study.enqueue_trial(dict(baselines[index]), user_attrs={BASELINE: index})
    return index
