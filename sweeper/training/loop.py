"""One training run from a plain config dict; the whole loop is in `train`, nanoGPT style.

Knows nothing of Optuna or MLflow: the caller hears about every epoch through `on_epoch`, which
may raise to abandon the run (the trial layer raises optuna.TrialPruned; it propagates
unchanged), or return True to end it there, keeping its best epoch (a time limit). Inside an
epoch it hears of every batch through `on_progress`, and `should_stop` may end the run at the
next batch boundary, leaving a checkpoint to resume from there (sweeper.training.state).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sweeper.data import FrameBatches, SequenceBatches
from sweeper.data.split import Split
from sweeper.errors import DataError
from sweeper.models import DEFAULTS, Family, RunConfig, build_model, family_of, resolve_config
from sweeper.phones import NUM_CLASSES
from sweeper.training.device import (
    autocast_dtype,
    cuda_precision,
    gpu_memory_peak_mb,
    out_of_memory_named,
    select_device,
    thread_count,
)
from sweeper.training.standard_error import utterance_bootstrap_se
from sweeper.training.state import (
    CHECKPOINT_EVERY_S,
    BatchProgress,
    Checkpoints,
    EpochStats,
    ResumePoint,
    RunState,
    resumable_history,
    resume_point,
)

__all__ = [
    "DEFAULTS",
    "BatchProgress",
    "EpochStats",
    "NonFiniteLossError",
    "ResumePoint",
    "TrainResult",
    "TrainingStopped",
    "frame_logits",
    "make_batches",
    "make_optimizer",
    "predict",
    "resumable_history",
    "resume_point",
    "train",
]


@dataclass
class TrainResult:
    """A finished run. `model` holds the best-val_acc weights, not the last epoch's."""

    model: nn.Module  # in eval mode, holding the weights of the epoch with the best val_acc
    best_val_acc: float
    best_epoch: int
    epochs_run: int  # including epochs run before a resume
    history: list[EpochStats]
    seconds: float  # wall-clock time of this call
    n_params: int
    device: str


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite (typically a learning rate far too high)."""


class TrainingStopped(Exception):
    """`should_stop` gave its reason inside an epoch: training stopped after a whole batch,
    and with a checkpoint directory, resumes there on the next call."""

    def __init__(self, reason: str, progress: BatchProgress, checkpointed: bool) -> None:
        super().__init__(reason)
        self.reason, self.progress, self.checkpointed = reason, progress, checkpointed


@out_of_memory_named
def train(
    config: dict[str, Any],
    train: Split,
    val: Split,
    *,
    on_epoch: Callable[[EpochStats], bool | None] | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
    batch_guard: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    checkpoint_dir: Path | None = None,
    checkpoint_every: float | None = CHECKPOINT_EVERY_S,
    on_checkpoint: Callable[[], None] | None = None,
    device: str = "auto",
    threads: int | None = None,
) -> TrainResult:
    """Train the model `config` describes on `train`, validating on `val` after every epoch.

    `on_epoch` hears every epoch's stats; when it returns True, training ends after that
    epoch as it does after the last. `on_progress` hears after every batch how far the epoch
    is (cheap to call: rate-limit any write in it). `should_stop` is asked after every batch
    but an epoch's last; a reason from it stops training there with `TrainingStopped`.
    `batch_guard()` encloses each optimiser step: a guard that holds stop signals until its
    end (sweeper.process.signals.deferred) makes an interruption land between batches.

    With `checkpoint_dir`, a checkpoint is written after every epoch, every `checkpoint_every`
    seconds inside one, and when training stops inside one (`should_stop`, or a
    KeyboardInterrupt between batches); an existing one is resumed from, at its batch. On CPU
    the resumed run ends exactly as an uninterrupted one would. `on_checkpoint` hears that a
    checkpoint was written (to copy it elsewhere, say). `threads` sets torch's intra-op thread
    count for the run, so several workers can share a CPU.
    """
    cfg = resolve_config(config)
    family = family_of(cfg)
    dev = select_device(device)
    train_labels = _labels(train)
    _labels(val)  # an unusable val split should fail now, not after the first epoch
    with thread_count(threads), cuda_precision(dev):
        torch.manual_seed(cfg.seed)
        model = build_model(cfg).to(dev)
        train_batches = make_batches(cfg, train, shuffle=True, device=dev)
        val_batches = make_batches(cfg, val, shuffle=False, device=dev)
        optimizer = make_optimizer(cfg, model)
        scheduler = _scheduler(cfg, optimizer, steps_per_epoch=len(train_batches))
        weight = _class_weights(train_labels).to(dev) if cfg.class_weighted else None
        criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
        amp = autocast_dtype(cfg, dev)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        scaler = torch.amp.GradScaler(dev.type, enabled=amp is torch.float16)
        run = RunState(cfg, model, optimizer, scheduler, scaler, dev)
        checkpoints = Checkpoints(checkpoint_dir, checkpoint_every, on_checkpoint)
        checkpoints.resume(run)

        started = time.perf_counter()
        ended = False  # on_epoch said so
        total = len(train_batches)
        while (
            not ended
            and len(run.history) < cfg.epochs
            and not (cfg.patience and len(run.history) - run.best_epoch >= cfg.patience)
        ):
            epoch = run.begin_epoch()
            model.train()
            try:
                for batch in train_batches.epoch(epoch.index, start=epoch.batches):
                    with batch_guard():
                        epoch.stepping = True
                        # BatchNorm (in the mlp's blocks and the rnn heads) cannot train on one
                        # frame; an epoch's last batch or a one-frame utterance may hold just one
                        if family.frames_in(batch) > 1:
                            with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
                                logits, y = family.logits(model, batch)
                                loss = criterion(logits.float(), y)
                            optimizer.zero_grad(set_to_none=True)
                            scaler.scale(loss).backward()
                            if cfg.clip:
                                scaler.unscale_(optimizer)
                                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                            scaler.step(optimizer)
                            scaler.update()
                            if scheduler is not None:
                                scheduler.step()
                            epoch.loss_sum += loss.detach() * len(y)
                            epoch.correct += (logits.argmax(1) == y).sum()
                            epoch.frames += len(y)
                        epoch.batches += 1
                        epoch.stepping = False
                    progress = BatchProgress(epoch.index + 1, epoch.batches, total, epoch.seconds())
                    if on_progress is not None:
                        on_progress(progress)
                    if epoch.batches < total:
                        if should_stop is not None and (reason := should_stop()) is not None:
                            raise TrainingStopped(reason, progress, checkpoints.write(run))
                        if checkpoints.due():
                            checkpoints.write(run)
                val_loss, val_acc, val_acc_se = _evaluate(
                    family, model, val_batches, val.lengths, amp
                )
            except KeyboardInterrupt:
                if not epoch.stepping:  # else the weights may be half updated: keep the last one
                    checkpoints.write(run)
                raise
            stats = EpochStats(
                epoch=epoch.index + 1,
                train_loss=epoch.loss_sum.item() / epoch.frames,
                train_acc=epoch.correct.item() / epoch.frames,
                val_loss=val_loss,
                val_acc=val_acc,
                epoch_seconds=epoch.seconds(),
                lr=epoch.lr,
                gpu_memory_peak_mb=gpu_memory_peak_mb(dev),
                val_acc_se=val_acc_se,
            )
            if not (math.isfinite(stats.train_loss) and math.isfinite(stats.val_loss)):
                raise NonFiniteLossError(
                    f"non-finite loss in epoch {stats.epoch} "
                    f"(train_loss={stats.train_loss}, val_loss={stats.val_loss}, lr={epoch.lr:g})"
                )
            run.end_epoch(stats)
            if on_epoch is not None:
                ended = on_epoch(stats) is True
            checkpoints.write(run)

        model.load_state_dict(run.best_weights)
        model.eval()
        return TrainResult(
            model=model,
            best_val_acc=run.history[run.best_epoch - 1].val_acc,
            best_epoch=run.best_epoch,
            epochs_run=len(run.history),
            history=run.history,
            seconds=time.perf_counter() - started,
            n_params=sum(p.numel() for p in model.parameters()),
            device=str(dev),
        )


@torch.no_grad()
def predict(
    model: nn.Module, config: dict[str, Any], split: Split, device: str = "auto"
) -> torch.Tensor:
    """The predicted class of every frame of `split`, int64 (frames,) in file order."""
    cfg = resolve_config(config)
    dev = select_device(device)
    model.to(dev).eval()
    batches = make_batches(cfg, split, shuffle=False, device=dev)
    predictions = [frame_logits(cfg, model, b)[0].argmax(1).cpu() for b in batches.epoch(0)]
    return torch.cat(predictions) if predictions else torch.empty(0, dtype=torch.int64)


@torch.no_grad()
def _evaluate(
    family: Family,
    model: nn.Module,
    batches: FrameBatches | SequenceBatches,
    lengths: torch.Tensor,
    amp: Any,
) -> tuple[float, float, float]:
    """(loss, frame accuracy, its standard error over utterances) on val; batches in file order."""
    model.eval()
    loss_sum = torch.zeros((), device=next(model.parameters()).device)
    hits = []
    for batch in batches.epoch(0):
        with torch.autocast(loss_sum.device.type, dtype=amp, enabled=amp is not None):
            logits, y = family.logits(model, batch)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
        hits.append(logits.argmax(1) == y)
    hit = torch.cat(hits).cpu()
    return (
        loss_sum.item() / len(hit),
        hit.double().mean().item(),
        utterance_bootstrap_se(hit, lengths),
    )


def frame_logits(cfg: RunConfig, model: nn.Module, batch: Any) -> tuple[torch.Tensor, Any]:
    """(logits (N, 41), labels (N,) or None) over the real frames of a batch."""
    return family_of(cfg).logits(model, batch)


def make_batches(
    cfg: RunConfig, split: Split, *, shuffle: bool, device: torch.device
) -> FrameBatches | SequenceBatches:
    """The batches `cfg`'s family reads (see sweeper.models.family)."""
    return family_of(cfg).batches(cfg, split, shuffle=shuffle, device=device)


