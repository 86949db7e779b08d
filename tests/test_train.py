"""The trainer: determinism, resume, stopping, schedules, prediction order, failure modes."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

from sweeper.data.split import Split
from sweeper.models import ConfigError
from sweeper.training import (
    DeviceError,
    EpochStats,
    NonFiniteLossError,
    predict,
    select_device,
    train,
)
from sweeper.training.checkpoint import CheckpointError

# one thread each: two pytest workers on two cores must not oversubscribe them
fit = partial(train, threads=1)

SMALL_MLP = {"family": "mlp", "n": 3, "layers": 2, "hidden": 32, "batch_size": 128}
SMALL_SEQ = {"family": "rnn-seq", "n": 1, "hidden": 16, "conv_channels": 8, "batch_size": 4}


def clustered_split(name: str, utterances: int, seed: int) -> Split:
    """Frames scattered around one centre per class: learnable, yet far from trivial."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(10, 40, (utterances,), generator=generator)
    labels = torch.randint(0, 41, (int(lengths.sum()),), generator=generator)
    centres = torch.randn(41, 39, generator=torch.Generator().manual_seed(0))
    features = centres[labels] + 1.5 * torch.randn(len(labels), 39, generator=generator)
    offsets = torch.cumsum(lengths, 0) - lengths
    ids = tuple(f"{name}-{i}" for i in range(utterances))
    return Split(name, features, labels, offsets, lengths, ids)


@pytest.fixture(scope="module")
def splits() -> tuple[Split, Split]:
    return clustered_split("train", 60, seed=1), clustered_split("val", 12, seed=2)


class Interrupted(Exception):
    pass


def test_same_config_and_seed_give_the_same_run(splits: tuple[Split, Split]) -> None:
    config = {**SMALL_MLP, "epochs": 2, "dropout": 0.3}
    first, second = (fit(config, *splits) for _ in range(2))
    assert [s.val_acc for s in first.history] == pytest.approx(
        [s.val_acc for s in second.history], abs=1e-6
    )
    assert [s.train_loss for s in first.history] == [s.train_loss for s in second.history]
    other_seed = fit({**config, "seed": 1}, *splits)
    assert other_seed.history[0].train_loss != first.history[0].train_loss


@pytest.mark.parametrize("config", [SMALL_MLP, SMALL_SEQ])
def test_resumed_run_ends_exactly_like_an_uninterrupted_one(
    config: dict, splits: tuple[Split, Split], tmp_path: Path
) -> None:
    config = {**config, "epochs": 4, "dropout": 0.3, "scheduler": "warm_restarts", "t0": 1}
    uninterrupted = fit(config, *splits)

    def crash_reporting_epoch_three(stats: EpochStats) -> None:
        if stats.epoch == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        fit(config, *splits, on_epoch=crash_reporting_epoch_three, checkpoint_dir=tmp_path)
    heard: list[int] = []
    resumed = fit(
        config, *splits, on_epoch=lambda s: heard.append(s.epoch), checkpoint_dir=tmp_path
    )

    assert heard == [3, 4]  # epoch 3 was never reported, so it runs again: no report is lost
    assert [(s.train_loss, s.val_acc, s.lr) for s in resumed.history] == [
        (s.train_loss, s.val_acc, s.lr) for s in uninterrupted.history
    ]
    assert resumed.best_epoch == uninterrupted.best_epoch
    for name, value in uninterrupted.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, atol=0, rtol=0)


def test_finished_checkpoint_resumes_without_training(
    splits: tuple[Split, Split], tmp_path: Path
) -> None:
    config = {**SMALL_MLP, "epochs": 1}
    first = fit(config, *splits, checkpoint_dir=tmp_path)
    again = fit(config, *splits, checkpoint_dir=tmp_path, on_epoch=pytest.fail)
    assert again.history == first.history
    with pytest.raises(CheckpointError, match="different config"):
        fit({**config, "lr": 0.1}, *splits, checkpoint_dir=tmp_path)


def test_model_returned_holds_the_best_epoch_and_predicts_in_file_order(
    splits: tuple[Split, Split],
) -> None:
    _, val = splits
    result = fit({**SMALL_MLP, "epochs": 3, "scheduler": "onecycle"}, *splits)
    predictions = predict(result.model, SMALL_MLP, val)
    assert predictions.shape == (val.num_frames,)
    accuracy = (predictions == val.labels).double().mean().item()
    assert accuracy == pytest.approx(result.best_val_acc, abs=1e-9)
    assert result.best_val_acc == max(s.val_acc for s in result.history)


def test_padding_changes_neither_sequence_accuracy_nor_predictions(
    splits: tuple[Split, Split],
) -> None:
    _, val = splits
    result = fit({**SMALL_SEQ, "epochs": 2}, *splits)
    one_at_a_time = predict(result.model, {**SMALL_SEQ, "batch_size": 1}, val)
    padded = predict(result.model, {**SMALL_SEQ, "batch_size": 5}, val)
    assert torch.equal(one_at_a_time, padded)
    accuracy = (padded == val.labels).double().mean().item()
    assert accuracy == pytest.approx(result.best_val_acc, abs=1e-9)


