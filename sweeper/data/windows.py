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
    features: torch.Tensor, frames: torch.Tensor, before: torch.Tensor, after: torch.Tensor, n: int
) -> torch.Tensor:
    """Windows of `n` frames centred on `frames` (any shape) of contiguous `features`.

    `before` and `after` (shaped like `frames`) count the frames between each frame and its
    utterance's first and last frame. Returns float32 (*frames.shape, n * features.shape[1]).
    """
    k = n // 2
    shape, width = frames.shape, features.shape[1]
    frames, before, after = frames.reshape(-1), before.reshape(-1), after.reshape(-1)
    if len(features) < n:  # no run of n rows exists: every window reaches an utterance edge
        windows = _gather_clamped(features, frames, before, after, n)
    else:
        # a window inside its utterance is n consecutive rows of the contiguous features, copied
        # as one run (about a quarter faster than row by row); edge windows are then redone
        runs = features.as_strided((len(features) - n + 1, n * width), (width, 1))
        windows = runs.index_select(0, (frames - k).clamp_(0, len(runs) - 1))
        edges = (torch.minimum(before, after) < k).nonzero().squeeze(1)
        clamped = _gather_clamped(features, frames[edges], before[edges], after[edges], n)
        windows.index_copy_(0, edges, clamped)
    return windows.view(*shape, n * width)


def _gather_clamped(
    features: torch.Tensor, frames: torch.Tensor, before: torch.Tensor, after: torch.Tensor, n: int
) -> torch.Tensor:
    """Windows of 1-D `frames`, row by row, the indices clamped to each frame's utterance."""
    k = n // 2
    steps = torch.arange(-k, k + 1, device=frames.device)
    offsets = torch.maximum(torch.minimum(steps, after.unsqueeze(1)), -before.unsqueeze(1))
    index = frames.unsqueeze(1) + offsets
    return features.index_select(0, index.view(-1)).view(len(frames), n * features.shape[1])
