"""Length-bucketed sequence batches: seeded, every utterance once, little padding, still mixed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sweeper.data import SequenceBatches, Split, course_split, load_corpus
from sweeper.models.config import SEQUENCE_BATCH_SIZE
from tests.fixtures.libriphone import random_split


@pytest.fixture(scope="module")
def corpus_train(tiny_corpus: Path) -> Split:
    return course_split(load_corpus(tiny_corpus).train)[0]


def batches_of(split: Split, seed: int, epoch: int, **kwargs: object) -> list[list[int]]:
    batches = SequenceBatches(split, 1, SEQUENCE_BATCH_SIZE, shuffle=True, seed=seed, **kwargs)
    return [b.tolist() for b in batches.batch_order(epoch)]


def test_bucketed_epochs_are_a_pure_function_of_seed_and_epoch(corpus_train: Split) -> None:
    assert batches_of(corpus_train, 3, 1) == batches_of(corpus_train, 3, 1)
    assert batches_of(corpus_train, 3, 1) != batches_of(corpus_train, 3, 2)
    assert batches_of(corpus_train, 3, 1) != batches_of(corpus_train, 4, 1)


@pytest.mark.parametrize("batch_size", [1, 3, 16, 1000])
def test_every_utterance_once_per_epoch_in_len_batches(batch_size: int) -> None:
    # 5000 utterances: several sorting chunks, and a last batch shorter than the others
    lengths = torch.randint(1, 900, (5000,), generator=torch.Generator().manual_seed(0))
    split = random_split("train", lengths.tolist(), seed=0)
    batches = SequenceBatches(split, 1, batch_size, shuffle=True, seed=1)
    for epoch in range(2):
        order = batches.batch_order(epoch)
        assert len(order) == len(batches)
        assert sorted(torch.cat(order).tolist()) == list(range(5000))
        assert sum(len(b) != batch_size for b in order) <= 1


def test_batches_yield_each_utterance_with_its_own_frames(corpus_train: Split) -> None:
    assert corpus_train.labels is not None
    seen = 0
    batches = SequenceBatches(corpus_train, 1, SEQUENCE_BATCH_SIZE, shuffle=True, seed=0)
    for utterances, batch in zip(batches.batch_order(5), batches.epoch(5), strict=True):
        for row, utterance in enumerate(utterances.tolist()):
            start, length = int(corpus_train.offsets[utterance]), int(batch.lengths[row])
            assert length == int(corpus_train.lengths[utterance])
            assert torch.equal(batch.x[row, :length], corpus_train.features[start : start + length])
            assert torch.equal(batch.y[row, :length], corpus_train.labels[start : start + length])
            seen += length
    assert seen == corpus_train.num_frames


def test_buckets_cut_padding_below_the_bound_and_still_vary_neighbours(
    corpus_train: Split,
) -> None:
    # the default corpus's size (384 train utterances) with the tiny corpus's utterance lengths
    pick = torch.randint(
        0, corpus_train.num_utterances, (384,), generator=torch.Generator().manual_seed(0)
    )
    split = random_split("train", corpus_train.lengths[pick].tolist(), seed=0)
    bucketed = SequenceBatches(split, 1, SEQUENCE_BATCH_SIZE, shuffle=True, seed=0)
    shuffled = SequenceBatches(
        split, 1, SEQUENCE_BATCH_SIZE, shuffle=True, seed=0, length_buckets=False
    )
    for epoch in range(3):
        assert bucketed.padding_ratio(epoch) <= 1.15
        assert shuffled.padding_ratio(epoch) > 1.3
    # batch composition is still random: which utterances share a batch changes per epoch
    pairs = [
        {(a, b) for batch in batches_of(split, 0, epoch) for a in batch for b in batch}
        for epoch in range(2)
    ]
    assert pairs[0] != pairs[1]


def test_unshuffled_batches_keep_file_order(corpus_train: Split) -> None:
    batches = SequenceBatches(corpus_train, 1, 4, shuffle=False)
    assert torch.cat(batches.batch_order(0)).tolist() == list(range(corpus_train.num_utterances))
