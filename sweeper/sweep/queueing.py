"""What a study runs before its sampler's next suggestion: the stopped trials again, and the
study file's baselines. Both are called under the trial-slot lock (sweeper.sweep.slots)."""

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


def queue_baselines(study: optuna.Study, baselines: Sequence[Mapping[str, Any]]) -> list[int]:
    """Queue, ahead of any sampled trial, each baseline of the study file that this study has
    never queued (a resume, or another worker, may have); returns their indices.

    Called under the trial-slot lock: the record and the queue must change together. The
    record is written first: a crash in between loses a baseline rather than running it twice.
    """
    queued = list(study.user_attrs.get(BASELINES_ATTR, []))
    new = [i for i, params in enumerate(baselines) if dict(params) not in queued]
    if not new:
        return []
    study.set_user_attr(BASELINES_ATTR, [*queued, *(dict(baselines[i]) for i in new)])
    for index in new:
        study.enqueue_trial(dict(baselines[index]), user_attrs={BASELINE: index})
    return new
