"""How far a running trial is inside its epoch, and how long its epochs take, for the board.

The board reads the study from its storage (sweeper.sweep.live), which shows every worker's
trials, on this machine or another; so a trial's progress goes there too, as its user attribute
PROGRESS, rewritten at most every WRITE_EVERY_S seconds. Measured on a study of 100 trials (2
shared cores, load 7): one write took 0.8 ms on SQLite, 12 ms on a local PostgreSQL, so at one
every 5 s under 0.3% of a worker's time; the board's listing of the study took 10-15 ms either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sweeper.process.signals import deferred
from sweeper.study.record import PROGRESS

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from sweeper.training import BatchProgress, EpochStats

WRITE_EVERY_S = 5.0
# The pace of an epoch's first seconds (a cold start, the first batches) says too little to
# extrapolate to the whole epoch
MIN_PACE_S = 10.0


@dataclass(frozen=True)
class TrialProgress:
    """What PROGRESS holds: the epoch under way, and the last whole epoch's time."""

    epoch: int  # 1-based
    done: int  # batches of the epoch's batch order done
    total: int
    seconds: float  # spent on the epoch so far
    epoch_seconds: float | None  # the trial's last whole epoch, validation included

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def seconds_per_epoch(self) -> tuple[float, bool] | None:
        """(seconds an epoch takes, whether measured rather than extrapolated from the epoch
        under way's pace), or None while neither says enough."""
        if self.epoch_seconds is not None:
            return self.epoch_seconds, True
        if self.seconds >= MIN_PACE_S and self.done:
            return self.seconds / self.done * self.total, False
        return None


def read_progress(trial: FrozenTrial) -> TrialProgress | None:
    value = trial.user_attrs.get(PROGRESS)
    if not isinstance(value, dict):
        return None
    try:
        return TrialProgress(**value)
    except TypeError:  # written by another version of sweeper
        return None


class ProgressReporter:
    """A trial's `on_progress` for `train`: hands how far the epoch is to `write`, at an epoch's
    first batch and then at most every `every` seconds. `epoch_ended`, called from the trial's
    `on_epoch`, adds each whole epoch's measured time."""

    def __init__(
        self,
        write: Callable[[dict[str, Any]], None],
        every: float = WRITE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write, self.every, self.clock = write, every, clock
        self.epoch_seconds: float | None = None
        self.written: float | None = None  # clock() at the last write; None: write at the next

    def __call__(self, progress: BatchProgress) -> None:
        now = self.clock()
        if self.written is not None and now - self.written < self.every:
            return
        self.written = now
        seconds = round(progress.seconds, 3)
        shown = TrialProgress(
            progress.epoch, progress.done, progress.total, seconds, self.epoch_seconds
        )
        self.write(asdict(shown))

    def epoch_ended(self, stats: EpochStats) -> None:
        self.epoch_seconds = round(stats.epoch_seconds, 3)
        self.written = None


def progress_reporter(trial: optuna.Trial) -> ProgressReporter:
    """The reporter a trial's objective passes to `train` as `on_progress`."""

    def write(value: dict[str, Any]) -> None:
        with deferred():  # an Optuna write: see sweeper.process.signals
            trial.set_user_attr(PROGRESS, value)

    return ProgressReporter(write)
