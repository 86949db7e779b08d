"""The consolidated corpus cache: one file per dataset, found without reading any `.pt`.

Reading thousands of small `.pt` files takes seconds; the cache holds both splits as contiguous
tensors in one file that loads memory-mapped in milliseconds. Two levels:

    <user cache>/sweeper/corpora-v1/<fingerprint>.pt     the data, named by its content hash
    <user cache>/sweeper/corpora-v1/keys/<stat key>      the fingerprint, for one directory state

The stat key hashes the directory's path, its text files' content and every listed `.pt` file's
name, size and mtime, so any edit misses the cache; the fingerprint hashes the content itself,
so identical data on another machine or path gets the same fingerprint (and reuses the file).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import platformdirs
import torch

from sweeper.atomic import write_atomically
from sweeper.data.layout import SPLITS, Layout
from sweeper.data.split import Split

FORMAT = "corpora-v1"  # bump when the cached file's contents change


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("sweeper")) / FORMAT


def stat_key(layout: Layout) -> str:
    digest = hashlib.sha256(str(layout.root.resolve()).encode())
    for path in layout.text_files():
        digest.update(f"\0{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for split in SPLITS:
        for utt in layout.utt_ids[split]:
            stat = layout.feature_stat(split, utt)
            digest.update(f"\0{split}/{utt}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def fingerprint(splits: dict[str, Split]) -> str:
    """A short hash of the data itself: utterance ids, lengths, features and labels."""
    digest = hashlib.sha256()
    for name, split in splits.items():
        digest.update(f"\0{name}\0{len(split.utt_ids)}\0".encode())
        digest.update("\n".join(split.utt_ids).encode())
        for tensor in (split.lengths, split.features, split.labels):
            # numpy arrays expose their buffer, so hashing copies nothing (numpy's stubs declare
            # that buffer only from Python 3.12, where PEP 688 made it visible to type checkers)
            digest.update(b"\0-" if tensor is None else tensor.contiguous().numpy())  # type: ignore[arg-type]
    return digest.hexdigest()[:16]


def load(key: str) -> tuple[str, dict[str, Split]] | None:
    """(fingerprint, splits) cached under `key`, or None when absent or unreadable."""
    try:
        fingerprint = (cache_dir() / "keys" / key).read_text().strip()
        # mmap: pages load on first touch and are shared by every worker process on the machine
        stored = torch.load(_data_path(fingerprint), weights_only=True, mmap=True)
        splits = {name: _split_from_dict(name, stored[name]) for name in SPLITS}
    except Exception:  # a missing, partial or foreign cache file is simply rebuilt
        return None
    return fingerprint, splits


def store(key: str, fingerprint: str, splits: dict[str, Split]) -> None:
    """Record `splits` under `key`; keys of the same content share one data file.

    The data file is rewritten even when present: a miss may mean it was damaged. A cache that
    cannot be written (read-only or full disk) only costs speed, so it warns.
    """
    stored = {name: _split_to_dict(split) for name, split in splits.items()}
    try:
        write_atomically(_data_path(fingerprint), lambda file: torch.save(stored, file))
        write_atomically(cache_dir() / "keys" / key, lambda file: file.write(fingerprint.encode()))
    except OSError as exc:
        warnings.warn(f"could not write the data cache in {cache_dir()}: {exc}", stacklevel=2)


def _data_path(fingerprint: str) -> Path:
    return cache_dir() / f"{fingerprint}.pt"


def _split_to_dict(split: Split) -> dict[str, Any]:
    return {
        "features": split.features,
        "labels": split.labels,
        "lengths": split.lengths,
        "utt_ids": list(split.utt_ids),
    }


def _split_from_dict(name: str, stored: dict[str, Any]) -> Split:
    lengths = stored["lengths"]
    return Split(
        name=name,
        features=stored["features"],
        labels=stored["labels"],
        offsets=torch.cumsum(lengths, 0) - lengths,
        lengths=lengths,
        utt_ids=tuple(stored["utt_ids"]),
    )
