"""Stopping inside an epoch loses nothing: a stop between batches (a caller's hook, a real
SIGTERM) or a crash leaves a checkpoint at its batch, and the resumed run ends with the very
weights of an uninterrupted one, to the last bit on CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import torch

from sweeper.data.split import Split
from sweeper.training import (
    BatchProgress,
    EpochStats,
    TrainingStopped,
    TrainResult,
    resume_point,
    train,
)
from sweeper.training.checkpoint import load_checkpoint
from tests.test_train import SMALL_MLP, SMALL_SEQ, clustered_split

REPO = Path(__file__).resolve().parent.parent
fit = partial(train, threads=1)  # one thread: two pytest workers share two cores
# dropout draws from torch's generator and the schedule steps every batch: both must resume
# where they stopped for the weights to match
RESUMABLE = {"epochs": 3, "dropout": 0.3, "scheduler": "warm_restarts", "t0": 1}
CONFIGS = [
    {**SMALL_MLP, **RESUMABLE},
    {**SMALL_SEQ, **RESUMABLE},
    {"family": "rnn-window", "n": 3, "hidden": 16, "batch_size": 128, **RESUMABLE},
]


@pytest.fixture(scope="module")
def splits() -> tuple[Split, Split]:
    return clustered_split("train", 60, seed=1), clustered_split("val", 12, seed=2)


def assert_same_run(resumed: TrainResult, uninterrupted: TrainResult) -> None:
    def figures(result: TrainResult) -> list[tuple[float, ...]]:
        return [(s.train_loss, s.train_acc, s.val_loss, s.val_acc, s.lr) for s in result.history]

    assert figures(resumed) == figures(uninterrupted)
    assert resumed.best_epoch == uninterrupted.best_epoch
    weights, expected = resumed.model.state_dict(), uninterrupted.model.state_dict()
    assert weights.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(weights[name], value), name


def stop_at(
    epoch: int, batch: int, reason: str
) -> tuple[Callable[[BatchProgress], None], Callable[[], str | None]]:
    """(on_progress, should_stop) that stop a run once `batch` of `epoch` is done."""
    heard: list[tuple[int, int]] = []

    def on_progress(progress: BatchProgress) -> None:
        heard.append((progress.epoch, progress.done))

    def should_stop() -> str | None:
        return reason if heard[-1] == (epoch, batch) else None

    return on_progress, should_stop


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c["family"])
def test_a_run_stopped_between_batches_resumes_there_and_ends_bit_identical(
    config: dict, splits: tuple[Split, Split], tmp_path: Path
) -> None:
    uninterrupted = fit(config, *splits)
    on_progress, should_stop = stop_at(2, 3, "time budget")
    with pytest.raises(TrainingStopped, match="time budget") as stopped:
        fit(
            config,
            *splits,
            on_progress=on_progress,
            should_stop=should_stop,
            checkpoint_dir=tmp_path,
        )
    assert (stopped.value.progress.epoch, stopped.value.progress.done) == (2, 3)
    assert stopped.value.checkpointed
    point = resume_point(tmp_path, config)
    assert ([s.epoch for s in point.history], point.batches) == ([1], 3)

    heard_batches: list[tuple[int, int]] = []
    heard_epochs: list[int] = []
    resumed = fit(
        config,
        *splits,
        on_progress=lambda p: heard_batches.append((p.epoch, p.done)),
        on_epoch=lambda s: heard_epochs.append(s.epoch),
        checkpoint_dir=tmp_path,
    )
    assert heard_batches[0] == (2, 4)  # on at the batch after the last one done
    assert heard_epochs == [2, 3]
    assert_same_run(resumed, uninterrupted)


def test_progress_counts_every_batch_of_the_epoch_in_order(splits: tuple[Split, Split]) -> None:
    heard: list[BatchProgress] = []
    fit({**SMALL_MLP, "epochs": 2}, *splits, on_progress=heard.append)
    total = heard[0].total
    assert total == -(-splits[0].num_frames // SMALL_MLP["batch_size"])
    assert [(p.epoch, p.done) for p in heard] == [
        (epoch, done) for epoch in (1, 2) for done in range(1, total + 1)
    ]
    assert all(p.total == total for p in heard)
    seconds = [p.seconds for p in heard[:total]]
    assert seconds == sorted(seconds) and seconds[0] > 0


def test_the_periodic_checkpoint_is_written_inside_an_epoch_without_a_stop(
    splits: tuple[Split, Split], tmp_path: Path
) -> None:
    config = CONFIGS[0]
    uninterrupted = fit(config, *splits)

    class PowerCut(Exception):
        """A crash that leaves no chance to write, as a kill -9."""

    def cut_at_batch_six_of_epoch_two(progress: BatchProgress) -> None:
        if (progress.epoch, progress.done) == (2, 6):
            raise PowerCut

    for every, kept in ((3600.0, 0), (0.0, 5)):
        directory = tmp_path / str(every)
        with pytest.raises(PowerCut):
            fit(
                config,
                *splits,
                on_progress=cut_at_batch_six_of_epoch_two,
                checkpoint_dir=directory,
                checkpoint_every=every,
            )
        # every hour: only epoch 1's checkpoint; every batch: the one after batch 5
        point = resume_point(directory, config)
        assert ([s.epoch for s in point.history], point.batches) == ([1], kept)
        assert_same_run(fit(config, *splits, checkpoint_dir=directory), uninterrupted)


CHILD = textwrap.dedent(
    """
    import contextlib, json, os, signal, sys, time
    from pathlib import Path

    from sweeper.process.signals import deferred, exit_status, stop_on_signals
    from sweeper.training import train
    from tests.test_train import clustered_split

    config, directory, mode = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    splits = clustered_split("train", 60, seed=1), clustered_split("val", 12, seed=2)
    signal_in_next_step = False

    def on_progress(progress):
        global signal_in_next_step
        if (progress.epoch, progress.done) == (2, 3):
            if mode == "mid-step":
                signal_in_next_step = True
            else:
                print("in epoch 2", flush=True)
        if progress.epoch == 2:
            time.sleep(0.1)  # the parent's signal lands in this epoch

    @contextlib.contextmanager
    def guard():
        global signal_in_next_step
        with deferred():
            if signal_in_next_step:
                signal_in_next_step = False
                os.kill(os.getpid(), signal.SIGTERM)  # arrives as the optimiser step begins
            yield

    stop_on_signals()
    try:
        train(config, *splits, on_progress=on_progress, batch_guard=guard,
              checkpoint_dir=directory, threads=1)
    except KeyboardInterrupt as exc:
        sys.exit(exit_status(exc))
    sys.exit(0)
    """
)


@pytest.mark.parametrize("mode", ["from-the-parent", "mid-step"])
def test_a_real_sigterm_inside_an_epoch_keeps_its_batch_and_resumes_bit_identical(
    mode: str, splits: tuple[Split, Split], tmp_path: Path
) -> None:
    config = CONFIGS[0]
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    directory = tmp_path / "checkpoint"
    child = subprocess.Popen(
        [sys.executable, str(script), json.dumps(config), str(directory), mode],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if mode == "from-the-parent":
        assert child.stdout is not None
        assert child.stdout.readline() == "in epoch 2\n"
        child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, stderr

    state = load_checkpoint(directory)
    assert state is not None and state["under_way"] is not None, "no mid-epoch checkpoint"
    total = -(-splits[0].num_frames // config["batch_size"])
    position = state["under_way"]["index"] + 1, state["under_way"]["batches"]
    if mode == "mid-step":
        # the signal waited for the step it landed in: batch 4 is done, and nothing after it
        assert position == (2, 4)
    else:
        assert position[0] == 2 and 3 <= position[1] < total, position
    assert_same_run(fit(config, *splits, checkpoint_dir=directory), fit(config, *splits))


def test_an_epoch_boundary_checkpoint_of_an_earlier_version_still_resumes(
    splits: tuple[Split, Split], tmp_path: Path
) -> None:
    # checkpoints written before mid-epoch resumes hold no "under_way" entry
    config = CONFIGS[0]

    def crash_in_epoch_two(stats: EpochStats) -> None:
        if stats.epoch == 2:
            state = load_checkpoint(tmp_path)  # epoch 1's
            assert state is not None
            del state["under_way"]
            torch.save(state, tmp_path / "checkpoint.pt")
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        fit(config, *splits, on_epoch=crash_in_epoch_two, checkpoint_dir=tmp_path)
    assert_same_run(fit(config, *splits, checkpoint_dir=tmp_path), fit(config, *splits))
