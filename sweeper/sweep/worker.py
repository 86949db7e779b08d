"""One worker's share of a sweep: the study opened with its sampler and pruner, and the loop that
claims a trial slot, runs the trial through Optuna (its stop signals held until its end is
recorded), tidies its checkpoint and stops after too many failures in a row. The slots, the
queue, the parent run and the checkpoints are modules of their own beside this one.

Coordination is Optuna's own: every worker (a process here, or on another machine) loads the
same study from the shared storage; heartbeats find trials whose worker died and re-queue them.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack, nullcontext, suppress
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.data import Split
from sweeper.errors import StudyError, StudyFileError, first_line
from sweeper.masking import mask_text, mask_url
from sweeper.process.signals import deferred
from sweeper.study.progress import study_progress
from sweeper.study.record import FAIL_REASON, RUN_ATTR, SPEC_ATTR, is_surplus
from sweeper.study.settings import record, refuse_drift
from sweeper.sweep.checkpoints import checkpoint_store, tidy_checkpoints
from sweeper.sweep.objective import Objective, TrialContext
from sweeper.sweep.parent import close_parent, open_parent
from sweeper.sweep.plan import RunPlan
from sweeper.sweep.queueing import queue_next
from sweeper.sweep.slots import TrialSlots, released_first
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
        self.parent = open_parent(self.study, self.tracker, plan, settings, tags)
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
            checkpoints=checkpoint_store(
                plan.storage_url, plan.name, self.tracker.artifacts, self.parent
            ),
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
            close_parent(self.study, self.tracker, outcome)
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
        slots = TrialSlots(self.study, self.plan)
        failures = 0
        # a failed trial is logged by Optuna with its traceback; sweeper prints one line instead
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        while True:
            with slots.claim() as claim:
                if claim.stop is not None:
                    return claim.stop
                queue_next(self.study, self.plan.spec.baselines)
                self._run_one(released_first(claim.release, objective))
            last = self._last
            if last is not None and context.checkpoints is not None:
                keep = self.plan.spec.keep_checkpoints
                tidy_checkpoints(context.checkpoints, self.study, last, keep)
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


def _root_cause(exc: BaseException) -> BaseException:
    while exc.__cause__ or exc.__context__:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _taken_over(exc: Exception) -> bool:
    """Whether Optuna refused to update this worker's trial because another finished it."""
    return isinstance(exc, optuna.exceptions.UpdateFinishedTrialError) or str(exc).startswith(
        "Cannot tell a FAIL trial"
    )
