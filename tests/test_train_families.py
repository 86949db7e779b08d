"""Every model family learns the tiny synthetic corpus, read the way real data is read."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sweeper.data import Split, course_split, load_corpus
from sweeper.training.loop import predict, train

FAST = {"lr": 1e-2, "hidden": 64, "layers": 2, "n": 5, "batch_size": 256, "epochs": 2}


@pytest.fixture(scope="module")
def course(tiny_corpus: Path) -> tuple[Split, Split]:
    return course_split(load_corpus(tiny_corpus).train)


@pytest.mark.parametrize(
    "config",
    [
        {**FAST, "family": "mlp"},
        {**FAST, "family": "rnn-window", "hidden": 32, "layers": 1},
        {**FAST, "family": "rnn-seq", "hidden": 32, "layers": 1, "n": 1, "batch_size": 2},
    ],
    ids=lambda config: config["family"],
)
def test_family_learns_well_above_chance(config: dict, course: tuple[Split, Split]) -> None:
    train_split, val = course
    assert val.labels is not None
    result = train(config, train_split, val, threads=1)
    majority = torch.bincount(val.labels).max().item() / val.num_frames
    assert result.best_val_acc > majority + 0.15  # silence alone is a fifth of the frames
    predictions = predict(result.model, config, val)
    assert predictions.shape == (val.num_frames,)
    assert (predictions == val.labels).double().mean().item() == pytest.approx(result.best_val_acc)
