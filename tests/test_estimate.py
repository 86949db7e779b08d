"""The sweep's estimated end: its arithmetic, on trial records as a sweep stores them (a real
SQLite study; running trials' progress written by the reporter the objective uses)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from sweeper.study.record import CONFIG, EPOCHS_RUN, EPOCHS_TRAINED, SECONDS, WARM_START_FROM
from sweeper.sweep.estimate import estimate
from sweeper.sweep.live import long_sweep_warning
from sweeper.sweep.trial_progress import ProgressReporter, progress_reporter, read_progress
from sweeper.training import BatchProgress, EpochStats

FAMILY = CategoricalDistribution(["mlp", "rnn-seq", "rnn-window"])


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    return optuna.create_study(
        study_name="pace", storage=f"sqlite:///{tmp_path / 'sweeps.db'}", direction="maximize"
    )


def finished(
    study: optuna.Study,
    family: str,
    state: TrialState,
    seconds: float,
    epochs: int,
    **attrs: Any,
) -> None:
    """A trial as the objective records it: its config, time and epochs."""
    user_attrs = {CONFIG: {"family": family}, SECONDS: seconds, EPOCHS_RUN: epochs, **attrs}
    study.add_trial(
        create_trial(
            state=state,
            value=0.5 if state == TrialState.COMPLETE else None,
            params={"family": family},
            distributions={"family": FAMILY},
            user_attrs=user_attrs,
            intermediate_values={e: 0.4 for e in range(1, epochs + 1)},
        )
    )


def running(
    study: optuna.Study,
    family: str,
    epoch: int,
    done: int,
    total: int,
    seconds: float,
    epoch_seconds: float | None = None,
) -> None:
    """A running trial whose reporter has written how far its epoch `epoch` is, and how long
    the epoch before took."""
    trial = study.ask({"family": FAMILY})
    trial.set_user_attr(CONFIG, {"family": family})
    reporter = progress_reporter(trial)
    if epoch_seconds is not None:
        reporter.epoch_ended(EpochStats(epoch - 1, 1.0, 0.5, 1.0, 0.5, epoch_seconds, 1e-3))
    reporter(BatchProgress(epoch, done, total, seconds))


def test_the_headline_first_trial_alone_says_the_sweep_needs_days(study: optuna.Study) -> None:
    # `sweeper run studies/lstm.py --trials 100` on 2 cores: the windowed baseline is 10% into
    # its first epoch after 90 s, and nothing has finished
    running(study, "rnn-window", epoch=1, done=24, total=240, seconds=90.0)
    ahead = estimate(study.get_trials(), target=100, epochs=10, workers=1)
    assert ahead is not None
    assert ahead.epoch_seconds == {"rnn-window": pytest.approx(900.0)}
    assert ahead.epochs_per_trial == 10  # no trial finished: no pruning seen yet
    # 99 trials not started x 10 epochs x 900 s, and the running one's 9.9 epochs left
    assert ahead.seconds_left == pytest.approx(99 * 10 * 900 + 9.9 * 900)
    assert ahead.basis() == "99 trials x 10.0 epochs at 900 s/epoch (rnn-window), 1 running"

    warning = long_sweep_warning(ahead, budget_ends=time.time() + 12 * 60)
    assert warning is not None
    text = warning.plain
    assert "needs about 249h58m" in text and "--time-budget" in text
    assert "studies/lstm_cpu.py" in text and "GPU" in text
    without_budget = long_sweep_warning(ahead, budget_ends=None)
    assert without_budget is not None and "give --time-budget" in without_budget.plain


def test_families_are_timed_apart_and_the_pruner_sets_the_epochs(study: optuna.Study) -> None:
    finished(study, "mlp", TrialState.COMPLETE, seconds=30.0, epochs=3, **{EPOCHS_TRAINED: 3})
    finished(study, "mlp", TrialState.PRUNED, seconds=10.0, epochs=1, **{EPOCHS_TRAINED: 1})
    finished(study, "rnn-seq", TrialState.PRUNED, seconds=440.0, epochs=2, **{EPOCHS_TRAINED: 2})
    # interrupted: its epoch counts towards the pace, not towards the epochs a trial runs
    finished(study, "rnn-seq", TrialState.FAIL, seconds=100.0, epochs=1, **{EPOCHS_TRAINED: 1})
    # copied by a warm start: ran elsewhere, counts for neither
    finished(study, "mlp", TrialState.COMPLETE, seconds=9e9, epochs=9, **{WARM_START_FROM: "x:1"})
    # epoch 2 of a running rnn-seq trial, half done in 50 s, its first epoch 110 s
    running(study, "rnn-seq", epoch=2, done=40, total=80, seconds=50.0, epoch_seconds=110.0)

    ahead = estimate(study.get_trials(), target=10, epochs=5, workers=2)
    assert ahead is not None
    # mlp: 40 s over 4 epochs; rnn-seq: 440 + 100 + 110 + 50 s over 2 + 1 + 1 + 0.5 epochs
    assert ahead.epoch_seconds == {"mlp": 10.0, "rnn-seq": pytest.approx(700 / 4.5)}
    assert ahead.epochs_per_trial == pytest.approx((3 + 1 + 2) / 3)
    # 10 - 4 finished (the copy among them) - 1 running; 6 trials so far: 3 mlp, 3 rnn-seq
    assert (ahead.trials_left, ahead.running) == (5, 1)
    mean_epoch = (3 * 10.0 + 3 * 700 / 4.5) / 6
    running_left = (2 - 1.5) * 700 / 4.5  # 2 epochs a trial, 1.5 done
    assert ahead.seconds_left == pytest.approx((5 * 2 * mean_epoch + running_left) / 2)


def test_no_estimate_without_a_pace_or_a_target(study: optuna.Study) -> None:
    running(study, "mlp", epoch=1, done=3, total=240, seconds=4.0)  # too early to extrapolate
    assert estimate(study.get_trials(), target=20, epochs=5, workers=1) is None
    finished(study, "mlp", TrialState.COMPLETE, seconds=30.0, epochs=3, **{EPOCHS_TRAINED: 3})
    assert estimate(study.get_trials(), target=None, epochs=5, workers=1) is None
    # past the 3 epochs a trial runs, in its 5th (epoch 4 took 10 s, the 5th is just begun)
    running(study, "mlp", epoch=5, done=120, total=240, seconds=5.0, epoch_seconds=10.0)
    ahead = estimate(study.get_trials(), target=20, epochs=5, workers=1)
    assert ahead is not None and long_sweep_warning(ahead, None) is None  # minutes: no warning
    assert ahead.epoch_seconds == {"mlp": 10.0}  # 30 s + 10 s over 3 + 1 epochs
    # 17 trials x 3 epochs; the first running trial's 3 epochs less 3/240 of one; the one
    # past 3 epochs still has the rest of its epoch to go
    assert ahead.seconds_left == pytest.approx(17 * 3 * 10.0 + (3 - 3 / 240) * 10.0 + 0.5 * 10.0)


def test_the_reporter_writes_each_new_epoch_at_once_and_then_at_most_every_few_seconds(
    study: optuna.Study,
) -> None:
    now = [0.0]
    written: list[dict[str, Any]] = []
    reporter = ProgressReporter(written.append, every=5.0, clock=lambda: now[0])
    for done in range(1, 11):  # a batch a second
        now[0] = float(done)
        reporter(BatchProgress(1, done, 10, float(done)))
    assert [w["done"] for w in written] == [1, 6]
    reporter.epoch_ended(EpochStats(1, 1.0, 0.5, 1.0, 0.5, 10.4, 1e-3))
    reporter(BatchProgress(2, 1, 10, 1.0))
    assert written[-1] == {
        "epoch": 2,
        "done": 1,
        "total": 10,
        "seconds": 1.0,
        "epoch_seconds": 10.4,
    }

    trial = study.ask()
    progress_reporter(trial)(BatchProgress(3, 7, 10, 12.5))
    stored = read_progress(study.get_trials()[0])
    assert stored is not None and (stored.epoch, stored.done, stored.fraction) == (3, 7, 0.7)
    assert stored.seconds_per_epoch() == (pytest.approx(12.5 / 7 * 10), False)
