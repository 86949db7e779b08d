"""Promotion runs and the model registry: a promotion's run nested under the study's parent, the
model it logs and registers, and the registry's policy, which version is the `champion`.

Every version a promotion registers carries its val_acc; the `champion` alias moves to a new
version only when it beats the current champion's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlflow.exceptions import MlflowException

from sweeper.tracking.tracker import Tracker

if TYPE_CHECKING:
    import torch

CHAMPION = "champion"  # the registry alias of the best promoted version
VAL_ACC_TAG = "val_acc"  # on each registered version: what the champion is compared on
MODEL_DESCRIPTION = (
    "Framewise phone classifier. Input: one utterance's features, float32 (frames, 39). "
    "Output: per-frame logits over the 41 classes, float32 (frames, 41)."
)


class ModelRegistry:
    """A study's promotions in MLflow: one trial's config retrained on the full data, as a run
    of the study's experiment, and the registered model versions those runs log."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.client = tracker.client

    def start_promotion(
        self,
        parent_id: str,
        trial_number: int,
        source_run_id: str | None,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
    ) -> str:
        """A run `promote-trial-<n>` nested under the study's parent, naming its source trial."""
        source = {
            "sweeper.role": "promote",
            "sweeper.source_trial": str(trial_number),
            "sweeper.source_run_id": source_run_id or "",
        }
        return self.tracker.start_child(
            parent_id, f"promote-trial-{trial_number}", params, {**tags, **source}
        )

    def log_model(
        self,
        run_id: str,
        program: torch.nn.Module,
        example: torch.Tensor,
        registered_name: str,
        version_tags: Mapping[str, str],
        description: str,
    ) -> str:
        """Log an exported program as the run's PyTorch model, with `example` as its input
        example and signature, register it under `registered_name`; returns the new version.

        The pt2 format is pickle-free: it loads with torch alone, without sweeper, and without
        MLFLOW_ALLOW_PICKLE_DESERIALIZATION.
        """
        import mlflow
        import mlflow.pytorch
        import torch
        from mlflow.models import infer_signature

        with torch.no_grad():
            output = program(example)
        # log_model reads the global URI, and files the model under the global experiment
        mlflow.set_tracking_uri(self.tracker.tracking_uri)
        mlflow.set_experiment(experiment_id=self.tracker.experiment_id)
        info = mlflow.pytorch.log_model(
            program,
            name="model",
            run_id=run_id,
            input_example=example.numpy(),
            signature=infer_signature(example.numpy(), output.numpy()),
            serialization_format="pt2",
            # pinned so the model is served with the torch that exported it; also spares
            # MLflow inferring requirements by loading the model in a subprocess
            pip_requirements=[f"torch=={torch.__version__}"],
        )
        # Registered here rather than by log_model, which prints its own lines to stderr.
        try:
            self.client.create_registered_model(registered_name, description=MODEL_DESCRIPTION)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        version = self.client.create_model_version(
            registered_name,
            source=info.model_uri,
            run_id=run_id,
            tags=dict(version_tags),
            model_id=info.model_id,
            description=description,
        )
        return str(version.version)

    def version_of_run(self, name: str, run_id: str, tags: Mapping[str, str]) -> str | None:
        """The version of `name` that run `run_id` registered already (a promotion stopped
        after registering, now resumed), its `tags` set again; None when it has none."""
        found = [
            v for v in self.client.search_model_versions(f"run_id = '{run_id}'") if v.name == name
        ]
        if not found:
            return None
        version = str(min(int(v.version) for v in found))
        for key, value in tags.items():
            self.client.set_model_version_tag(name, version, key, value)
        return version

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version of registered model `name` that holds `alias`, if one does."""
        return self.client.get_registered_model(name).aliases.get(alias)

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        return dict(self.client.get_model_version(name, version).tags)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)


@dataclass(frozen=True)
class Champion:
    """What `crown_if_better` decided: `crowned` when `version` now holds the alias."""

    name: str
    version: str
    crowned: bool
    previous_version: str | None
    previous_val_acc: float | None


def crown_if_better(registry: ModelRegistry, name: str, version: str, val_acc: float) -> Champion:
    """Move the `champion` alias of `name` to `version` only when its val_acc beats the
    current champion's (a champion without a val_acc tag, set by hand, is replaced)."""
    current = registry.alias_version(name, CHAMPION)
    previous = None
    if current is not None:
        tagged = registry.version_tags(name, current).get(VAL_ACC_TAG)
        previous = None if tagged is None else float(tagged)
    crowned = current is None or previous is None or val_acc > previous
    if crowned:
        registry.set_alias(name, CHAMPION, version)
    return Champion(name, version, crowned, current, previous)
