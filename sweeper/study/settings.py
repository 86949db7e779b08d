"""How a study's trials ran (study file, data, subset, budget, search), kept in the study.

A resumed sweep must run the same experiment: `refuse_drift` names what changed since the
study began, unless the user accepts the change on purpose. Every version of the settings stays
in the study, and every trial records which one it ran under, so `promote` and `compare`
rebuild a trial's data exactly as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeper.errors import StudyError
from sweeper.study.record import SPEC_ATTR, VERSION_ATTR, VERSIONS_ATTR

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from sweeper.data import Split
    from sweeper.sweep.plan import RunPlan

# Settings a resume may not change silently; paths and the trial target may change freely.
DRIFT_KEYS = {
    "study_file_sha256": "study file",
    "dataset_fingerprint": "dataset",
    "train_frames": "train_frames",
    "val_frames": "val_frames",
    "subset_train_frames": "train subset",
    "subset_val_frames": "val subset",
    "epochs": "epochs",
    "split_seed": "split_seed",
    "train_ratio": "train_ratio",
    "subset_seed": "subset_seed",
    "sampler": "sampler",
    "pruner": "pruner",
    "seed": "seed",
}


def run_settings(
    plan: RunPlan, data_dir: Path, fingerprint: str, train: Split, val: Split
) -> dict[str, Any]:
    """What `promote`, `report` and `compare` need to know about how the study's trials ran."""
    spec = plan.spec
    return {
        "study_file": str(plan.study_file.path.resolve()),
        "study_file_sha256": file_digest(plan.study_file.path.read_bytes()),
        "data_dir": str(data_dir),
        "dataset_fingerprint": fingerprint,
        "train_frames": spec.train_frames,
        "val_frames": spec.val_frames,
        "subset_train_frames": train.num_frames,
        "subset_val_frames": val.num_frames,
        "epochs": spec.epochs,
        "split_seed": spec.split_seed,
        "train_ratio": spec.train_ratio,
        "subset_seed": spec.subset_seed,
        "sampler": plan.sampler,
        "pruner": plan.pruner,
        "seed": plan.seed,
        "target": plan.trials,
    }


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_of(settings: Mapping[str, Any]) -> str:
    """A short name for the experiment `settings` describe (the drift keys only)."""
    fixed = repr(sorted((k, settings.get(k)) for k in DRIFT_KEYS))
    return file_digest(fixed.encode())[:12]


def changes(stored: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """What differs between the stored settings and these, as `name (old -> new)`."""
    found = []
    for key, label in DRIFT_KEYS.items():
        if key not in stored or stored[key] == settings[key]:
            continue  # a study from an older sweeper may lack a key: nothing to compare
        old, new = stored[key], settings[key]
        if isinstance(old, str) and len(old) > 16:
            old, new = old[:12], str(new)[:12]
        found.append(f"{label} ({old} -> {new})")
    return found


def refuse_drift(name: str, stored: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """A StudyError naming every change since the study began, with the two ways on."""
    found = changes(stored, settings)
    if found:
        raise StudyError(
            f"study {name!r} changed since its trials ran: {', '.join(found)}; start a new "
            f"study with --study-name NEW, or pass --accept-changes to continue this one "
            f"and record the change"
        )


def record(study: optuna.Study, settings: Mapping[str, Any]) -> str:
    """Store `settings` as the study's current ones and among its versions; their version."""
    version = version_of(settings)
    versions = dict(study.user_attrs.get(VERSIONS_ATTR, {}))
    if version not in versions:
        versions[version] = dict(settings)
        study.set_user_attr(VERSIONS_ATTR, versions)
    study.set_user_attr(SPEC_ATTR, dict(settings))
    return version


def settings_of(study: optuna.Study, trial: FrozenTrial | None = None) -> dict[str, Any] | None:
    """The settings `trial` ran under (the current ones without a trial, or for a trial from
    before versions were kept); None for a study `sweeper run` did not make."""
    if trial is not None:
        version = trial.user_attrs.get(VERSION_ATTR)
        versions = study.user_attrs.get(VERSIONS_ATTR, {})
        if version in versions:
            return dict(versions[version])
    current = study.user_attrs.get(SPEC_ATTR)
    return None if current is None else dict(current)
