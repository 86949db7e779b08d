"""The exported model of every family predicts what the trained model predicts in training."""

from __future__ import annotations

import pytest
import torch

from sweeper.data.split import Split
from sweeper.models import build_model, resolve_config
from sweeper.promote.predictions import predict_utterances
from sweeper.promote.servable import export_classifier
from sweeper.training.loop import frame_logits, make_batches
from tests.fixtures.libriphone import random_split

CONFIGS = {
    "mlp": {"family": "mlp", "n": 5, "layers": 2, "hidden": 16},
    "rnn-window": {"family": "rnn-window", "n": 5, "hidden": 8, "pool": "last", "cell": "gru"},
    "rnn-seq": {"family": "rnn-seq", "n": 3, "layers": 2, "hidden": 8, "conv_channels": 4},
}


@torch.no_grad()
def logits_in_file_order(model: torch.nn.Module, config: dict, split: Split) -> torch.Tensor:
    """Every frame's logits, from the batches the trainer builds (not shuffled)."""
    cfg = resolve_config(config)
    batches = make_batches(cfg, split, shuffle=False, device=torch.device("cpu"))
    return torch.cat([frame_logits(cfg, model, batch)[0] for batch in batches.epoch(0)])


@pytest.mark.filterwarnings("ignore:_check_is_size:FutureWarning")  # the program's own checks
@pytest.mark.parametrize("family", CONFIGS)
def test_the_exported_program_matches_the_trained_model(family: str) -> None:
    config = CONFIGS[family]
    torch.manual_seed(0)
    model = build_model(config).train()
    # a pass in training mode gives BatchNorm running statistics other than the identity
    logits_in_file_order(model, config, random_split("warm-up", [40] * 4, seed=3))
    model.eval()
    # utterances shorter than the window (1 and 2 frames) exercise the clamped edges
    split = random_split("test", [1, 2, 9, 30], seed=4, labelled=False)
    expected = logits_in_file_order(model, config, split)

    program = export_classifier(model, config)
    bounds = zip(split.offsets.tolist(), split.lengths.tolist(), strict=True)
    logits = torch.cat([program(split.features[start : start + n]) for start, n in bounds])
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-4)
    assert torch.equal(predict_utterances(program, split), expected.argmax(1))
