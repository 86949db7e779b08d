"""Frame windows by index arithmetic: the (frames, 39*n) matrix is never built.

The window of frame t is frames t-k .. t+k (n = 2k+1) of the same utterance, indices clamped to
the utterance so its first and last frames repeat at the edges, flattened with frame t-k first:
the course sample code's concatenation, gathered per batch from the contiguous feature tensor.
"""

from __future__ import annotations

import torch


def check_window(n: int) -> None:
    if n < 1 or n % 2 == 0:
        raise ValueError(f"the window size n must be a positive odd number, got {n}")


def gather_windows(
    features: torch.Tensor, frames: torch.Tensor, first: torch.Tensor, last: torch.Tensor, n: int
) -> torch.Tensor:
    """Windows of `n` frames centred on `frames` (any shape), clamped to [first, last].

    `first` and `last` bound each frame's utterance (shapes broadcastable to `frames`).
    Returns float32 (*frames.shape, n * features.shape[1]).
    """
    k = n // 2
    steps = torch.arange(-k, k + 1, device=frames.device)
    index = (frames.unsqueeze(-1) + steps).clamp_(first.unsqueeze(-1), last.unsqueeze(-1))
    # index_select on a flat index is faster than advanced indexing with a 2-D one
    windows = features.index_select(0, index.view(-1))
    return windows.view(*frames.shape, n * features.shape[1])
