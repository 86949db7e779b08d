"""The model registry's policy: which promoted version is the `champion`.

Every version a promotion registers carries its val_acc; the `champion` alias moves to a new
version only when it beats the current champion's. The MLflow calls are the tracker's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sweeper.tracking.tracker import Tracker

CHAMPION = "champion"  # the registry alias of the best promoted version
VAL_ACC_TAG = "val_acc"  # on each registered version: what the champion is compared on


@dataclass(frozen=True)
class Champion:
    """What `crown_if_better` decided: `crowned` when `version` now holds the alias."""

    name: str
    version: str
    crowned: bool
    previous_version: str | None
    previous_val_acc: float | None


def crown_if_better(tracker: Tracker, name: str, version: str, val_acc: float) -> Champion:
    """Move the `champion` alias of `name` to `version` only when its val_acc beats the
    current champion's (a champion without a val_acc tag, set by hand, is replaced)."""
    current = tracker.alias_version(name, CHAMPION)
    previous = None
    if current is not None:
        tagged = tracker.version_tags(name, current).get(VAL_ACC_TAG)
        previous = None if tagged is None else float(tagged)
    crowned = current is None or previous is None or val_acc > previous
    if crowned:
        tracker.set_alias(name, CHAMPION, version)
    return Champion(name, version, crowned, current, previous)
