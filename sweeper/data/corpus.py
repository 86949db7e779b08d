"""`load_corpus`: a validated LibriPhone directory as two in-memory splits, cached after a read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper.data import cache
from sweeper.data.layout import SPLITS, Layout
from sweeper.data.split import Split


@dataclass(frozen=True, eq=False)
class Corpus:
    """A LibriPhone directory's data.

    fingerprint: short content hash, the same on every machine for identical data.
    test.labels is None unless the directory has test_labels.txt (the embedded corpus does).
    metadata: the parsed corpus.json of a generated corpus, else None.
    """

    root: Path
    fingerprint: str
    train: Split
    test: Split
    metadata: dict[str, Any] | None


def load_corpus(root: str | Path) -> Corpus:
    """Validate and load `root`; raises DataError naming the offending file.

    The first load reads every `.pt` and writes the consolidated cache; later loads of the
    unchanged directory read only the file lists and the cache.
    """
    layout = Layout.open(root)
    key = cache.stat_key(layout)
    cached = cache.load(key)
    if cached is None:
        splits = {split: layout.read_split(split) for split in SPLITS}
        fingerprint = cache.fingerprint(splits)
        cache.store(key, fingerprint, splits)
    else:
        fingerprint, splits = cached
    return Corpus(
        root=layout.root,
        fingerprint=fingerprint,
        train=splits["train"],
        test=splits["test"],
        metadata=layout.metadata,
    )
