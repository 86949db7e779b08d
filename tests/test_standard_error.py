"""A trial's val accuracy comes with its standard error over val utterances."""

from __future__ import annotations

import math
from functools import partial

import torch

from sweeper.training.loop import train
from sweeper.training.standard_error import utterance_bootstrap_se
from tests.test_train import SMALL_MLP, clustered_split

fit = partial(train, threads=1)


def test_whole_utterances_right_or_wrong_give_a_utterance_level_error() -> None:
    """Frames of one utterance move together: 100 utterances of 100 frames, half of them all
    right, is worth 100 draws (se 0.05), not 10,000 independent frames (se 0.005)."""
    lengths = torch.full((100,), 100)
    hits = torch.repeat_interleave(torch.arange(100) % 2 == 0, lengths)
    se = utterance_bootstrap_se(hits, lengths)
    assert 0.04 < se < 0.06
    mixed = torch.arange(10_000) % 2 == 0  # every utterance half right: nothing to resample
    assert utterance_bootstrap_se(mixed, lengths) < 1e-9
    assert se == utterance_bootstrap_se(hits, lengths)  # the same draws every call
    assert math.isnan(utterance_bootstrap_se(hits[:100], lengths[:1]))


def test_every_epoch_reports_the_standard_error_of_its_val_acc() -> None:
    train_split, val = clustered_split("train", 60, seed=1), clustered_split("val", 40, seed=2)
    result = fit({**SMALL_MLP, "epochs": 2}, train_split, val)
    for stats in result.history:
        assert stats.val_acc_se is not None and 0 < stats.val_acc_se < 0.1
        assert stats.metrics()["val_acc_se"] == stats.val_acc_se  # an MLflow curve per trial
    # more val utterances, a smaller error
    wider = fit({**SMALL_MLP, "epochs": 2}, train_split, clustered_split("val", 400, seed=2))
    assert wider.history[-1].val_acc_se < result.history[-1].val_acc_se
