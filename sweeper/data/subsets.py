"""Seeded subsets of whole utterances, for tuning on a fraction of the data (e.g. 60k frames)."""

from __future__ import annotations

import random
import warnings

import torch

from sweeper.data.split import Split
from sweeper.errors import DataError


def subset(split: Split, frames: int, seed: int) -> Split:
    """Whole utterances of `split`, drawn in a seeded random order until at least `frames` frames.

    The result keeps the split's utterance order. Asking for more frames than the split holds
    returns the whole split with a warning.
    """
    if frames < 1:
        raise DataError(f"a {split.name} subset needs at least one frame, got {frames}")
    if frames >= split.num_frames:
        if frames > split.num_frames:
            warnings.warn(
                f"asked for {frames} {split.name} frames but the split holds "
                f"{split.num_frames}; using all of it",
                stacklevel=2,
            )
        return split
    order = list(range(split.num_utterances))
    random.Random(seed).shuffle(order)
    covered = torch.cumsum(split.lengths[order], 0)
    count = int(torch.searchsorted(covered, frames)) + 1
    return split.select(sorted(order[:count]))
