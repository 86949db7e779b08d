"""Workers on many machines share a seed: trials must still differ, and one worker reproduces."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from sweeper.sweep.strategy import TrialSeededSampler


def space(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0) + trial.suggest_int("k", 0, 1000)


@pytest.mark.parametrize(
    "make", [optuna.samplers.RandomSampler, optuna.samplers.TPESampler], ids=["random", "tpe"]
)
def test_workers_with_one_seed_propose_different_trials_and_one_worker_reproduces(
    make: type[optuna.samplers.BaseSampler], tmp_path: Path
) -> None:
    def sampler() -> TrialSeededSampler:
        return TrialSeededSampler(lambda seed: make(seed=seed), seed=0)

    storage = f"sqlite:///{tmp_path}/shared.db"
    machines = [
        optuna.create_study(study_name="s", storage=storage, sampler=sampler(), load_if_exists=True)
        for _ in range(3)
    ]
    for _ in range(4):  # the machines take turns, as workers asking at the same moment would
        for machine in machines:
            machine.optimize(space, n_trials=1)
    shared = optuna.load_study(study_name="s", storage=storage).trials
    assert len({(t.params["x"], t.params["k"]) for t in shared}) == 12

    alone = [optuna.create_study(sampler=sampler()) for _ in range(2)]
    for study in alone:
        study.optimize(space, n_trials=12)
    assert [t.params for t in alone[0].trials] == [t.params for t in alone[1].trials]
