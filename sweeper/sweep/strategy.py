"""The search strategy: the sampler and pruner a study file names, and sampler seeding that stays
correct when many machines share one study.

Every worker of a distributed sweep reads the same study file, hence the same seed. A sampler
seeded once per process would draw the same random sequence on every machine, so N workers
would train each random (or TPE start-up) configuration N times. Seeding per trial number
instead gives every trial its own stream, and keeps a one-worker study reproducible.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from sweeper.study.spec import PRUNERS, SAMPLERS, StudySpec


def trial_seed(seed: int, trial_number: int) -> int:
    """A well-mixed 32-bit seed for one trial of a study seeded with `seed`."""
    return int(np.random.SeedSequence([seed, trial_number]).generate_state(1)[0])


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """Proposes each trial's parameters with a fresh sampler seeded by (seed, trial number).

    `make(seed)` builds the underlying sampler (TPE, random). Optuna samplers keep nothing
    between trials that the study's storage does not hold, so a fresh one per trial loses
    nothing. A worker runs one trial at a time (no `n_jobs`), which this relies on.
    """

    def __init__(self, make: Callable[[int], optuna.samplers.BaseSampler], seed: int) -> None:
        self._make = make
        self._seed = seed
        self._current = make(seed)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._current = self._make(trial_seed(self._seed, trial.number))
        self._current.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._current.infer_relative_search_space(study, trial)

    def sample_relative(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        return self._current.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._current.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._current.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._current.reseed_rng()


def make_sampler(kind: str, spec: StudySpec, seed: int) -> optuna.samplers.BaseSampler:
    return SAMPLER_FACTORIES[kind](spec, seed)


def make_pruner(kind: str, spec: StudySpec) -> optuna.pruners.BasePruner:
    return PRUNER_FACTORIES[kind](spec)


def _tpe(seed: int) -> optuna.samplers.TPESampler:
    # Optuna's TPE is multivariate with a constant liar by default (running trials of other
    # workers count as bad, so the workers spread out); `group` extends the joint model to
    # conditional, define-by-run spaces such as studies/lstm.py's.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, group=True)


def _random(seed: int) -> optuna.samplers.RandomSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def _grid(spec: StudySpec, seed: int) -> optuna.samplers.BaseSampler:
    assert spec.grid is not None  # checked with the plan (StudySpec.check_sampler)
    return optuna.samplers.GridSampler(spec.grid, seed=seed)


def _hyperband(spec: StudySpec) -> optuna.pruners.BasePruner:
    # its first rung comes after the warm-up: a family that starts slower (whole-utterance
    # RNNs against windowed ones, benchmarks/budget_fairness.py) is not judged before then
    first_rung = min(spec.pruner_warmup_epochs + 1, spec.epochs)
    return optuna.pruners.HyperbandPruner(min_resource=first_rung, max_resource=spec.epochs)


def _percentile(spec: StudySpec, percentile: float) -> optuna.pruners.BasePruner:
    return optuna.pruners.PercentilePruner(
        percentile,
        n_startup_trials=spec.pruner_startup_trials,
        # Optuna's warm-up counts steps from 0; a trial reports epochs from 1.
        n_warmup_steps=spec.pruner_warmup_epochs + 1,
    )


# Seeded per trial, not per process: workers on other machines share `seed` (scale-out).
SAMPLER_FACTORIES: dict[str, Callable[[StudySpec, int], optuna.samplers.BaseSampler]] = {
    "tpe": lambda spec, seed: TrialSeededSampler(_tpe, seed),
    "random": lambda spec, seed: TrialSeededSampler(_random, seed),
    "grid": _grid,
}
PRUNER_FACTORIES: dict[str, Callable[[StudySpec], optuna.pruners.BasePruner]] = {
    "hyperband": _hyperband,
    "median": lambda spec: _percentile(spec, 50.0),
    "percentile": lambda spec: _percentile(spec, spec.pruner_percentile),
    "none": lambda spec: optuna.pruners.NopPruner(),
}


def _check_covers(table: dict[str, Any], names: tuple[str, ...], what: str) -> None:
    """The names a study file and the CLI accept are sweeper.study.spec's; a name added there
    without a factory here (or the reverse) fails every import rather than one sweep."""
    if set(table) != set(names):
        raise RuntimeError(
            f"sweeper.sweep.strategy builds the {what}s {sorted(table)}, "
            f"but sweeper.study.spec names {sorted(names)}"
        )


_check_covers(SAMPLER_FACTORIES, SAMPLERS, "sampler")
_check_covers(PRUNER_FACTORIES, PRUNERS, "pruner")
