"""The promoted model as a self-contained program: one utterance's features in, logits out.

Every family is wrapped behind one plain signature, float32 (frames, 39) -> (frames, 41), so a
registered model is used the same way whatever it is: no window size, no lengths, no sweeper
code. `export_classifier` turns the wrapper into a `torch.export` program, which MLflow stores
in its pickle-free `pt2` format and loads with torch alone (MLflow refuses pickled models
unless MLFLOW_ALLOW_PICKLE_DESERIALIZATION is set).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.export._patches import (
    register_gru_while_loop_decomposition,
    register_lstm_while_loop_decomposition,
)

from sweeper.models import family_of, resolve_config
from sweeper.phones import FEATURE_DIM

# Long enough that no dimension of the example is mistaken for a constant by the exporter.
_EXAMPLE_FRAMES = 7


class UtteranceClassifier(nn.Module):
    """Per-frame class logits (frames, 41) of one utterance's features (frames, 39)."""

    def __init__(self, model: nn.Module, config: dict[str, Any]) -> None:
        super().__init__()
        cfg = resolve_config(config)
        self.model = model
        self.n = cfg.n
        self.family = family_of(cfg)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # The course's clamped windows, written branch-free: the training batches' gather
        # takes data-dependent shortcuts that an exported program cannot hold.
        frames = features.shape[0]
        k = self.n // 2
        offsets = torch.arange(-k, k + 1, device=features.device)
        index = (torch.arange(frames, device=features.device)[:, None] + offsets).clamp(
            0, frames - 1
        )
        windows = features[index].reshape(frames, self.n * FEATURE_DIM)
        return self.family.utterance_logits(self.model, windows)


def example_features(frames: int = _EXAMPLE_FRAMES) -> torch.Tensor:
    """A deterministic utterance-shaped input, used to trace the model and as MLflow's example."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(frames, FEATURE_DIM, generator=generator)


def export_classifier(model: nn.Module, config: dict[str, Any]) -> nn.Module:
    """The trained `model` as an exported program on the CPU, any number of frames >= 1.

    Strict (Dynamo) tracing keeps the batch size symbolic where eager code takes `len(x)`;
    the while-loop RNN decompositions keep the number of steps symbolic instead of unrolling
    the recurrence for the example's length.
    """
    wrapper = UtteranceClassifier(model.cpu(), config).eval()
    frames = torch.export.Dim("frames", min=1)
    with (
        _rnn_as_loops(),
        _utterance_has_frames(model),
        warnings.catch_warnings(),
    ):
        # RNN modules re-assign their flat weights while traced, and the traced size checks
        # use a deprecated spelling: harmless, and nothing the user can act on
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        program = torch.export.export(
            wrapper,
            (example_features(),),
            dynamic_shapes=({0: frames},),
            strict=True,
            prefer_deferred_runtime_asserts_over_guards=True,
        )
    return program.module()


@contextmanager
def _rnn_as_loops() -> Iterator[None]:
    with register_lstm_while_loop_decomposition(), register_gru_while_loop_decomposition():
        yield


@contextmanager
def _utterance_has_frames(model: nn.Module) -> Iterator[None]:
    """rnn-seq selects an utterance's real frames with a mask, a count the exporter cannot
    bound; one utterance always has at least one, which the head's BatchNorm needs to know."""
    head = getattr(model, "head", None)
    if head is None:
        yield
        return

    def at_least_one_frame(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        torch._check(args[0].shape[0] >= 1)

    handle = head.register_forward_pre_hook(at_least_one_frame)
    try:
        yield
    finally:
        handle.remove()
