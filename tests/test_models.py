"""Model families, parameter counting and width matching."""

from __future__ import annotations

import pytest
import torch

from sweeper.models import ConfigError, build_model, count_parameters, match_width, resolve_config

FRAME_CONFIGS = [
    {"family": "mlp", "n": 5, "layers": 2, "hidden": 16},
    {"family": "mlp", "n": 5, "layers": 3, "hidden": 32, "taper": 0.5},
    {"family": "rnn-window", "n": 5, "layers": 2, "hidden": 8, "pool": "centre"},
    {"family": "rnn-window", "n": 5, "hidden": 8, "cell": "gru", "pool": "last"},
    {"family": "rnn-window", "n": 5, "hidden": 8, "bidirectional": False, "head_layers": 0},
]
SEQUENCE_CONFIGS = [
    {"family": "rnn-seq", "n": 1, "layers": 2, "hidden": 8},
    {"family": "rnn-seq", "n": 3, "hidden": 8, "cell": "gru", "conv_channels": 12},
]


@pytest.mark.parametrize("config", FRAME_CONFIGS)
def test_frame_models_map_windows_to_class_logits(config: dict) -> None:
    model = build_model(config).eval()
    logits = model(torch.randn(7, 39 * config["n"]))
    assert logits.shape == (7, 41)
    # raw logits: CrossEntropyLoss applies the softmax, a second one would flatten the gradients
    assert not torch.allclose(logits.exp().sum(1), torch.ones(7))


@pytest.mark.parametrize("config", SEQUENCE_CONFIGS)
def test_sequence_model_gives_the_same_logits_whatever_the_padding(config: dict) -> None:
    torch.manual_seed(0)
    model = build_model(config).eval()
    short = torch.randn(1, 6, 39 * config["n"])
    batch = torch.randn(2, 11, 39 * config["n"]) * 5  # garbage in the padding must not leak
    batch[0, :6] = short[0]
    with torch.no_grad():
        alone = model(short, torch.tensor([6]))
        batched = model(batch, torch.tensor([6, 11]))
    assert batched.shape == (2, 11, 41)
    torch.testing.assert_close(batched[0, :6], alone[0], atol=1e-5, rtol=1e-5)
    assert batched[0, 6:].abs().max() == 0


@pytest.mark.parametrize("config", FRAME_CONFIGS + SEQUENCE_CONFIGS)
def test_count_parameters_matches_the_built_model(config: dict) -> None:
    built = sum(p.numel() for p in build_model(config).parameters())
    assert count_parameters(config) == built


def test_recurrent_weights_are_xavier_orthogonal_and_zero_biased() -> None:
    rnn = build_model({"family": "rnn-window", "n": 5, "hidden": 16}).rnn
    recurrent = rnn.weight_hh_l0  # (4 * hidden, hidden): orthonormal columns
    torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(16), atol=1e-4, rtol=0)
    assert all(bias.abs().max() == 0 for name, bias in rnn.named_parameters() if "bias" in name)


@pytest.mark.parametrize(
    ("family", "depths", "budgets"),
    [
        ("mlp", [1, 2, 3, 6, 12], [100_000, 1_000_000, 10_000_000]),
        ("rnn-window", [1, 2, 4], [1_000_000, 10_000_000]),
        ("rnn-seq", [1, 3], [1_000_000, 10_000_000]),
    ],
)
def test_matched_width_lands_within_one_percent_of_the_budget(
    family: str, depths: list[int], budgets: list[int]
) -> None:
    for layers in depths:
        for budget in budgets:
            config = {"family": family, "layers": layers, "n": 21}
            hidden = match_width(config, budget)
            count = count_parameters({**config, "hidden": hidden})
            assert abs(count - budget) <= 0.01 * budget, (layers, budget, hidden, count)


def test_deep_narrow_and_wide_shallow_pair_of_the_course_report() -> None:
    deep = {"family": "mlp", "n": 21, "layers": 6, "hidden": 1024}
    hidden = match_width({**deep, "layers": 2}, count_parameters(deep))
    assert 2000 < hidden < 2200  # about 2 x 2080 at n = 21
    assert match_width(deep, count_parameters(deep)) == 1024


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"hiden": 64}, "unknown key 'hiden' (did you mean 'hidden'?)"),
        ({"n": 4}, "n=4: must be odd"),
        ({"family": "cnn"}, "family='cnn'"),
        ({"dropout": 1.5}, "dropout=1.5"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^config: ") as error:
        resolve_config(config)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_keys_take_defaults_and_sequence_batches_count_utterances() -> None:
    assert resolve_config({}).family == "mlp"
    assert resolve_config({"family": "rnn-seq"}).batch_size < resolve_config({}).batch_size
