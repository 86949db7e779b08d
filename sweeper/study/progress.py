"""A study's story as its parent MLflow run tells it: the best-so-far curve and trial counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from sweeper.study.record import ENDED, is_surplus


@dataclass(frozen=True)
class StudyProgress:
    best_so_far: dict[int, float]  # trial number -> best val_acc of trials 0..number
    counts: dict[str, float]  # trials_complete, trials_pruned, trials_failed
    finished: int  # how many trials had ended: the step of the counts


def study_progress(trials: Sequence[FrozenTrial]) -> StudyProgress:
    """What a listing of the study's trials says, from any worker at any moment.

    The curve runs up to the first trial still running: its point, and every later one, waits
    until that trial ends (it may become the best), so a point once logged never changes. A
    trial that stood down for another worker (surplus) counts as nothing.
    """
    best_so_far: dict[int, float] = {}
    best: float | None = None
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state not in ENDED:
            break
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            best = trial.value if best is None else max(best, trial.value)
        if best is not None:
            best_so_far[trial.number] = best
    ended = [t for t in trials if t.state in ENDED and not is_surplus(t)]
    counts = {
        f"trials_{label}": float(sum(t.state == state for t in ended))
        for label, state in (
            ("complete", TrialState.COMPLETE),
            ("pruned", TrialState.PRUNED),
            ("failed", TrialState.FAIL),
        )
    }
    return StudyProgress(best_so_far, counts, len(ended))
