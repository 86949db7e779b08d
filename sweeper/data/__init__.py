"""The LibriPhone data layer: loading, course splits, subsets and batch iteration.

Names are imported on first use so that importing a light submodule (the CLI reaches
`sweeper.data.defaults` at start-up) does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sweeper.data.batches import FrameBatches, SequenceBatch, SequenceBatches
    from sweeper.data.corpus import Corpus, load_corpus
    from sweeper.data.course import course_split
    from sweeper.data.split import Split
    from sweeper.data.subsets import subset

_HOMES = {
    "Corpus": "corpus",
    "load_corpus": "corpus",
    "course_split": "course",
    "subset": "subsets",
    "FrameBatches": "batches",
    "SequenceBatch": "batches",
    "SequenceBatches": "batches",
    "Split": "split",
}

__all__ = [
    "Corpus",
    "FrameBatches",
    "SequenceBatch",
    "SequenceBatches",
    "Split",
    "course_split",
    "load_corpus",
    "subset",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"sweeper.data.{_HOMES[name]}"), name)