def make_optimizer(cfg: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW, Adam or SGD with momentum, as the config says.

    Fused (one kernel per parameter instead of about ten elementwise ops) where torch has it:
    on CPU, AdamW's step of an MLP 2x512 at n = 11 took 0.9-1.3 ms instead of 4.4-5.7 ms, of a
    56 ms training step with its batch of 512 (2 threads); the same update, to float rounding."""
    params, lr, decay = model.parameters(), cfg.lr, cfg.weight_decay
    fused = next(model.parameters()).device.type in ("cpu", "cuda")
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=cfg.momentum, weight_decay=decay, fused=fused
        )
    adam = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return adam(params, lr=lr, weight_decay=decay, fused=fused)


def _scheduler(
    cfg: RunConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Every schedule steps once per batch; epoch-based settings are converted to steps."""
    schedulers = torch.optim.lr_scheduler
    total = cfg.epochs * steps_per_epoch
    match cfg.scheduler:
        case "cosine":
            return schedulers.CosineAnnealingLR(optimizer, T_max=total)
        case "warm_restarts":
            return schedulers.CosineAnnealingWarmRestarts(
                optimizer, T_0=cfg.t0 * steps_per_epoch, T_mult=cfg.t_mult
            )
        case "onecycle":
            return schedulers.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total)
    return None


def _labels(split: Split) -> torch.Tensor:
    if split.labels is None or split.num_frames == 0:
        raise DataError(f"split {split.name!r} needs labelled frames to train on")
    return split.labels


def _class_weights(labels: torch.Tensor) -> torch.Tensor:
    """Inverse class frequency, mean 1 over the classes present; absent classes get 0."""
    counts = torch.bincount(labels, minlength=NUM_CLASSES).double()
    present = counts > 0
    weights = torch.where(present, counts.sum() / counts.clamp(min=1), 0.0)
    return (weights / weights[present].mean()).float()
