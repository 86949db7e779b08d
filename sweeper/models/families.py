"""The three model families. Each returns raw logits: CrossEntropyLoss applies the softmax.

- `mlp`: the concatenated window (B, 39*n) -> blocks of Linear, BatchNorm1d, ReLU, Dropout -> 41.
- `rnn-window`: the window as an (n, 39) sequence -> (Bi)LSTM/GRU -> centre or last step -> head.
- `rnn-seq`: whole utterances (B, T, 39*n) plus lengths -> optional Conv1d -> (Bi)LSTM/GRU -> a
  per-frame head; logits (B, T, 41), zero at padded steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from functools import cached_property
from itertools import pairwise
from typing import cast

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sweeper.models.config import RunConfig
from sweeper.phones import FEATURE_DIM, NUM_CLASSES


def block(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(), nn.Dropout(dropout)
    )


class MLP(nn.Sequential):
    def __init__(self, cfg: RunConfig) -> None:
        widths = [FEATURE_DIM * cfg.n]
        widths += [max(1, round(cfg.hidden * cfg.taper**i)) for i in range(cfg.layers)]
        super().__init__(
            *(block(d_in, d_out, cfg.dropout) for d_in, d_out in pairwise(widths)),
            nn.Linear(widths[-1], NUM_CLASSES),
        )


def recurrent(cfg: RunConfig, d_in: int, layers: int, bidirectional: bool) -> nn.LSTM | nn.GRU:
    """A (Bi)LSTM/GRU stack: Xavier input weights, orthogonal recurrent ones, zero biases."""
    cell = nn.LSTM if cfg.cell == "lstm" else nn.GRU
    rnn = cell(
        d_in,
        cfg.hidden,
        num_layers=layers,
        batch_first=True,
        bidirectional=bidirectional,
        dropout=cfg.dropout if layers > 1 else 0.0,
    )
    for name, param in rnn.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(param)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(param)
        else:
            nn.init.zeros_(param)
    return rnn


def head(cfg: RunConfig) -> nn.Sequential:
    """RNN features -> LayerNorm, ReLU, Dropout -> `head_layers` blocks -> class logits."""
    d_rnn = cfg.hidden * (2 if cfg.bidirectional else 1)
    widths = [d_rnn] + [cfg.hidden] * cfg.head_layers
    return nn.Sequential(
        nn.LayerNorm(d_rnn),
        nn.ReLU(),
        nn.Dropout(cfg.dropout),
        *(block(d_in, d_out, cfg.dropout) for d_in, d_out in pairwise(widths)),
        nn.Linear(widths[-1], NUM_CLASSES),
    )


class WindowRNN(nn.Module):
    """Reads the n frames of a window as a sequence and classifies its centre frame."""

    def __init__(self, cfg: RunConfig) -> None:
        super().__init__()
        self.n, self.pool, self.hidden = cfg.n, cfg.pool, cfg.hidden
        self.rnn = recurrent(cfg, FEATURE_DIM, cfg.layers, cfg.bidirectional)
        self.head = head(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, _ = self.rnn(x.view(len(x), self.n, FEATURE_DIM))
        if self.pool == "centre":
            return self.head(steps[:, self.n // 2])
        # "last": each direction's final step, so a backward RNN has read the whole window too
        forward_last = steps[:, -1, : self.hidden]
        if not self.rnn.bidirectional:
            return self.head(forward_last)
        return self.head(torch.cat([forward_last, steps[:, 0, self.hidden :]], dim=1))


class SequenceRNN(nn.Module):
    """Reads whole utterances; each step's input is an n-frame window (n = 1: a single frame).

    Two ways to run the same weights, chosen by device (`fused`: None = cuDNN on CUDA only):
    - per layer and direction (CPU): packed sequences would keep padding out, but their
      backward pass ran 10x slower on CPU (measured: 2 x 128 BiLSTM, 16 utterances), so every
      layer runs over the padded batch: the forward direction reads padding only after an
      utterance's end, and the backward direction reads each utterance reversed within its
      own length.
    - fused (CUDA): the same weights as one multi-layer, bidirectional nn.LSTM/GRU over packed
      sequences, which cuDNN runs as one fused kernel (in float32 under bf16 autocast).
    The weights live in the per-layer modules either way, so a state_dict does not depend on
    the device it was trained on. Padding is zeroed before the Conv1d and never reaches the
    head, so an utterance's logits do not depend on its batch.
    """

    def __init__(self, cfg: RunConfig) -> None:
        super().__init__()
        d_in = FEATURE_DIM * cfg.n
        self.conv = (
            nn.Sequential(
                nn.Conv1d(d_in, cfg.conv_channels, cfg.conv_kernel, padding=cfg.conv_kernel // 2),
                nn.ReLU(),
            )
            if cfg.conv_channels
            else None
        )
        directions = 2 if cfg.bidirectional else 1
        d_ins = [cfg.conv_channels or d_in] + [cfg.hidden * directions] * (cfg.layers - 1)
        self.layers = nn.ModuleList(
            nn.ModuleList(recurrent(cfg, d, 1, False) for _ in range(directions)) for d in d_ins
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = head(cfg)
        self.fused: bool | None = None

    @property
    def rnns(self) -> list[list[nn.LSTM | nn.GRU]]:
        """Per layer, its forward RNN and (bidirectional) its backward one."""
        # what __init__ put in `layers`, which nn.ModuleList can only type as bare Modules
        layers = cast(Iterable[Iterable[nn.LSTM | nn.GRU]], self.layers)
        return [list(directions) for directions in layers]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = x.shape
        position = torch.arange(steps, device=x.device)
        real = position < lengths.to(x.device)[:, None]
        if self.conv is not None:
            x = self.conv((x * real[..., None]).transpose(1, 2)).transpose(1, 2)
        fused = x.is_cuda if self.fused is None else self.fused
        x = self._fused_layers(x, lengths) if fused else self._layer_by_layer(x, lengths, real)
        frames = self.head(x[real])
        return frames.new_zeros(batch, steps, frames.shape[-1]).index_put_((real,), frames)

    def _layer_by_layer(
        self, x: torch.Tensor, lengths: torch.Tensor, real: torch.Tensor
    ) -> torch.Tensor:
        position = torch.arange(x.shape[1], device=x.device)
        lengths = lengths.to(x.device)[:, None]
        # step t of the reversed utterance is step length-1-t; padded steps stay in place
        reverse = torch.where(real, lengths - 1 - position, position)
        for depth, directions in enumerate(self.rnns):
            if depth:
                x = self.dropout(x)
            outputs = [directions[0](x)[0]]
            if len(directions) == 2:
                outputs.append(_flip(directions[1](_flip(x, reverse))[0], reverse))
            x = torch.cat(outputs, dim=-1)
        return x

    def _fused_layers(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        device = x.device.type
        if torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.bfloat16:
            # autocast runs cuDNN's RNN in float16 whatever its dtype, and bf16 runs have no loss
            # scaling to keep float16 gradients from underflowing: the RNN stays float32 (TF32)
            with torch.autocast(device, enabled=False):
                return self._fused_layers(x.float(), lengths)
        fused = self._cudnn_twin.train(self.training)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        with warnings.catch_warnings():
            # lent weights are not one contiguous block: cuDNN copies them into one (cheap)
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            out, _ = functional_call(fused, self.cudnn_weights(), (packed,))
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]

    @cached_property
    def _cudnn_twin(self) -> nn.LSTM | nn.GRU:
        """A weightless (meta) multi-layer RNN in cuDNN's layout; functional_call lends it the
        weights. Kept out of the module tree: it holds no state of its own."""
        rnns = self.rnns
        first = rnns[0][0]
        return type(first)(
            first.input_size,
            first.hidden_size,
            num_layers=len(rnns),
            batch_first=True,
            bidirectional=len(rnns[0]) == 2,
            dropout=self.dropout.p if len(rnns) > 1 else 0.0,
            device="meta",
        )

    def cudnn_weights(self) -> dict[str, torch.Tensor]:
        """The weights under the names of one multi-layer (bidirectional) nn.LSTM/GRU."""
        return {
            name.replace("_l0", f"_l{depth}" + ("_reverse" if direction else "")): weight
            for depth, directions in enumerate(self.rnns)
            for direction, rnn in enumerate(directions)
            for name, weight in rnn.named_parameters()
        }


def _flip(x: torch.Tensor, reverse: torch.Tensor) -> torch.Tensor:
    return x.gather(1, reverse[..., None].expand_as(x))
