"""`sweeper run --warm-start OTHER`: another study's COMPLETE trials, reused once in this one.

A study's search space is code, known only by running it, so each trial of OTHER is tried
against it in a dry run: this study's search space called on the trial's parameters.

- Copied (a COMPLETE trial of this study, no MLflow run, never trained again) when the trial
  ran exactly what this study would run: the dry run asks for the same parameters with the same
  distributions, builds the same config (constants, `fixed` and epochs included), and the
  trial trained on the same subset of the same data. Its value then means here what it meant
  there, and the sampler and the pruner read it as one of this study's trials.
- Otherwise its parameters are worth trying here: the values this space takes (a parameter it
  does not ask for, or a value outside its range, is left to the sampler) are queued to run
  first, for the best `top` distinct such trials only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FixedTrial, FrozenTrial, TrialState

from sweeper.errors import StudyError
from sweeper.storage.rdb import load_existing_study, storage_lock
from sweeper.study.record import (
    BEST_EPOCH,
    CONFIG,
    EPOCHS_RUN,
    N_PARAMS,
    SECONDS,
    STOPPED_EARLY,
    VERSION_ATTR,
    WARM_START_FROM,
    WARM_STARTS_ATTR,
    ranked,
)
from sweeper.study.settings import settings_of
from sweeper.study.spec import StudyFile
from sweeper.sweep.objective import trial_config
from sweeper.sweep.plan import RunPlan

# Settings under which two trials' val_acc were measured on the same frames.
SUBSET_KEYS = (
    "dataset_fingerprint",
    "split_seed",
    "train_ratio",
    "subset_seed",
    "subset_train_frames",
    "subset_val_frames",
)
# What a copy keeps of its trial's record: what the leaderboard, report and promote read.
KEPT_ATTRS = (N_PARAMS, CONFIG, BEST_EPOCH, EPOCHS_RUN, SECONDS, STOPPED_EARLY)


@dataclass(frozen=True)
class WarmStart:
    source: str
    copied: int
    queued: int
    earlier: bool  # done by an earlier run or another worker: nothing was done now


def load_source(plan: RunPlan, fingerprint: str) -> optuna.Study:
    """The study `--warm-start` names, checked before this run writes anything: it is in this
    storage and its trials ran on this run's data."""
    name = plan.options.warm_start
    assert name is not None
    try:
        source = load_existing_study(name, plan.storage_url)
    except StudyError as exc:
        raise StudyError(f"--warm-start {name}: {exc}") from None
    recorded = (settings_of(source) or {}).get("dataset_fingerprint")
    if recorded != fingerprint:
        shown = str(recorded)[:12] if recorded else "unknown (not a `sweeper run` study)"
        raise StudyError(
            f"--warm-start {name}: its trials ran on dataset {shown}, this run's data is "
            f"{fingerprint[:12]}; warm-start only from a study of the same data"
        )
    return source


def warm_start(
    plan: RunPlan, study: optuna.Study, source: optuna.Study, settings: dict[str, Any], version: str
) -> WarmStart:
    """Copy or queue `source`'s trials into `study`, once in the study's life.

    Under the trial-slot lock: the record and the trials must change together. The record is
    written first, as for baselines: a crash in between loses the warm start rather than
    importing twice."""
    name = source.study_name
    with storage_lock(plan.storage_url, f"trial slots of {plan.name}"):
        done = dict(study.user_attrs.get(WARM_STARTS_ATTR, {}))
        if name in done:
            return WarmStart(name, len(done[name]["copied"]), len(done[name]["queued"]), True)
        copies, queue = _triage(source, plan.study_file, settings, plan.options.warm_start_top)
        record = {"copied": [t.number for t in copies], "queued": [t.number for t, _ in queue]}
        study.set_user_attr(WARM_STARTS_ATTR, {**done, name: record})
        study.add_trials([_copy(trial, name, version) for trial in copies])
        for trial, params in queue:
            study.enqueue_trial(params, user_attrs={WARM_START_FROM: f"{name}:{trial.number}"})
    return WarmStart(name, len(copies), len(queue), False)


def _triage(
    source: optuna.Study, study_file: StudyFile, settings: dict[str, Any], top: int
) -> tuple[list[FrozenTrial], list[tuple[FrozenTrial, dict[str, Any]]]]:
    """(the trials to copy, in their order; the best `top` to queue, with their params)."""
    copies: list[FrozenTrial] = []
    queue: list[tuple[FrozenTrial, dict[str, Any]]] = []
    for trial in ranked(source.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))):
        dry = _DryRun(trial.params)
        try:
            # as the trial's own config was stored: through JSON (a tuple comes back a list)
            config = json.loads(json.dumps(trial_config(study_file, dry)))
        except Exception:  # this space fails on these values: they would fail here too
            continue
        ran = settings_of(source, trial) or {}
        if (
            dry.kept == trial.params
            and dry.distributions == trial.distributions
            and config == trial.user_attrs.get(CONFIG)
            and all(ran.get(key) == settings[key] for key in SUBSET_KEYS)
        ):
            copies.append(trial)
        elif dry.kept and len(queue) < top and all(dry.kept != params for _, params in queue):
            queue.append((trial, dry.kept))
    return sorted(copies, key=lambda t: t.number), queue


def _copy(trial: FrozenTrial, source: str, version: str) -> FrozenTrial:
    kept = {key: trial.user_attrs[key] for key in KEPT_ATTRS if key in trial.user_attrs}
    copy = optuna.trial.create_trial(
        value=trial.value,
        params=trial.params,
        distributions=trial.distributions,
        intermediate_values=trial.intermediate_values,
        # its settings are this study's in all that `promote` rebuilds (the subset, the config)
        user_attrs={**kept, WARM_START_FROM: f"{source}:{trial.number}", VERSION_ATTR: version},
    )
    # its own times, not the moment of the copy: the board's ETA averages trials' durations
    copy.datetime_start, copy.datetime_complete = trial.datetime_start, trial.datetime_complete
    return copy


class _DryRun(FixedTrial):
    """This study's search space on another trial's parameters. A parameter the trial lacks, or
    a value this space cannot take, gets a stand-in so that a define-by-run space goes on; only
    the trial's values this space takes are `kept`."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(dict(params))
        self.kept: dict[str, Any] = {}

    # FixedTrial's private hook, the one every suggest_* calls (optuna is pinned below 6)
    def _suggest(self, name: str, distribution: BaseDistribution) -> Any:
        if name in self._params and _contains(distribution, self._params[name]):
            self.kept[name] = self._params[name]
        else:
            self._params[name] = _stand_in(distribution)
        return super()._suggest(name, distribution)


def _contains(distribution: BaseDistribution, value: Any) -> bool:
    try:
        return distribution._contains(distribution.to_internal_repr(value))
    except ValueError:  # a categorical value that is not among the choices
        return False


def _stand_in(distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    assert isinstance(distribution, IntDistribution | FloatDistribution)
    return distribution.to_external_repr(distribution.low)
