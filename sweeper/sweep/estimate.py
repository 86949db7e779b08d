"""When the sweep ends at this pace: the arithmetic behind the board's estimate.

A simple model, said whole so that its figures can be checked by hand:

    time left = (trials not started x epochs a trial runs x seconds an epoch takes
                 + each running trial's epochs left x its family's seconds an epoch) / workers

- Seconds an epoch takes, per model family (an RNN's epoch can cost a hundred MLP epochs): every
  measured epoch of the family pooled: finished and failed trials' seconds over the epochs they
  trained (their start-up and logging included, which tiny trials are mostly made of), a running
  trial's last whole epoch and the part of its epoch under way. A family not measured yet is
  taken at the mean of the measured ones.
- Epochs a trial runs: the mean over the finished trials that ran here, which is the pruner's
  doing; before any has finished, the study's epochs (no pruning seen yet: the most a trial takes).
- Trials not started yet split between the families as the trials so far did (the sampler's mix).
- A running trial has the epochs a trial runs left, less those it did, but at least the rest of
  the epoch under way.

No estimate until some epoch time is known; none without a target of trials (a time budget
alone ends the sweep when it is spent).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from sweeper.study.record import (
    CONFIG,
    ENDED,
    EPOCHS_RUN,
    EPOCHS_TRAINED,
    FINISHED,
    SECONDS,
    is_surplus,
)
from sweeper.sweep.trial_progress import MIN_PACE_S, read_progress


@dataclass(frozen=True)
class SweepEstimate:
    seconds_left: float  # wall-clock, all workers together
    trials_left: int  # not started yet
    running: int
    epochs_per_trial: float
    epoch_seconds: dict[str, float]  # per family, measured or, for the unmeasured, the mean
    workers: int

    def basis(self) -> str:
        """The figures behind the estimate, one line: `12 trials x 4.2 epochs at 95 s/epoch
        (rnn-window), 12 s/epoch (mlp), 2 running, 2 workers`."""
        paces = ", ".join(f"{s:.0f} s/epoch ({f})" for f, s in self.epoch_seconds.items())
        running = f", {self.running} running" if self.running else ""
        workers = f", {self.workers} workers" if self.workers > 1 else ""
        trials = f"{self.trials_left} trial{'s' if self.trials_left != 1 else ''}"
        return f"{trials} x {self.epochs_per_trial:.1f} epochs at {paces}{running}{workers}"


def family_of(trial: FrozenTrial) -> str:
    config = trial.user_attrs.get(CONFIG)
    if isinstance(config, dict) and "family" in config:
        return str(config["family"])
    return str(trial.params.get("family", "?"))


def estimate(
    trials: Sequence[FrozenTrial], target: int | None, epochs: int, workers: int
) -> SweepEstimate | None:
    """How long the sweep has left at the pace its trials have shown (see the module's doc)."""
    if target is None:
        return None
    seconds: defaultdict[str, float] = defaultdict(float)  # per family: seconds measured,
    measured: defaultdict[str, float] = defaultdict(float)  # and the epochs they took
    for trial in trials:
        family = family_of(trial)
        trained = trial.user_attrs.get(EPOCHS_TRAINED)
        if trial.state in ENDED and trained and trial.user_attrs.get(SECONDS):
            seconds[family] += float(trial.user_attrs[SECONDS])
            measured[family] += int(trained)
        progress = read_progress(trial) if trial.state == TrialState.RUNNING else None
        if progress is not None and progress.epoch_seconds is not None:
            seconds[family] += progress.epoch_seconds
            measured[family] += 1
        if progress is not None and progress.done and progress.seconds >= MIN_PACE_S:
            seconds[family] += progress.seconds
            measured[family] += progress.fraction
    paces = {family: seconds[family] / measured[family] for family in measured}
    if not paces:
        return None
    unmeasured = sum(paces.values()) / len(paces)

    # not the copies of a warm start, which ran elsewhere
    ran_here = [t for t in trials if t.state in FINISHED and EPOCHS_TRAINED in t.user_attrs]
    per_trial = (
        sum(int(t.user_attrs.get(EPOCHS_RUN, 0)) for t in ran_here) / len(ran_here)
        if ran_here
        else float(epochs)
    )
    started = [t for t in trials if t.state != TrialState.WAITING and not is_surplus(t)]
    mix = Counter(family_of(t) for t in started)
    for family in mix:
        paces.setdefault(family, unmeasured)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    finished = sum(t.state in FINISHED for t in trials)
    left = max(0, target - finished - len(running))
    mean_epoch = (
        sum(paces[f] * n for f, n in mix.items()) / sum(mix.values()) if mix else unmeasured
    )
    work = left * per_trial * mean_epoch
    for trial in running:
        progress = read_progress(trial)
        done = 0.0 if progress is None else progress.epoch - 1 + progress.fraction
        rest_of_epoch = 1.0 if progress is None else 1 - progress.fraction
        work += max(per_trial - done, rest_of_epoch) * paces[family_of(trial)]
    return SweepEstimate(
        seconds_left=work / max(1, workers),
        trials_left=left,
        running=len(running),
        epochs_per_trial=per_trial,
        epoch_seconds=dict(sorted(paces.items())),
        workers=workers,
    )
