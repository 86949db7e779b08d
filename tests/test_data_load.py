"""Loading a LibriPhone directory: the data read back, the cache, and the fingerprint."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from sweeper.data import load_corpus
from sweeper.data.split import Split
from tests.fixtures.libriphone import random_split


def read_pt_files(root: Path, split: str) -> list[torch.Tensor]:
    ids = (root / f"{split}_split.txt").read_text().split()
    return [torch.load(root / "feat" / split / f"{utt}.pt") for utt in ids]


def cache_files(cache: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in cache.rglob("*") if path.is_file()}


def assert_same_data(a: Split, b: Split) -> None:
    assert a.utt_ids == b.utt_ids
    assert torch.equal(a.features, b.features)
    assert torch.equal(a.lengths, b.lengths)
    assert torch.equal(a.offsets, b.offsets)
    assert (a.labels is None) == (b.labels is None)
    if a.labels is not None:
        assert torch.equal(a.labels, b.labels)


def test_load_reads_every_utterance_in_split_file_order(libriphone: Path, data_cache: Path) -> None:
    corpus = load_corpus(libriphone)

    train_ids = tuple((libriphone / "train_split.txt").read_text().split())
    assert corpus.train.utt_ids == train_ids
    assert torch.equal(corpus.train.features, torch.cat(read_pt_files(libriphone, "train")))
    label_lines = dict(
        line.split(maxsplit=1)
        for line in (libriphone / "train_labels.txt").read_text().splitlines()
    )
    expected_labels = [int(v) for utt in train_ids for v in label_lines[utt].split()]
    assert corpus.train.labels is not None
    assert corpus.train.labels.tolist() == expected_labels
    assert corpus.train.lengths.tolist() == [30, 1, 12, 45, 7, 60, 3, 25, 18, 40]
    assert corpus.train.offsets.tolist()[:3] == [0, 30, 31]
    assert corpus.train.features.dtype == torch.float32
    assert corpus.train.features.is_contiguous()
    assert corpus.test.labels is None
    assert corpus.test.num_frames == 20 + 1 + 33 + 9
    assert corpus.metadata is None
    assert len(corpus.fingerprint) == 16


def test_test_labels_and_corpus_json_are_read_when_present(
    make_libriphone: Callable[..., Path], data_cache: Path
) -> None:
    metadata = {"generator": "sweeper-synth 1", "seed": 7, "voices": ["en-us+m3"]}
    root = make_libriphone([5, 6], [4, 3], test_labels=True, metadata=metadata)

    corpus = load_corpus(root)

    assert corpus.metadata == metadata
    assert corpus.test.labels is not None
    assert corpus.test.labels.tolist() == random_split("test", [4, 3], 1).labels.tolist()


def test_second_load_uses_the_cache_without_reading_pt_files(
    libriphone: Path, data_cache: Path
) -> None:
    first = load_corpus(libriphone)
    cached = cache_files(data_cache)
    # damage a feature file but keep its size and mtime: only a reader of the .pt would notice
    victim = libriphone / "feat" / "train" / f"{first.train.utt_ids[0]}.pt"
    stat = victim.stat()
    victim.write_bytes(b"\0" * stat.st_size)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    second = load_corpus(libriphone)

    assert second.fingerprint == first.fingerprint
    assert_same_data(second.train, first.train)
    assert_same_data(second.test, first.test)
    assert cache_files(data_cache) == cached  # nothing rewritten
    assert not [p for p in data_cache.rglob(".*")]  # no temporary files left behind


def test_changed_label_gives_new_fingerprint_and_new_labels(
    libriphone: Path, data_cache: Path
) -> None:
    before = load_corpus(libriphone)
    labels_file = libriphone / "train_labels.txt"
    utt, first_label, rest = labels_file.read_text().split(" ", 2)
    new_label = (int(first_label) + 1) % 41
    labels_file.write_text(f"{utt} {new_label} {rest}")

    after = load_corpus(libriphone)

    assert after.fingerprint != before.fingerprint
    assert after.train.labels is not None
    assert int(after.train.labels[0]) == new_label


def test_rewritten_pt_gives_new_fingerprint_and_new_features(
    libriphone: Path, data_cache: Path
) -> None:
    before = load_corpus(libriphone)
    utt = before.test.utt_ids[2]
    replacement = torch.full((33, 39), 0.5)
    torch.save(replacement, libriphone / "feat" / "test" / f"{utt}.pt")

    after = load_corpus(libriphone)

    assert after.fingerprint != before.fingerprint
    start = int(after.test.offsets[2])
    assert torch.equal(after.test.features[start : start + 33], replacement)
    assert torch.equal(after.train.features, before.train.features)


def test_identical_data_elsewhere_has_the_same_fingerprint_and_shares_the_cache(
    libriphone: Path, tmp_path: Path, data_cache: Path
) -> None:
    first = load_corpus(libriphone)
    copy = shutil.copytree(libriphone, tmp_path / "copy")  # new path and mtimes, same content

    second = load_corpus(copy)

    assert second.fingerprint == first.fingerprint
    assert_same_data(second.train, first.train)
    assert len(list(data_cache.rglob("*.pt"))) == 1


def test_damaged_cache_file_is_rebuilt(libriphone: Path, data_cache: Path) -> None:
    first = load_corpus(libriphone)
    (data_file,) = data_cache.rglob("*.pt")
    data_file.write_bytes(b"truncated")

    second = load_corpus(libriphone)

    assert_same_data(second.train, first.train)
    assert data_file.stat().st_size > 1000


def test_unwritable_cache_only_warns(
    libriphone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_dir = tmp_path / "cache-is-a-file"
    not_a_dir.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_dir))

    with pytest.warns(UserWarning, match="could not write the data cache"):
        corpus = load_corpus(libriphone)

    assert corpus.train.num_utterances == 10


def test_writer_refuses_an_existing_directory_and_leaves_nothing(
    libriphone: Path, make_libriphone: Callable[..., Path]
) -> None:
    with pytest.raises(FileExistsError):
        make_libriphone([3], [3])
    assert sorted(p.name for p in libriphone.parent.iterdir()) == ["libriphone"]
