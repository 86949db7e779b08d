"""How far a val accuracy would move on other utterances: the bootstrap over utterances.

The frames of one utterance share a speaker, a text and a channel, so they are not independent
draws: a binomial standard error over frames would be several times too small. Resampling whole
utterances with replacement keeps that dependence.
"""

from __future__ import annotations

import torch

DRAWS = 1_000


def utterance_bootstrap_se(hits: torch.Tensor, lengths: torch.Tensor, draws: int = DRAWS) -> float:
    """The standard error of frame accuracy. `hits`: bool (frames,), one per frame in utterance
    order; `lengths`: frames per utterance. The same draws every call (seed 0), so a value and
    its error read back the same after a resume."""
    utterances = len(lengths)
    if utterances < 2:
        return float("nan")
    owner = torch.repeat_interleave(torch.arange(utterances), lengths.cpu())
    correct = torch.zeros(utterances, dtype=torch.float64).index_add_(
        0, owner, hits.cpu().to(torch.float64)
    )
    frames = lengths.cpu().to(torch.float64)
    picks = torch.randint(
        utterances, (draws, utterances), generator=torch.Generator().manual_seed(0)
    )
    return (correct[picks].sum(1) / frames[picks].sum(1)).std().item()
