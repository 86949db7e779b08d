"""Running a study: samplers and pruners, the trial budget, workers, interruption.

Coordination is Optuna's own: every worker (a process here, or on another machine) loads the
same study from the shared storage; heartbeats find trials whose worker died and re-queue them.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext, suppress
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.data import Split
from sweeper.errors import StudyError, StudyFileError, first_line
from sweeper.masking import mask_text, mask_url
from sweeper.process.signals import deferred
from sweeper.storage.rdb import storage_lock
from sweeper.study.progress import study_progress
from sweeper.study.record import (
    BASELINE,
    BASELINES_ATTR,
    FAIL_REASON,
    FINISHED,
    PARENT_ATTR,
    REQUEUED_FROM,
    RESUMES,
    RUN_ATTR,
    SPEC_ATTR,
    WARM_START_FROM,
    is_surplus,
    ranked,
    was_interrupted,
)
from sweeper.study.settings import record, refuse_drift
from sweeper.sweep.checkpoints import CheckpointStore, checkpoint_store, lineage
from sweeper.sweep.objective import Objective, TrialContext
from sweeper.sweep.plan import RunPlan
from sweeper.sweep.strategy import make_pruner, make_sampler
from sweeper.tracking.tracker import Tracker

MAX_FAILURES_IN_A_ROW = 5

_logger = logging.getLogger(__name__)


def open_study(
    plan: RunPlan, on_stale: Callable[[optuna.Study, FrozenTrial], None]
) -> optuna.Study:
    from sweeper.storage.rdb import open_storage

    storage = open_storage(
        plan.storage_url,
        heartbeat_interval=plan.options.heartbeat,
        grace_period=plan.options.grace,
        max_retry=plan.max_retry,
        on_stale=on_stale,
    )
    return optuna.create_study(
        storage=storage,
        study_name=plan.name,
        direction="maximize",
        sampler=make_sampler(plan.sampler, plan.spec, plan.seed),
        pruner=make_pruner(plan.pruner, plan.spec),
        load_if_exists=True,
    )


def count(study: optuna.Study, states: Sequence[TrialState]) -> int:
    return len(study.get_trials(deepcopy=False, states=tuple(states)))


class Worker:
    """One process's share of a sweep: it runs trials until the study holds `plan.trials`
    finished or the time budget is spent, and opens and closes the study's MLflow parent run."""

    def __init__(self, plan: RunPlan) -> None:
        self.plan = plan
        self.study = open_study(plan, self._on_stale)
        self.tracker = Tracker(plan.tracking_uri, plan.name)
        self._last: FrozenTrial | None = None
        # a trial's stop signals held from its MLflow run's end until Optuna records that end
        self._recording = ExitStack()
        self.parent = ""  # the study's parent run, known once `open` has run

    def open(
        self, settings: dict[str, Any], tags: Mapping[str, str], train: Split, val: Split
    ) -> TrialContext:
        """Record the study's settings (a change since its trials ran is refused unless the
        plan accepts it), open its parent run, and return what this worker's trials need."""
        plan = self.plan
        stored = self.study.user_attrs.get(SPEC_ATTR)
        if stored is not None and not plan.options.accept_changes:
            refuse_drift(plan.name, stored, settings)
        version = record(self.study, settings)
        tags = {**tags, "sweeper.storage": mask_url(plan.storage_url)}
        # Settings a resume may change (paths, the target) are tags; the rest are the parent's
        # params. Locked: workers starting together on several machines must create one parent.
        mutable = {"study_file", "data_dir", "target"}
        with storage_lock(plan.storage_url, f"sweeper parent run of {plan.name}"):
            params = {k: v for k, v in settings.items() if k not in mutable}
            self.parent = parent_run(self.study, self.tracker, tags, params)
        self.tracker.reopen(self.parent)
        if plan.worker_index == 0:
            resumable = {f"sweeper.{k}": str(settings[k]) for k in mutable}
            self.tracker.set_tags(self.parent, {**tags, **resumable})
            digest = settings["study_file_sha256"]
            self.tracker.log_study_file(self.parent, plan.study_file.path, digest)
        return TrialContext(
            study_file=plan.study_file,
            train=train,
            val=val,
            tracker=self.tracker,
            parent_run_id=self.parent,
            # the process, with sweeper.host, tells which machine's worker ran (or lost) a trial
            tags={
                **tags,
                "sweeper.worker": str(plan.worker_index),
                "sweeper.pid": str(os.getpid()),
            },
            trials=plan.trials,
            budget_ends=plan.budget_ends,
            device=plan.options.device,
            threads=plan.threads,
            settings_version=version,
            checkpoints=checkpoint_store(plan.storage_url, plan.name, self.tracker, self.parent),
        )

    def sweep(
        self, context: TrialContext, alongside: AbstractContextManager[object] | None = None
    ) -> str:
        """`run` within `alongside` (what else runs meanwhile), then close the parent run as
        the last worker out; returns the outcome."""
        outcome = "interrupted"
        try:
            with alongside or nullcontext():
                outcome = self.run(context)
        finally:
            self.close_parent(outcome)
        return outcome

    def _remember(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._last = trial
        # the parent run's best-so-far curve and counts, from every worker's trials
        self.tracker.log_progress(self.parent, study_progress(study.get_trials(deepcopy=False)))

    def _on_stale(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """A trial whose worker stopped sending heartbeats (now re-queued): close its run."""
        run_id = trial.user_attrs.get(RUN_ATTR)
        if run_id:
            self.tracker.finish(run_id, "FAIL", trial.user_attrs[FAIL_REASON])

    def run(self, context: TrialContext) -> str:
        """Run trials; returns why it stopped: 'done', 'timeout', 'time budget', or raises
        KeyboardInterrupt."""
        # torch.optim imports torch._dynamo with the first optimizer (1.5 s or more on a small
        # CPU): pay that once here rather than inside the first trial.
        import torch._dynamo  # noqa: F401

        objective = Objective(context, self._hold_signals)
        with storage_lock(self.plan.storage_url, f"trial slots of {self.plan.name}"):
            requeue_interrupted(self.study)
            queue_baselines(self.study, self.plan.spec.baselines)
        timeout = self.plan.options.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        failures = 0
        # a failed trial is logged by Optuna with its traceback; sweeper prints one line instead
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        while True:
            with ExitStack() as gate:
                # Counting the free slots and creating the trial happen under one lock, so that
                # workers asking at the same moment never start more trials than the target.
                slots = storage_lock(self.plan.storage_url, f"trial slots of {self.plan.name}")
                gate.enter_context(slots)
                # One listing: a trial finishing between two queries would be in neither count.
                # Not WAITING: a dead worker's trial re-queued for retry is what `optimize` runs
                # next, so it must not look like a slot someone else holds.
                holding = self.study.get_trials(
                    deepcopy=False, states=(*FINISHED, TrialState.RUNNING)
                )
                finished = sum(t.state in FINISHED for t in holding)
                target = self.plan.trials
                if target is not None and finished >= target:
                    return "done"
                if deadline is not None and time.monotonic() >= deadline:
                    return "timeout"
                if self.plan.budget_ends is not None and time.time() >= self.plan.budget_ends:
                    return "time budget"
                if target is not None and len(holding) >= target:
                    gate.close()
                    # Others hold the rest of the budget; keep watch in case one of them dies.
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        optuna.storages.fail_stale_trials(self.study)
                    time.sleep(min(2.0, self.plan.options.heartbeat))
                    continue
                self._run_one(_released_first(gate.close, objective))
            last = self._last
            if last is not None and context.checkpoints is not None:
                try:
                    self._tidy_checkpoints(context.checkpoints, last)
                except Exception as exc:  # a leftover checkpoint costs disk, not results
                    _logger.warning(
                        "could not remove the checkpoint of trial %s: %s",
                        last.number,
                        mask_text(f"{type(exc).__name__}: {exc}"),
                    )
            if last is None or last.state != TrialState.FAIL:
                failures = 0
            elif is_surplus(last):
                continue
            else:
                failures += 1
                if failures >= MAX_FAILURES_IN_A_ROW:
                    raise StudyError(
                        f"{self.plan.study_file.path}: {failures} trials failed in a row; last: "
                        f"{last.user_attrs.get(FAIL_REASON, 'unknown error')}"
                    )

    def _run_one(self, objective: Callable[[optuna.Trial], float]) -> None:
        """One trial through Optuna; `self._last` is the finished trial, or None when another
        worker took it over. A StudyFileError, once the trial is recorded FAIL, stops the sweep:
        every later trial would fail the same way."""
        self._last = None
        stopping: list[StudyFileError] = []
        started: list[optuna.Trial] = []

        # A stop signal arriving while Optuna records the trial's end takes effect once it is
        # recorded: cut off there, the write failed and the finished trial stayed RUNNING.
        self._recording = recording = ExitStack()

        def recorded_then_stop(trial: optuna.Trial) -> float:
            started.append(trial)
            try:
                return objective(trial)
            except StudyFileError as exc:
                stopping.append(exc)  # Optuna records the trial's failure first
                raise
            finally:
                self._hold_signals()

        with recording, warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                self.study.optimize(
                    recorded_then_stop, n_trials=1, catch=(Exception,), callbacks=[self._remember]
                )
            except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as exc:
                # Scale-out: heartbeats that a database outage held up past --grace make another
                # worker fail this trial and retry it; Optuna then refuses its end.
                if not _taken_over(exc):
                    raise
                _logger.warning(
                    "this worker's trial went %ss without a heartbeat, so another worker failed "
                    "it and retried it; its result is dropped",
                    self.plan.options.grace,
                )
            except Exception as exc:
                if not started:
                    raise
                # Optuna could not write the trial's end (a full disk, say): it raises an
                # AssertionError of its own with the storage's error behind it.
                raise self._unrecorded(started[0], exc) from None
        if stopping:
            raise stopping[0]

    def _hold_signals(self) -> None:
        self._recording.enter_context(deferred())

    def _unrecorded(self, trial: optuna.Trial, exc: Exception) -> StudyError:
        """The error for a trial whose end the study's storage refused, once its MLflow run is
        closed as failed: what the storage said, and what each store now holds."""
        cause = mask_text(first_line(_root_cause(exc)), [self.plan.storage_url])
        run_id = trial.user_attrs.get(RUN_ATTR)
        closed = ""
        with suppress(Exception):  # the tracking store may be out of reach as well
            if run_id and self.tracker.run_status(run_id) == "RUNNING":
                reason = f"its end could not be recorded in the study: {cause}"
                self.tracker.finish(run_id, "FAIL", reason)
            if run_id:
                closed = f"; its MLflow run {run_id} is {self.tracker.run_status(run_id)}"
        return StudyError(
            f"--storage {mask_url(self.plan.storage_url)}: could not record the end of trial "
            f"{trial.number} ({cause}); it stays RUNNING there until a worker, once the storage "
            f"is writable, fails it (after --grace {self.plan.options.grace}s) and retries it"
            f"{closed}"
        )

    def _tidy_checkpoints(self, store: CheckpointStore, trial: FrozenTrial) -> None:
        """Once a trial has ended, its checkpoint is needed only to resume it after an
        interruption, or as one of the best `keep_checkpoints` COMPLETE trials."""
        root = lineage(trial)
        if was_interrupted(trial):
            return
        if trial.state != TrialState.COMPLETE:
            store.remove(root)
            return
        keep = self.plan.spec.keep_checkpoints
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best = [lineage(t) for t in ranked(complete)]
        if root not in best[:keep]:
            store.remove(root)
        elif len(best) > keep:
            store.remove(best[keep])  # the one this trial pushed out of the best

    def close_parent(self, outcome: str) -> None:
        """The last worker out closes the parent run; an interrupted one marks it KILLED."""
        parent = self.study.user_attrs.get(PARENT_ATTR)
        if not parent:
            return
        try:
            if outcome == "interrupted":
                self.tracker.end(parent, "KILLED")
            elif count(self.study, (TrialState.RUNNING,)) == 0:
                self.tracker.end(parent, "FINISHED")
        except Exception as exc:  # a tracking outage: the trials are in the study all the same
            _logger.warning(
                "the MLflow parent run %s stays RUNNING: %s",
                parent,
                mask_text(first_line(exc), [self.plan.tracking_uri]),
            )


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


def requeue_interrupted(study: optuna.Study) -> list[int]:
    """Queue once more, with the same parameters, every trial the user interrupted (Ctrl-C, a
    stop signal) that no trial re-runs yet; the re-run resumes from its checkpoint. A FAIL
    trial never counts towards the target, so the parameters count once, when they finish."""
    trials = study.get_trials(deepcopy=False)
    requeued = {t.user_attrs.get(REQUEUED_FROM) for t in trials}
    numbers = []
    for trial in trials:
        if not was_interrupted(trial) or trial.number in requeued:
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


def _released_first(
    release: Callable[[], None], objective: Callable[[optuna.Trial], float]
) -> Callable[[optuna.Trial], float]:
    """`objective`, releasing the trial-slot lock as soon as Optuna has created the trial."""

    def run(trial: optuna.Trial) -> float:
        release()
        return objective(trial)

    return run


def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ or exc.__context__:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _taken_over(exc: Exception) -> bool:
    """Whether Optuna refused to update this worker's trial because another finished it."""
    return isinstance(exc, optuna.exceptions.UpdateFinishedTrialError) or str(exc).startswith(
        "Cannot tell a FAIL trial"
    )
