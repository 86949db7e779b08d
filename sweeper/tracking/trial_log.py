"""A trial's MLflow writes, which an unreachable tracking store must not turn into a failure.

The trial is Optuna's to record: with the tracking server down, it still trains, is pruned or
completes, and its result lands in the study. Each write is tried within MLflow's bounded
retries (about 20 s against a refused connection, see sweeper.tracking.tracker); after the first one
fails, the trial's further writes are not tried (an outage would cost each epoch that long),
except closing its run, tried once more at the end. What was not logged is said once per trial.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sweeper.errors import first_line
from sweeper.masking import mask_text
from sweeper.process.signals import deferred

T = TypeVar("T")

_logger = logging.getLogger(__name__)


class TrialLog:
    """The MLflow writes of trial `number`; `missed` lists those that did not land."""

    def __init__(self, number: int, secrets: tuple[str, ...] = ()) -> None:
        self.number = number
        self.secrets = secrets
        self.missed: list[str] = []
        self.error: str | None = None
        self._epochs: list[int] = []

    def write(self, what: str, call: Callable[[], T], *, closing: bool = False) -> T | None:
        """`call()`, or None when it failed or an earlier write failed (unless `closing`)."""
        landed, result = self._attempt(call, closing)
        if not landed:
            self.missed.append(what)
        return result

    def epoch(self, epoch: int, call: Callable[[], object]) -> None:
        landed, _ = self._attempt(call, closing=False)
        if not landed:
            self._epochs.append(epoch)

    def _attempt(self, call: Callable[[], T], closing: bool) -> tuple[bool, T | None]:
        if self.error is not None and not closing:
            return False, None
        try:
            with deferred():  # a stop signal waits for the write: see sweeper.process.signals
                return True, call()
        except Exception as exc:
            self.error = mask_text(first_line(exc), self.secrets)
            return False, None

    def report(self) -> None:
        """Say, in one warning, what of this trial is missing from MLflow and why."""
        missed = list(self.missed)
        if self._epochs:
            first, last = self._epochs[0], self._epochs[-1]
            epochs = f"epoch {first}" if first == last else f"epochs {first}-{last}"
            missed.insert(0, f"metrics of {epochs}")
        if missed:
            _logger.warning(
                "trial %d: not logged in MLflow (%s): %s; the trial is recorded in Optuna",
                self.number,
                self.error,
                ", ".join(missed),
            )
