"""Batch iterators over a Split: seeded, on the training device, tensor arithmetic only.

`FrameBatches` yields frame windows (for frame classifiers); `SequenceBatches` yields padded
whole utterances (for sequence models), shuffled in buckets of similar length. Both move the
split to the device once; every batch is gathered there from index tensors, with no per-frame
Python work.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from sweeper.data.split import Split
from sweeper.data.windows import check_window, gather_windows

CHUNK_BYTES = 4 * 2**20
# Length buckets: utterances are shuffled, then sorted by length in runs of this many batches'
# worth, each length jittered by up to this fraction so that batch neighbours change between
# epochs. Default corpus, 16 utterances a batch: padded/real steps 1.74x in random batches,
# about 1.1x bucketed (benchmarks/train_step.py measures it).
BUCKET_BATCHES = 64
BUCKET_JITTER = 0.1


class _Batches:
    def __init__(
        self,
        split: Split,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        check_window(n)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.device = torch.device(device)
        self.num_frames = split.num_frames
        self.num_utterances = split.num_utterances
        self.cpu_lengths = split.lengths
        # contiguous: gather_windows copies a window's rows as one run of memory
        self.features = split.features.to(self.device).contiguous()
        self.labels = None if split.labels is None else split.labels.to(self.device)
        self.offsets = split.offsets.to(self.device)
        self.lengths = split.lengths.to(self.device)

    def _order(self, count: int, epoch: int) -> torch.Tensor:
        """0..count-1 (on the CPU), permuted as a pure function of (seed, epoch) when shuffling."""
        if not self.shuffle:
            return torch.arange(count)
        return torch.from_numpy(np.random.default_rng((self.seed, epoch)).permutation(count))


class FrameBatches(_Batches):
    """Batches of (x, y): x float32 (B, 39*n) windows, y int64 (B,) centre labels or None.

    `len()` is batches per epoch; shuffle=False gives every frame in file order (prediction).
    """

    def __len__(self) -> int:
        return -(-self.num_frames // self.batch_size)

    @cached_property
    def _room(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames between each frame and its utterance's first and last frame (int32: 5% of
        the features' memory, and cheaper per batch than looking the utterance up)."""
        before = torch.arange(self.num_frames, dtype=torch.int32, device=self.device)
        before -= torch.repeat_interleave(self.offsets.int(), self.lengths)
        after = torch.repeat_interleave(self.lengths.int() - 1, self.lengths)
        after -= before
        return before, after

    def epoch(
        self, epoch: int, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """The batches of `epoch` from its batch number `start` on (a resumed epoch's rest)."""
        before, after = self._room
        # windows of several batches are gathered at once and handed out as slices: fewer,
        # larger tensor ops (a fifth faster at n=11), memory still bounded by CHUNK_BYTES
        window_bytes = self.batch_size * self.n * self.features.shape[1] * 4
        chunk = self.batch_size * max(1, CHUNK_BYTES // window_bytes)
        order = self._order(self.num_frames, epoch)[start * self.batch_size :]
        for frames in order.to(self.device).split(chunk):
            room_before, room_after = before.index_select(0, frames), after.index_select(0, frames)
            x = gather_windows(self.features, frames, room_before, room_after, self.n)
            y = None if self.labels is None else self.labels.index_select(0, frames)
            for start in range(0, len(frames), self.batch_size):
                batch = slice(start, start + self.batch_size)
                yield x[batch], None if y is None else y[batch]


@dataclass(frozen=True)
class SequenceBatch:
    """A batch of whole utterances, padded to the longest.

    x: float32 (B, T, 39*n), zero on padding. y: int64 (B, T), -100 on padding (the
    ignore_index of CrossEntropyLoss), or None when unlabelled. lengths: int64 (B,) on the CPU,
    as pack_padded_sequence wants. mask: bool (B, T), True on real steps.
    """

    x: torch.Tensor
    y: torch.Tensor | None
    lengths: torch.Tensor
    mask: torch.Tensor


class SequenceBatches(_Batches):
    """Batches of `batch_size` whole utterances; each step is an n-frame window (n=1: a frame).

    `len()` is batches per epoch; shuffle=False keeps file order. Shuffled epochs are length
    bucketed unless `length_buckets=False` (random batches, padded to their longest).
    """

    def __init__(
        self,
        split: Split,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        device: str | torch.device = "cpu",
        length_buckets: bool = True,
    ) -> None:
        super().__init__(split, n, batch_size, shuffle=shuffle, seed=seed, device=device)
        self.length_buckets = length_buckets

    def __len__(self) -> int:
        return -(-self.num_utterances // self.batch_size)

    def batch_order(self, epoch: int) -> list[torch.Tensor]:
        """The utterance indices (CPU int64) of each batch of `epoch`: a pure function of
        (seed, epoch) when shuffling; every utterance exactly once."""
        if not (self.shuffle and self.length_buckets):
            return list(self._order(self.num_utterances, epoch).split(self.batch_size))
        rng = np.random.default_rng((self.seed, epoch))
        lengths = self.cpu_lengths.numpy()
        order = rng.permutation(self.num_utterances)
        batches: list[np.ndarray] = []
        # a multiple of batch_size: only the epoch's last chunk can end in a short batch
        chunk = self.batch_size * BUCKET_BATCHES
        for start in range(0, self.num_utterances, chunk):
            part = order[start : start + chunk]
            jitter = rng.uniform(1 - BUCKET_JITTER, 1 + BUCKET_JITTER, len(part))
            part = part[np.argsort(lengths[part] * jitter, kind="stable")]
            batches += np.split(part, range(self.batch_size, len(part), self.batch_size))
        return [torch.from_numpy(batches[i]) for i in rng.permutation(len(batches))]

    def padding_ratio(self, epoch: int = 0) -> float:
        """Padded steps per real step over the batches of `epoch` (1.0: no padding)."""
        steps = sum(len(b) * int(self.cpu_lengths[b].max()) for b in self.batch_order(epoch))
        return steps / max(1, self.num_frames)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]:
        """The batches of `epoch` from its batch number `start` on (a resumed epoch's rest)."""
        for utterances in self.batch_order(epoch)[start:]:
            lengths = self.cpu_lengths[utterances]
            on_device = utterances.to(self.device)
            first = self.offsets[on_device].unsqueeze(1)
            steps = torch.arange(int(lengths.max()), device=self.device)
            mask = steps < self.lengths[on_device].unsqueeze(1)
            last = first + self.lengths[on_device].unsqueeze(1) - 1
            # steps past an utterance's end point at its last frame, then are masked out
            frames = torch.minimum(first + steps, last)
            x = gather_windows(self.features, frames, frames - first, last - frames, self.n)
            x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
            y = None if self.labels is None else self.labels[frames].masked_fill(~mask, -100)
            yield SequenceBatch(x=x, y=y, lengths=lengths, mask=mask)
