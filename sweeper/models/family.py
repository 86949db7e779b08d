"""What each model family needs around its module: the batches it trains on, how a batch
becomes per-frame logits, and how it reads one utterance when served.

Two kinds: frame families (`mlp`, `rnn-window`) classify one frame window at a time; `rnn-seq`
reads whole padded utterances and gives logits at every real step. The trainer and the served
program ask the family; neither branches on its name.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from sweeper.data import FrameBatches, SequenceBatch, SequenceBatches
from sweeper.data.split import Split
from sweeper.models.config import RunConfig, resolve_config
from sweeper.models.families import MLP, SequenceRNN, WindowRNN

# A frame family's batch: windows (B, 39*n) and their labels (B,), or None for unlabelled data.
FrameBatch = tuple[torch.Tensor, torch.Tensor | None]


class Family(Protocol):
    def build(self, cfg: RunConfig) -> nn.Module:
        """The untrained module."""
        ...

    def batches(
        self, cfg: RunConfig, split: Split, *, shuffle: bool, device: torch.device
    ) -> FrameBatches | SequenceBatches:
        """The batches the module reads, in `cfg`'s batch size."""
        ...

    def logits(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, Any]:
        """(logits (N, 41), labels (N,) or None) over the real frames of a batch."""
        ...

    def frames_in(self, batch: Any) -> int:
        """The real frames in a batch (padding excluded)."""
        ...

    def utterance_logits(self, model: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        """Logits (frames, 41) of one utterance's windows (frames, 39*n); traced for export,
        so free of data-dependent branches."""
        ...


class _Built:
    """A family's module class, built from a config."""

    def __init__(self, module: type[nn.Module]) -> None:
        self.module = module

    def build(self, cfg: RunConfig) -> nn.Module:
        return self.module(cfg)


class FrameFamily(_Built):
    """A module that maps a batch of windows (B, 39*n) to logits (B, 41)."""

    def batches(
        self, cfg: RunConfig, split: Split, *, shuffle: bool, device: torch.device
    ) -> FrameBatches:
        return FrameBatches(
            split, cfg.n, cfg.batch_size, shuffle=shuffle, seed=cfg.seed, device=device
        )

    def logits(self, model: nn.Module, batch: FrameBatch) -> tuple[torch.Tensor, Any]:
        x, y = batch
        return model(x), y

    def frames_in(self, batch: FrameBatch) -> int:
        return len(batch[0])

    def utterance_logits(self, model: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        return model(windows)


class SequenceFamily(_Built):
    """A module that maps padded utterances (B, T, 39*n) and their lengths to (B, T, 41)."""

    def batches(
        self, cfg: RunConfig, split: Split, *, shuffle: bool, device: torch.device
    ) -> SequenceBatches:
        return SequenceBatches(
            split,
            cfg.n,
            cfg.batch_size,
            shuffle=shuffle,
            seed=cfg.seed,
            device=device,
            length_buckets=cfg.length_buckets,
        )

    def logits(self, model: nn.Module, batch: SequenceBatch) -> tuple[torch.Tensor, Any]:
        logits = model(batch.x, batch.lengths)[batch.mask]
        return logits, None if batch.y is None else batch.y[batch.mask]

    def frames_in(self, batch: SequenceBatch) -> int:
        return int(batch.lengths.sum())

    def utterance_logits(self, model: nn.Module, windows: torch.Tensor) -> torch.Tensor:
        lengths = torch.full((1,), windows.shape[0], dtype=torch.int64, device=windows.device)
        return model(windows.unsqueeze(0), lengths)[0]


FAMILY: dict[str, Family] = {
    "mlp": FrameFamily(MLP),
    "rnn-window": FrameFamily(WindowRNN),
    "rnn-seq": SequenceFamily(SequenceRNN),
}


def family_of(config: dict[str, Any] | RunConfig) -> Family:
    return FAMILY[resolve_config(config).family]


def build_model(config: dict[str, Any] | RunConfig) -> nn.Module:
    """The untrained model a config describes (defaults fill missing keys)."""
    cfg = resolve_config(config)
    return FAMILY[cfg.family].build(cfg)
