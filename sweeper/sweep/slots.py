"""A study's trial slots: whether this worker may start one more trial against the study's
target, all workers and machines together, decided under a lock in the study's storage."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.storage.rdb import storage_lock
from sweeper.study.record import (
    FAIL_REASON,
    FINISHED,
    SURPLUS,
    UNDER_WAY,
)
from sweeper.sweep.plan import RunPlan


def slots_lock(plan: RunPlan) -> AbstractContextManager[None]:
    """The lock every worker of the study holds to count its trials or to add some."""
    return storage_lock(plan.storage_url, f"trial slots of {plan.name}")


@dataclass(frozen=True)
class Claim:
    """Why this worker stops ('done', 'timeout', 'time budget'), or None: a slot is its own,
    under the lock until `release` (once Optuna has created the trial) or the claim's end."""

    stop: str | None
    release: Callable[[], None]


class TrialSlots:
    """The study's target of finished trials, and this worker's time limits, as slots."""

    def __init__(self, study: optuna.Study, plan: RunPlan) -> None:
        self.study = study
        self.plan = plan
        # --timeout counts from here: this worker's, from when it starts taking slots
        self.deadline = (
            None if plan.options.timeout is None else time.monotonic() + plan.options.timeout
        )

    @contextmanager
    def claim(self) -> Iterator[Claim]:
        """Wait until a slot is free for this worker, or it must stop."""
        target = self.plan.trials
        while True:
            with ExitStack() as gate:
                # Counting the free slots and creating the trial happen under one lock, so that
                # workers asking at the same moment never start more trials than the target.
                gate.enter_context(slots_lock(self.plan))
                # One listing: a trial finishing between two queries would be in neither count.
                # Not WAITING: a dead worker's trial re-queued for retry is what `optimize` runs
                # next, so it must not look like a slot someone else holds.
                holding = self.study.get_trials(
                    deepcopy=False, states=(*FINISHED, TrialState.RUNNING)
                )
                stop = self._stop(finished=sum(t.state in FINISHED for t in holding))
                if stop is not None or target is None or len(holding) < target:
                    yield Claim(stop, gate.close)
                    return
            # Others hold the rest of the budget; keep watch in case one of them dies.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optuna.storages.fail_stale_trials(self.study)
            time.sleep(min(2.0, self.plan.options.heartbeat))

    def _stop(self, finished: int) -> str | None:
        target = self.plan.trials
        if target is not None and finished >= target:
            return "done"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "timeout"
        if self.plan.budget_ends is not None and time.time() >= self.plan.budget_ends:
            return "time budget"
        return None


def released_first(
    release: Callable[[], None], objective: Callable[[optuna.Trial], float]
) -> Callable[[optuna.Trial], float]:
    """`objective`, releasing the trial-slot lock as soon as Optuna has created the trial."""

    def run(trial: optuna.Trial) -> float:
        release()
        return objective(trial)

    return run


class SurplusTrial(Exception):
    """Another worker started the study's last trial at the same moment; this one stands down."""


def stand_down_if_surplus(trial: optuna.Trial, trials: int | None) -> FrozenTrial:
    """Never run past the study's target: finished trials and those running ahead of this one
    may already fill it when several workers asked for a trial at the same moment.

    Returns the trial as stored, with the attributes Optuna gave it when it re-queued a dead
    worker's trial (read from the same listing, one query per trial)."""
    listed = trial.study.get_trials(deepcopy=False)
    mine = trial.number
    ahead = [t for t in listed if t.state in FINISHED or (t.state in UNDER_WAY and t.number < mine)]
    if trials is not None and len(ahead) >= trials:
        trial.set_user_attr(FAIL_REASON, f"{SURPLUS}: the study's target was already filled")
        raise SurplusTrial(f"the study already has {trials} finished or running trials")
    return next(t for t in listed if t.number == mine)