def test_exploding_loss_stops_with_its_own_error(splits: tuple[Split, Split]) -> None:
    config = {**SMALL_MLP, "epochs": 3, "optimizer": "sgd", "lr": 1e6}
    with pytest.raises(NonFiniteLossError, match="non-finite loss in epoch 1"):
        fit(config, *splits)


def test_patience_stops_once_val_acc_stalls(splits: tuple[Split, Split]) -> None:
    # a learning rate this small leaves val_acc where the first epoch put it
    result = fit({**SMALL_MLP, "epochs": 6, "lr": 1e-12, "patience": 2}, *splits)
    assert (result.epochs_run, result.best_epoch) == (3, 1)


def test_on_epoch_returning_true_ends_the_run_keeping_its_best_epoch(
    splits: tuple[Split, Split],
) -> None:
    # a limit on time, as the sweep's: stop after the second of six epochs
    result = fit({**SMALL_MLP, "epochs": 6}, *splits, on_epoch=lambda stats: stats.epoch == 2)
    assert result.epochs_run == 2 and len(result.history) == 2
    assert result.best_val_acc == max(s.val_acc for s in result.history)


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        ("none", [1.0, 1.0, 1.0, 1.0]),
        ("cosine", [1.0, 0.854, 0.5, 0.146]),
        ("warm_restarts", [1.0, 0.5, 1.0, 0.5]),
    ],
)
def test_learning_rate_follows_the_schedule_epoch_by_epoch(
    scheduler: str, expected: list[float], splits: tuple[Split, Split]
) -> None:
    config = {**SMALL_MLP, "epochs": 4, "lr": 1.0, "optimizer": "sgd", "clip": 1.0}
    config |= {"scheduler": scheduler, "t0": 2, "t_mult": 1, "layers": 1, "hidden": 4}
    result = fit(config, *splits)
    assert [s.lr for s in result.history] == pytest.approx(expected, abs=1e-3)


def test_loss_options_change_the_training_objective_only(splits: tuple[Split, Split]) -> None:
    plain = fit({**SMALL_MLP, "epochs": 1}, *splits)
    smoothed = fit({**SMALL_MLP, "epochs": 1, "label_smoothing": 0.2}, *splits)
    weighted = fit({**SMALL_MLP, "epochs": 1, "class_weighted": True}, *splits)
    assert smoothed.history[0].train_loss > plain.history[0].train_loss
    assert weighted.history[0].train_loss != plain.history[0].train_loss


def test_thread_count_holds_for_the_run_only(splits: tuple[Split, Split]) -> None:
    before = torch.get_num_threads()
    during: list[int] = []
    train(
        {**SMALL_MLP, "epochs": 1},
        *splits,
        threads=before + 1,
        on_epoch=lambda _: during.append(torch.get_num_threads()),
    )
    assert during == [before + 1]
    assert torch.get_num_threads() == before


def test_user_mistakes_are_one_line_errors(splits: tuple[Split, Split]) -> None:
    with pytest.raises(DeviceError, match="cuda:99"):
        select_device("cuda:99")
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        fit({"epoch": 3}, *splits)
    assert select_device("cpu").type == "cpu"


SMALL_WINDOW = {"family": "rnn-window", "n": 3, "layers": 1, "hidden": 16, "batch_size": 128}


@pytest.mark.parametrize("config", [SMALL_MLP, SMALL_WINDOW], ids=lambda c: c["family"])
def test_a_last_batch_of_one_frame_does_not_break_batchnorm(
    config: dict, splits: tuple[Split, Split]
) -> None:
    train_split, val_split = splits
    frames = train_split.num_frames
    # a batch size that leaves exactly one frame for the epoch's last batch; both families'
    # blocks hold BatchNorm (rnn-window's in its head, head_layers=1 by default)
    result = fit({**config, "epochs": 1, "batch_size": frames - 1}, train_split, val_split)
    assert result.epochs_run == 1 and result.history[0].train_acc > 0


@pytest.mark.parametrize("batch_size", [1, 3])
def test_a_sequence_batch_of_one_single_frame_utterance_does_not_break_batchnorm(
    batch_size: int, splits: tuple[Split, Split]
) -> None:
    train_split, val_split = splits
    # four utterances, the last of one frame: with one utterance per batch, that utterance is a
    # batch of one frame; with three per batch, the epoch's last batch holds one utterance,
    # which is the one-frame one in some epochs
    lengths = [12, 20, 9, 1]
    pieces = train_split.features[: sum(lengths)].split(lengths)
    labels = train_split.labels[: sum(lengths)].split(lengths)
    tiny = Split.from_utterances("train", [f"u{i}" for i in range(4)], pieces, labels)
    # random batches: length buckets would always pair the one-frame utterance with others
    config = {**SMALL_SEQ, "conv_channels": 0, "epochs": 4, "batch_size": batch_size}
    result = fit({**config, "length_buckets": False}, tiny, val_split)
    assert result.epochs_run == 4 and all(s.train_acc > 0 for s in result.history)
