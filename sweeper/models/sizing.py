"""Parameter counts, and the width that brings a family and depth to a parameter budget.

The deep-vs-shallow comparison needs models of equal size: `match_width` finds the `hidden`
whose parameter count is closest to the budget. Counting builds the model on the meta device,
so even a 100M-parameter config is counted in milliseconds without allocating its weights.
"""

from __future__ import annotations

from typing import Any

import torch

from sweeper.models.config import ConfigError, RunConfig, resolve_config
from sweeper.models.family import build_model


def count_parameters(config: dict[str, Any] | RunConfig) -> int:
    """Trainable parameters of the model `config` describes."""
    with torch.device("meta"):
        model = build_model(config)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def match_width(config: dict[str, Any] | RunConfig, budget: int) -> int:
    """The `hidden` (all other keys as given) whose parameter count is closest to `budget`."""
    if budget < 1:
        raise ConfigError(f"parameter budget must be positive, got {budget}")
    cfg = resolve_config(config)

    def count(hidden: int) -> int:
        return count_parameters(cfg.model_copy(update={"hidden": hidden}))

    # the count grows with width: double to bracket the budget, then bisect
    low, high = 1, 2
    while count(high) < budget:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < budget else (low, middle)
    return min((low, high), key=lambda hidden: abs(count(hidden) - budget))
