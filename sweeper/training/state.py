"""What a training checkpoint holds, and how a run is put back exactly where it stopped.

A run writes its checkpoint after every epoch and, inside an epoch, when it stops there (its
caller's stop, an interruption) and every few minutes, so that a kill -9 loses at most those.
Resumed from either, it ends as an uninterrupted run would, to the last bit on CPU: the
checkpoint restores the weights, the optimiser, the scheduler, the grad scaler, torch's random
state (dropout draws from it) and the epoch's running sums, and training goes on at the batch
it stopped before. The batch order needs no saved generator: it is a pure function of (seed,
epoch) (sweeper.data.batches), so the count of batches done is the place in it. Nothing in a
run draws from numpy's or Python's global generators, so they are not saved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sweeper.models import RunConfig, resolve_config
from sweeper.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_checkpoint,
    save_checkpoint,
)

# A run that trains for long writes a checkpoint at least this often, inside an epoch too.
CHECKPOINT_EVERY_S = 300.0


@dataclass(frozen=True)
class EpochStats:
    """What `on_epoch` hears after every epoch (and what `TrainResult.history` lists)."""

    epoch: int  # 1-based
    train_loss: float  # the training objective, averaged over the epoch's frames
    train_acc: float  # measured while training (dropout on), as the course notebooks do
    val_loss: float  # plain cross entropy, so configs with smoothing or weights compare
    val_acc: float  # frame accuracy over every real val frame
    epoch_seconds: float  # training plus validation
    lr: float  # at the epoch's first step
    gpu_memory_peak_mb: float | None = None  # since the run started; None off CUDA
    # val_acc's standard error over val utterances (sweeper.training.standard_error); None in the
    # checkpoints of sweeper versions that did not measure it
    val_acc_se: float | None = None

    def metrics(self) -> dict[str, float]:
        """The per-epoch MLflow metrics (step = `epoch`)."""
        return {k: v for k, v in asdict(self).items() if k != "epoch" and v is not None}


@dataclass(frozen=True)
class BatchProgress:
    """What `on_progress` hears after every batch: how far the epoch under way is."""

    epoch: int  # 1-based
    done: int  # batches of the epoch's batch order done, those before a resume included
    total: int
    seconds: float  # spent training this epoch so far, before a resume included


@dataclass
class EpochUnderWay:
    """The epoch being trained: its place in the batch order, and its running sums."""

    index: int  # 0-based: the epochs done before it
    lr: float  # at its first step
    loss_sum: torch.Tensor  # of the training objective over the epoch's frames so far
    correct: torch.Tensor
    frames: int = 0
    batches: int = 0  # of the batch order, done (those skipped for one frame included)
    started: float = field(default_factory=time.perf_counter)  # less the time before a resume
    # inside an optimiser step, where an interruption may leave the weights half updated
    stepping: bool = False

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def state(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "lr": self.lr,
            "loss_sum": self.loss_sum.cpu(),
            "correct": self.correct.cpu(),
            "frames": self.frames,
            "batches": self.batches,
            "seconds": self.seconds(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device) -> EpochUnderWay:
        return cls(
            index=state["index"],
            lr=state["lr"],
            loss_sum=state["loss_sum"].to(device),
            correct=state["correct"].to(device),
            frames=state["frames"],
            batches=state["batches"],
            started=time.perf_counter() - state["seconds"],
        )


class RunState:
    """A run's parts that its checkpoint holds, and its record of epochs so far."""

    def __init__(
        self,
        cfg: RunConfig,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        scaler: torch.amp.GradScaler,
        device: torch.device,
    ) -> None:
        self.cfg, self.model, self.optimizer = cfg, model, optimizer
        self.scheduler, self.scaler, self.device = scheduler, scaler, device
        self.history: list[EpochStats] = []
        self.best_epoch = 0
        self.best_weights = cpu_copy(model)
        self.under_way: EpochUnderWay | None = None

    def begin_epoch(self) -> EpochUnderWay:
        """The epoch to train now: a new one, or the rest of the one a checkpoint stopped in."""
        if self.under_way is None:
            self.under_way = EpochUnderWay(
                index=len(self.history),
                lr=self.optimizer.param_groups[0]["lr"],
                loss_sum=torch.zeros((), device=self.device),
                correct=torch.zeros((), dtype=torch.int64, device=self.device),
            )
        return self.under_way

    def end_epoch(self, stats: EpochStats) -> None:
        self.history.append(stats)
        if self.best_epoch == 0 or stats.val_acc > self.history[self.best_epoch - 1].val_acc:
            self.best_epoch, self.best_weights = stats.epoch, cpu_copy(self.model)
        self.under_way = None

    def state(self) -> dict[str, Any]:
        cuda = self.device.type == "cuda"
        return {
            "config": self.cfg.model_dump(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "history": [asdict(s) for s in self.history],
            "best_epoch": self.best_epoch,
            "best_model": self.best_weights,
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
            "under_way": None if self.under_way is None else self.under_way.state(),
        }

    def restore(self, state: dict[str, Any], directory: Path) -> None:
        if state["config"] != self.cfg.model_dump():
            raise CheckpointError(f"{directory}: the checkpoint there is for a different config")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.history = [EpochStats(**stats) for stats in state["history"]]
        self.best_epoch, self.best_weights = state["best_epoch"], state["best_model"]
        torch.set_rng_state(state["rng"])
        if self.device.type == "cuda" and state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        under_way = state.get("under_way")  # absent from the checkpoints of earlier versions
        if under_way is not None:
            self.under_way = EpochUnderWay.from_state(under_way, self.device)


class Checkpoints:
    """Where, and how often inside an epoch, a run writes its checkpoint; nothing without a
    directory. `on_write` hears of each one written (to copy it elsewhere, say)."""

    def __init__(
        self,
        directory: Path | None,
        every: float | None = CHECKPOINT_EVERY_S,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        self.directory, self.every, self.on_write = directory, every, on_write
        self.written = time.monotonic()

    def resume(self, run: RunState) -> None:
        """Put `run` where the directory's checkpoint left it, if there is one."""
        if self.directory is not None and (state := load_checkpoint(self.directory)) is not None:
            run.restore(state, self.directory)

    def due(self) -> bool:
        """Whether the periodic mid-epoch checkpoint is due."""
        return self.every is not None and time.monotonic() - self.written >= self.every

    def write(self, run: RunState) -> bool:
        """Write `run`'s checkpoint; whether there is a directory to write it to."""
        if self.directory is None:
            return False
        save_checkpoint(self.directory, run.state())
        self.written = time.monotonic()
        if self.on_write is not None:
            self.on_write()
        return True


@dataclass(frozen=True)
class ResumePoint:
    """Where a run of a config would resume from a checkpoint directory."""

    history: list[EpochStats]  # the epochs done
    batches: int  # of the next epoch's batch order, done (0: it starts afresh)


def resume_point(checkpoint_dir: Path, config: dict[str, Any]) -> ResumePoint:
    """Where a run of `config` with `checkpoint_dir` would resume (nowhere: no checkpoint). A
    checkpoint that cannot serve `config` (unreadable, or another config's) is removed, so the
    run starts afresh rather than failing."""
    try:
        state = load_checkpoint(checkpoint_dir)
    except CheckpointError:
        state = None
        remove_checkpoint(checkpoint_dir)
    if state is not None and state["config"] != resolve_config(config).model_dump():
        remove_checkpoint(checkpoint_dir)
        state = None
    if state is None:
        return ResumePoint([], 0)
    under_way = state.get("under_way")
    return ResumePoint(
        [EpochStats(**stats) for stats in state["history"]],
        0 if under_way is None else under_way["batches"],
    )


def resumable_history(checkpoint_dir: Path, config: dict[str, Any]) -> list[EpochStats]:
    """The epochs a run of `config` with `checkpoint_dir` would resume after (see resume_point)."""
    return resume_point(checkpoint_dir, config).history


def cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}
