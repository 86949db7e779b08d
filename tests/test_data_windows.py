"""Frame windows and batch iteration, checked against an obviously-correct Python loop."""

from __future__ import annotations

import pytest
import torch

from sweeper.data import FrameBatches, SequenceBatches, Split
from sweeper.phones import FEATURE_DIM
from tests.fixtures.libriphone import random_split

# lengths shorter than every n tried, of one frame, and long ones
LENGTHS = [1, 7, 2, 40, 1, 13, 3, 25, 5]


def reference_windows(split: Split, n: int) -> tuple[torch.Tensor, list[int]]:
    """(frames, 39*n) windows and the centre frame of each, one frame at a time."""
    k = n // 2
    rows, centres = [], []
    for start, length in zip(split.offsets.tolist(), split.lengths.tolist(), strict=True):
        for t in range(length):
            picks = [start + min(max(t + d, 0), length - 1) for d in range(-k, k + 1)]
            rows.append(torch.cat([split.features[p] for p in picks]))
            centres.append(start + t)
    return torch.stack(rows), centres


def indexed_split(lengths: list[int]) -> Split:
    """A split whose frame f holds f * 39 + 0..38, so a window shows which frames it took."""
    frames = sum(lengths)
    features = torch.arange(frames * FEATURE_DIM, dtype=torch.float32).view(frames, FEATURE_DIM)
    return Split.from_utterances(
        "train",
        [f"u{i}" for i in range(len(lengths))],
        features.split(lengths),
        torch.arange(frames).split(lengths),
    )


@pytest.mark.parametrize("n", [1, 3, 11, 201])
def test_frame_windows_in_file_order_match_the_reference(n: int) -> None:
    split = random_split("train", LENGTHS, seed=n)
    expected, centres = reference_windows(split, n)

    batches = FrameBatches(split, n, batch_size=16, shuffle=False)
    xs, ys = zip(*batches.epoch(0), strict=True)

    assert len(batches) == len(xs) == -(-split.num_frames // 16)
    assert torch.equal(torch.cat(xs), expected)
    assert split.labels is not None
    assert torch.equal(torch.cat(ys), split.labels[centres])


@pytest.mark.parametrize("batches_per_gather", [1, 3])
def test_batches_are_the_same_however_many_are_gathered_at_once(
    monkeypatch: pytest.MonkeyPatch, batches_per_gather: int
) -> None:
    chunk_bytes = batches_per_gather * 16 * 11 * FEATURE_DIM * 4
    monkeypatch.setattr("sweeper.data.batches.CHUNK_BYTES", chunk_bytes)
    split = random_split("train", LENGTHS, seed=4)

    xs = [x for x, _ in FrameBatches(split, 11, batch_size=16, shuffle=False).epoch(0)]

    assert [len(x) for x in xs] == [16] * 6 + [1]
    assert torch.equal(torch.cat(xs), reference_windows(split, 11)[0])


@pytest.mark.parametrize("n", [5, 41])
def test_shuffled_epoch_covers_every_frame_once_with_its_own_window(n: int) -> None:
    split = indexed_split(LENGTHS)
    expected, _ = reference_windows(split, n)
    centre = slice(n // 2 * FEATURE_DIM, n // 2 * FEATURE_DIM + 1)

    for x, y in FrameBatches(split, n, batch_size=8, shuffle=True, seed=3).epoch(1):
        frames = (x[:, centre].squeeze(1) / FEATURE_DIM).long()
        assert torch.equal(x, expected[frames])
        assert torch.equal(y, frames)  # the label of frame f is f here

    seen = torch.cat([y for _, y in FrameBatches(split, n, 8, shuffle=True, seed=3).epoch(1)])
    assert sorted(seen.tolist()) == list(range(split.num_frames))
    assert seen.tolist() != list(range(split.num_frames))


def frame_order(batches: FrameBatches, epoch: int) -> list[int]:
    return torch.cat([y for _, y in batches.epoch(epoch)]).tolist()


def test_shuffle_order_is_a_pure_function_of_seed_and_epoch() -> None:
    split = indexed_split(LENGTHS)
    one = FrameBatches(split, 3, batch_size=10, shuffle=True, seed=5)
    again = FrameBatches(split, 3, batch_size=10, shuffle=True, seed=5)
    other_seed = FrameBatches(split, 3, batch_size=10, shuffle=True, seed=6)

    assert frame_order(one, 2) == frame_order(again, 2)
    assert frame_order(one, 2) == frame_order(one, 2)  # re-iterating an epoch repeats it
    assert frame_order(one, 2) != frame_order(one, 3)
    assert frame_order(one, 2) != frame_order(other_seed, 2)


def test_unlabelled_split_gives_no_labels_in_file_order() -> None:
    split = random_split("test", LENGTHS, seed=1, labelled=False)
    batches = list(FrameBatches(split, 11, batch_size=32, shuffle=False).epoch(0))

    assert all(y is None for _, y in batches)
    assert torch.equal(torch.cat([x for x, _ in batches]), reference_windows(split, 11)[0])


@pytest.mark.parametrize("n", [1, 5, 25, 201])
def test_sequence_batches_pad_whole_utterances_of_windows(n: int) -> None:
    split = random_split("train", LENGTHS, seed=n)
    expected, _ = reference_windows(split, n)
    assert split.labels is not None

    batches = SequenceBatches(split, n, batch_size=4, shuffle=False, device=torch.device("cpu"))
    seen = []
    for batch in batches.epoch(0):
        longest = int(batch.lengths.max())
        assert batch.x.shape == (len(batch.lengths), longest, FEATURE_DIM * n)
        assert batch.lengths.device.type == "cpu"
        for row, length in enumerate(batch.lengths.tolist()):
            utterance = len(seen)
            start = int(split.offsets[utterance])
            assert length == int(split.lengths[utterance])
            assert torch.equal(batch.x[row, :length], expected[start : start + length])
            assert torch.equal(batch.y[row, :length], split.labels[start : start + length])
            assert not batch.x[row, length:].any()
            assert (batch.y[row, length:] == -100).all()
            assert batch.mask[row].tolist() == [True] * length + [False] * (longest - length)
            seen.append(length)
    assert len(batches) == 3
    assert seen == LENGTHS


def test_sequence_batches_shuffle_utterances_per_epoch_and_handle_unlabelled() -> None:
    split = random_split("test", LENGTHS, seed=2, labelled=False)

    def order(seed: int, epoch: int) -> list[int]:
        batches = SequenceBatches(split, 1, batch_size=3, shuffle=True, seed=seed)
        lengths = []
        for batch in batches.epoch(epoch):
            assert batch.y is None
            lengths += batch.lengths.tolist()
        return lengths

    assert sorted(order(0, 0)) == sorted(LENGTHS)
    assert order(0, 0) == order(0, 0)
    assert {tuple(order(0, e)) for e in range(4)} != {tuple(order(0, 0))}


@pytest.mark.parametrize("n", [0, 4, -1])
def test_even_or_non_positive_window_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="odd"):
        FrameBatches(random_split("train", [3], seed=0), n, batch_size=4, shuffle=False)
