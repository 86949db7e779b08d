"""`Split`: one split of a corpus held as a single contiguous frame tensor plus utterance bounds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Split:
    """Frames of many utterances, concatenated in utterance order.

    features: float32 (frames, 39), contiguous.
    labels:   int64 (frames,), or None for an unlabelled split (the real test set).
    offsets:  int64 (utterances,), the first frame of each utterance in `features`.
    lengths:  int64 (utterances,), frames per utterance; offsets[i] + lengths[i] == offsets[i+1].
    utt_ids:  utterance ids, in the same order.
    """

    name: str
    features: torch.Tensor
    labels: torch.Tensor | None
    offsets: torch.Tensor
    lengths: torch.Tensor
    utt_ids: tuple[str, ...]

    @classmethod
    def from_utterances(
        cls,
        name: str,
        utt_ids: Sequence[str],
        features: Sequence[torch.Tensor],
        labels: Sequence[torch.Tensor] | None,
    ) -> Split:
        """Concatenate per-utterance (frames, 39) features and (frames,) labels into one Split."""
        lengths = torch.tensor([len(f) for f in features], dtype=torch.int64)
        return cls(
            name=name,
            features=torch.cat(list(features)).to(torch.float32).contiguous(),
            labels=None if labels is None else torch.cat(list(labels)).to(torch.int64),
            offsets=torch.cumsum(lengths, 0) - lengths,
            lengths=lengths,
            utt_ids=tuple(utt_ids),
        )

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_utterances(self) -> int:
        return len(self.utt_ids)

    def select(self, utterances: list[int], name: str | None = None) -> Split:
        """A new Split holding the given utterances (by position), in the given order."""
        index = torch.as_tensor(utterances, dtype=torch.int64)
        lengths = self.lengths[index]
        offsets = torch.zeros_like(lengths)
        if len(lengths) > 1:
            offsets[1:] = torch.cumsum(lengths, 0)[:-1]
        starts = self.offsets[index]
        # frame k of the new split comes from starts[u] + (k - offsets[u]) of the old one
        owner = torch.repeat_interleave(torch.arange(len(index)), lengths)
        frames = starts[owner] + torch.arange(int(lengths.sum())) - offsets[owner]
        return Split(
            name=name or self.name,
            features=self.features[frames].contiguous(),
            labels=None if self.labels is None else self.labels[frames].contiguous(),
            offsets=offsets,
            lengths=lengths.clone(),
            utt_ids=tuple(self.utt_ids[i] for i in utterances),
        )
