"""The course sample code's train/validation split, reproduced exactly.

Students compare validation accuracy with classmates who ran the sample code, so the split must
pick the same utterances: `random.seed(seed)`, `random.shuffle` of train_split.txt's lines, the
first `int(len(lines) * ratio)` are train, the rest validation (both in shuffled order).
"""

from __future__ import annotations

import random

from sweeper.data.split import Split
from sweeper.errors import DataError


def course_split(train: Split, seed: int = 1337, ratio: float = 0.8) -> tuple[Split, Split]:
    """(train, val) from the labelled train split, as the course sample code splits it."""
    if not 0 < ratio < 1:
        raise DataError(f"train ratio must be between 0 and 1 (exclusive), got {ratio}")
    # shuffle permutes by position only, so shuffling positions matches shuffling the lines;
    # a private Random(seed) draws the same stream as random.seed(seed) without touching it
    order = list(range(train.num_utterances))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * ratio)
    if cut == 0 or cut == len(order):
        raise DataError(
            f"train ratio {ratio} of {len(order)} utterances leaves the train or validation "
            "split empty"
        )
    return train.select(order[:cut], name="train"), train.select(order[cut:], name="val")
