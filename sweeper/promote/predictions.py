"""The Kaggle submission file: predicting it, writing it, reading it back and scoring it.

    Id,Class
    0,17
    1,17
    ...

One row per test frame; Id counts from 0 over the utterances of test_split.txt in file order and
the frames within each; Class is the phone index 0..40 (see sweeper.phones).
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from sweeper.atomic import write_atomically
from sweeper.data.split import Split
from sweeper.errors import SweeperError
from sweeper.phones import NUM_CLASSES

HEADER = ("Id", "Class")


class PredictionsError(SweeperError):
    """A predictions CSV is malformed or does not fit the test split."""


@torch.no_grad()
def predict_utterances(
    classifier: Callable[[torch.Tensor], torch.Tensor],
    split: Split,
    on_utterance: Callable[[], None] | None = None,
) -> torch.Tensor:
    """The class of every frame of `split`, int64 in file order, asking `classifier` (features
    (frames, 39) -> logits (frames, 41)) one utterance at a time."""
    classes = []
    with warnings.catch_warnings():
        # exported programs warn about their own size checks on every call
        warnings.simplefilter("ignore", FutureWarning)
        for start, length in zip(split.offsets.tolist(), split.lengths.tolist(), strict=True):
            logits = classifier(split.features[start : start + length])
            classes.append(logits.argmax(1).cpu())
            if on_utterance is not None:
                on_utterance()
    return torch.cat(classes) if classes else torch.empty(0, dtype=torch.int64)


def write_predictions(path: Path, classes: torch.Tensor) -> Path:
    """Write the CSV atomically: a reader never sees half a file, an old file survives a crash."""
    rows = (f"{i},{c}\n" for i, c in enumerate(classes.tolist()))
    return write_atomically(path, (",".join(HEADER) + "\n" + "".join(rows)).encode())


def read_predictions(path: Path, frames: int) -> torch.Tensor:
    """The classes of a predictions CSV for a test split of `frames` frames, validated.

    Raises PredictionsError naming the file (and the line) for a missing file, a wrong header,
    Ids out of order, a wrong number of rows or a class outside 0..40.
    """
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            return _parse(path, csv.reader(stream), frames)
    except FileNotFoundError:
        raise PredictionsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PredictionsError(f"{path}: is a directory, expected a CSV file") from None
    except UnicodeDecodeError:
        raise PredictionsError(f"{path}: not a UTF-8 text file") from None


def _parse(path: Path, rows: Iterator[list[str]], frames: int) -> torch.Tensor:
    header = next(rows, None)
    if header is None or tuple(cell.strip() for cell in header) != HEADER:
        shown = "nothing" if header is None else repr(",".join(header))
        raise PredictionsError(f"{path}: the header must be 'Id,Class', found {shown}")
    classes: list[int] = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            frame, label = (int(cell) for cell in row)
        except ValueError:
            raise PredictionsError(
                f"{path}: line {line}: expected 'Id,Class' as two integers, found {','.join(row)!r}"
            ) from None
        if frame != len(classes):
            raise PredictionsError(
                f"{path}: line {line}: Id {frame} where {len(classes)} was expected "
                "(one row per test frame, in order)"
            )
        if not 0 <= label < NUM_CLASSES:
            raise PredictionsError(
                f"{path}: line {line}: class {label} is outside 0..{NUM_CLASSES - 1}"
            )
        classes.append(label)
    if len(classes) != frames:
        raise PredictionsError(
            f"{path}: {len(classes):,} rows, but the test split has {frames:,} frames "
            "(one row per frame)"
        )
    return torch.tensor(classes, dtype=torch.int64)


def accuracy(classes: torch.Tensor, labels: torch.Tensor) -> float:
    """Frame accuracy: the fraction of frames whose class is the label (Kaggle's metric)."""
    return (classes == labels).double().mean().item()
