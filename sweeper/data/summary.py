"""Numbers that describe a split, as `sweeper data info` shows them."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sweeper.data.split import Split
from sweeper.phones import NUM_CLASSES


@dataclass(frozen=True)
class SplitSummary:
    name: str
    utterances: int
    frames: int
    min_length: int
    median_length: float
    max_length: int
    label_counts: tuple[int, ...] | None  # frames per class, None for an unlabelled split


def summarize(split: Split) -> SplitSummary:
    lengths = split.lengths.double()
    counts = None
    if split.labels is not None:
        counts = tuple(torch.bincount(split.labels, minlength=NUM_CLASSES).tolist())
    return SplitSummary(
        name=split.name,
        utterances=split.num_utterances,
        frames=split.num_frames,
        min_length=int(lengths.min()),
        median_length=float(lengths.quantile(0.5)),
        max_length=int(lengths.max()),
        label_counts=counts,
    )
