"""The two ways rnn-seq runs its weights (layer by layer on CPU, fused cuDNN-style on CUDA)
compute one function, so a model trained on either device loads and predicts on the other."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sweeper.models import build_model, resolve_config
from sweeper.models.families import SequenceRNN
from sweeper.training.loop import frame_logits, make_batches, make_optimizer, predict
from tests.test_train import clustered_split

LENGTHS = torch.tensor([13, 5, 9, 1, 13, 2])
CONFIGS = [
    {"cell": "lstm", "bidirectional": True, "layers": 3},
    {"cell": "lstm", "bidirectional": False, "layers": 2},
    {"cell": "gru", "bidirectional": True, "layers": 2},
    {"cell": "gru", "bidirectional": False, "layers": 1},
    {"cell": "lstm", "bidirectional": True, "layers": 1, "conv_channels": 6},
]


def sequence_model(config: dict) -> SequenceRNN:
    torch.manual_seed(0)
    # no dropout, so training-mode passes are deterministic; double, so "equal" can be tight
    model = build_model({"family": "rnn-seq", "n": 3, "hidden": 8, "dropout": 0.0, **config})
    assert isinstance(model, SequenceRNN)
    return model.double().train()


def padded_batch() -> torch.Tensor:
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), 39 * 3, dtype=torch.float64)
    x[torch.arange(x.shape[1]) >= LENGTHS[:, None]] = 7.0  # garbage in the padding
    return x


def run(model: SequenceRNN, fused: bool, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    model.fused = fused
    model.zero_grad()
    x = x.clone().requires_grad_()
    logits = model(x, LENGTHS)
    (logits * torch.linspace(-1, 1, 41, dtype=x.dtype)).square().sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    assert x.grad is not None
    return logits.detach(), {**grads, "input": x.grad.clone()}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_fused_and_layer_by_layer_paths_give_the_same_outputs_and_gradients(
    config: dict,
) -> None:
    model, x = sequence_model(config), padded_batch()
    logits, grads = run(model, False, x)
    fused_logits, fused_grads = run(model, True, x)

    torch.testing.assert_close(fused_logits, logits, rtol=1e-9, atol=1e-10)
    assert fused_logits[torch.arange(x.shape[1]) >= LENGTHS[:, None]].abs().max() == 0
    assert grads.keys() == fused_grads.keys()
    for name in grads:
        assert grads[name].abs().max() > 0, name  # every weight takes part in both paths
        torch.testing.assert_close(fused_grads[name], grads[name], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("config", CONFIGS[:4], ids=lambda c: "-".join(map(str, c.values())))
def test_cudnn_weights_load_into_one_multilayer_rnn_that_matches(config: dict) -> None:
    model, x = sequence_model(config), padded_batch()
    cell = nn.LSTM if config["cell"] == "lstm" else nn.GRU
    reference = cell(
        39 * 3,
        8,
        num_layers=config["layers"],
        bidirectional=config["bidirectional"],
        batch_first=True,
    ).double()
    reference.load_state_dict(model.cudnn_weights())  # strict: every name maps, none left over

    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    steps, _ = pad_packed_sequence(reference(packed)[0], batch_first=True)
    real = torch.arange(x.shape[1]) < LENGTHS[:, None]
    model.fused = False
    expected = model.head(steps[real])
    torch.testing.assert_close(model(x, LENGTHS)[real], expected, rtol=1e-9, atol=1e-10)


def test_a_model_trained_on_the_fused_path_predicts_the_same_on_the_other() -> None:
    train_split, val_split = clustered_split("train", 24, seed=1), clustered_split("val", 6, seed=2)
    config = {"family": "rnn-seq", "n": 1, "hidden": 8, "layers": 2, "batch_size": 4}
    cfg = resolve_config(config)
    torch.manual_seed(0)
    trained = build_model(cfg)
    assert isinstance(trained, SequenceRNN)
    trained.fused = True  # as on CUDA
    optimizer = make_optimizer(cfg, trained)
    before = {name: p.detach().clone() for name, p in trained.named_parameters()}
    for batch in make_batches(cfg, train_split, shuffle=True, device=torch.device("cpu")).epoch(0):
        logits, y = frame_logits(cfg, trained, batch)
        optimizer.zero_grad()
        nn.functional.cross_entropy(logits, y).backward()
        optimizer.step()
    assert all(not torch.equal(p, before[name]) for name, p in trained.named_parameters())
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)

    loaded = build_model(config)
    loaded.load_state_dict(torch.load(buffer, weights_only=True))  # the same names either way
    assert isinstance(loaded, SequenceRNN) and loaded.fused is None  # CPU: layer by layer
    assert torch.equal(predict(loaded, config, val_split), predict(trained, config, val_split))
