"""What a study records of its trials, and how it is read back: the one place that names it.

The objective writes these attributes, the sweep layer reads them to count, requeue and tidy,
and the read-only commands (report, compare, studies, promote) read them back. Light to import:
Optuna and SQLAlchemy, no torch and no sweep layer, so `sweeper report` starts quickly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    pass

# A trial's user attributes.
RUN_ATTR = "mlflow_run_id"  # the trial's MLflow run
VERSION_ATTR = "settings_version"  # the version of the study's settings it ran under
N_PARAMS = "n_params"
CONFIG = "config"  # the exact config it trained: what `promote` retrains
VAL_ACC_SE = "val_acc_se"  # the standard error of the trial's value, over val utterances
BEST_EPOCH = "best_epoch"  # the epoch of its best val_acc, counting epochs a resume replayed
EPOCHS_RUN = "epochs_run"  # including the epochs of its lineage's checkpoint
EPOCHS_TRAINED = "epochs_trained"  # by this trial itself; a resumed trial's others ran before
RESUMED_AT = "resumed_at_epoch"  # the epochs a re-run found done in its lineage's checkpoint
RESUMED_AT_BATCH = "resumed_at_batch"  # and the batches of the next epoch (0: it began afresh)
SECONDS = "seconds"  # wall-clock time of the trial
FAIL_REASON = "fail_reason"  # why a trial failed
PRUNE_REASON = "prune_reason"  # why a trial was pruned (the pruner's epoch, or max_params)
BASELINE = "baseline"  # a baseline config of the study file: its index in `baselines`
# A trial copied from, or queued with the parameters of, another study's trial (`study:number`).
WARM_START_FROM = "warm_start_from"
# A trial that the study file's limit on one trial ended before its last epoch: that limit's
# name (the trial is worth its best epoch). The sweep's time budget stops a trial to resume it.
STOPPED_EARLY = "stopped_early"
TRIAL_LIMIT = "max_trial_seconds"
# A re-run of an interrupted trial names the lineage it continues (Optuna's own retry of a dead
# worker's trial copies user attributes, so it carries this on, and records RETRY_OF).
RESUMES = "resumes"
REQUEUED_FROM = "requeued_from"  # on the re-run of an interrupted trial: that trial's number
# How far a running trial is inside its epoch, for the live board (sweeper.sweep.trial_progress)
PROGRESS = "progress"

# How a FAIL_REASON starts: the trial stood down because the target was already filled, the
# user stopped it (Ctrl-C, a stop signal), or the sweep's time budget did (`sweeper run
# --time-budget`: it stops a trial at its next batch).
SURPLUS = "surplus"
INTERRUPTED = "interrupted"
BUDGET_SPENT = "time budget"

# Optuna's own system attributes of a trial it retried after its worker died.
RETRY_OF = "failed_trial"  # on the retry: the failed trial's number
RETRY_HISTORY = "retry_history"  # on the retry: every trial number of its lineage

# The study's user attributes.
PARENT_ATTR = "mlflow_parent_run_id"  # the study's MLflow parent run, shared by every worker
SPEC_ATTR = "sweeper"  # the current settings
VERSIONS_ATTR = "sweeper_settings"  # {version: settings} of every settings the study ran with
BASELINES_ATTR = "baselines_queued"  # the baselines' params queued so far, never queued twice
# {other study: the numbers of its trials copied and queued}: each warm start happens once
WARM_STARTS_ATTR = "warm_started_from"

# States, each set with one meaning.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)  # what counts towards --trials
ENDED = (*FINISHED, TrialState.FAIL)  # will not change any more
UNDER_WAY = (TrialState.RUNNING, TrialState.WAITING)  # holds a slot of the budget


def is_surplus(trial: FrozenTrial) -> bool:
    """Whether a FAIL trial only stood down because the target was filled: no work, no fault."""
    return str(trial.user_attrs.get(FAIL_REASON, "")).startswith(SURPLUS)


def was_stopped(trial: FrozenTrial) -> bool:
    """Whether a trial failed because it was stopped before its end, by the user or by the
    sweep's time budget: it keeps its checkpoint, and the next run of the study resumes it."""
    reason = str(trial.user_attrs.get(FAIL_REASON, ""))
    return trial.state == TrialState.FAIL and reason.startswith((INTERRUPTED, BUDGET_SPENT))


def baseline_of(trial: FrozenTrial) -> int | None:
    """The index of the study file's baseline that `trial` runs, or None for a sampled one."""
    index = trial.user_attrs.get(BASELINE)
    return None if index is None else int(index)


def ranked(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """The COMPLETE trials, best val_acc first."""
    complete = (t for t in trials if t.state == TrialState.COMPLETE and t.value is not None)
    return sorted(complete, key=lambda t: t.value or 0.0, reverse=True)
