"""The study file's pruner settings mean what they say, with epochs counted from 1, and a trial
that trained every epoch of its budget is never pruned."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from sweeper import StudySpec
from sweeper.sweep.strategy import make_pruner
from tests.cli import sweeper
from tests.test_run import mlflow_runs, states, trials_of, write_study


def study_with(spec: StudySpec, finished: list[float]) -> optuna.Study:
    """A study whose complete trials reported these val_acc values at every epoch."""
    study = optuna.create_study(direction="maximize", pruner=make_pruner(spec.pruner, spec))
    for value in finished:
        trial = study.ask()
        for epoch in range(1, spec.epochs + 1):
            trial.report(value, epoch)
        study.tell(trial, value)
    return study


def first_pruned_epoch(study: optuna.Study, value: float, epochs: int = 5) -> int | None:
    trial = study.ask()
    for epoch in range(1, epochs + 1):
        trial.report(value, epoch)
        if trial.should_prune():
            return epoch
    return None


@pytest.mark.parametrize("warmup", [0, 1, 3])
def test_no_trial_is_pruned_in_its_warmup_epochs(warmup: int) -> None:
    spec = StudySpec(
        epochs=5, pruner="median", pruner_startup_trials=1, pruner_warmup_epochs=warmup
    )
    assert first_pruned_epoch(study_with(spec, [0.9, 0.9]), 0.1) == warmup + 1


@pytest.mark.parametrize("warmup", [0, 3])
def test_hyperband_judges_no_trial_before_the_warmup_ends(warmup: int) -> None:
    """The lstm study waits 3 epochs: whole-utterance models start slower than windowed ones."""
    spec = StudySpec(epochs=12, pruner="hyperband", pruner_warmup_epochs=warmup)
    study = optuna.create_study(
        direction="maximize", pruner=make_pruner(spec.pruner, spec), study_name="hyperband"
    )
    for _ in range(12):
        trial = study.ask()
        for epoch in range(1, spec.epochs + 1):
            trial.report(0.9, epoch)
            trial.should_prune()  # what passes a rung is recorded on the trial as it asks
        study.tell(trial, 0.9)
    pruned_at = [first_pruned_epoch(study, 0.1, spec.epochs) for _ in range(12)]
    assert min(epoch or spec.epochs + 1 for epoch in pruned_at) == warmup + 1, pruned_at


def test_percentile_keeps_only_the_best_quarter_where_median_keeps_half() -> None:
    finished = [0.50, 0.60, 0.70, 0.80]
    median = StudySpec(epochs=5, pruner="median", pruner_startup_trials=4)
    quarter = StudySpec(epochs=5, pruner="percentile", pruner_startup_trials=4)
    assert first_pruned_epoch(study_with(median, finished), 0.66) is None
    assert first_pruned_epoch(study_with(quarter, finished), 0.66) == 1
    assert first_pruned_epoch(study_with(quarter, finished), 0.78) is None


def test_a_percentile_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="pruner_percentile must be in"):
        StudySpec(pruner="percentile", pruner_percentile=0)


def test_a_trial_that_trained_every_epoch_is_complete_whatever_the_pruner_says(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    """The median pruner would prune the third trial at epoch 1, its last: with every epoch of
    its budget trained it has nothing left to save, so it is COMPLETE with its value."""
    write_study(
        tmp_path / "last.py", epochs=1, pruner="median", lr="3e-3 if trial.number < 2 else 1e-7"
    )
    sweeper("run", "last.py", "--trials", "3", "--data", tiny_corpus, cwd=tmp_path)
    trials = sorted(trials_of(tmp_path, "last"), key=lambda t: t.number)
    assert states(trials) == ["COMPLETE"] * 3
    hopeless = trials[2]
    assert hopeless.value == hopeless.intermediate_values[1]
    assert hopeless.value < min(t.value for t in trials[:2])  # what the median pruner prunes
    _, _, children = mlflow_runs(tmp_path, "last")
    run = next(r for r in children if r.data.tags["sweeper.trial"] == "2")
    assert run.info.status == "FINISHED" and run.data.tags["sweeper.state"] == "COMPLETE"
