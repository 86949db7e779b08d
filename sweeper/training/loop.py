"""One training run from a plain config dict; the whole loop is in `train`, nanoGPT style.

Knows nothing of Optuna or MLflow: the caller hears about every epoch through `on_epoch`, which
may raise to abandon the run (the trial layer raises optuna.TrialPruned; it propagates
unchanged), or return True to end it there, keeping its best epoch (a time limit).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
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
from sweeper.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    remove_checkpoint,
    save_checkpoint,
)
from sweeper.training.device import (
    autocast_dtype,
    cuda_precision,
    gpu_memory_peak_mb,
    out_of_memory_named,
    select_device,
    thread_count,
)
from sweeper.training.standard_error import utterance_bootstrap_se

__all__ = [
    "DEFAULTS",
    "EpochStats",
    "NonFiniteLossError",
    "TrainResult",
    "frame_logits",
    "make_batches",
    "make_optimizer",
    "predict",
    "resumable_history",
    "train",
]


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


@out_of_memory_named
def train(
    config: dict[str, Any],
    train: Split,
    val: Split,
    *,
    on_epoch: Callable[[EpochStats], bool | None] | None = None,
    checkpoint_dir: Path | None = None,
    on_checkpoint: Callable[[], None] | None = None,
    device: str = "auto",
    threads: int | None = None,
) -> TrainResult:
    """Train the model `config` describes on `train`, validating on `val` after every epoch.

    `on_epoch` hears every epoch's stats; when it returns True, training ends after that
    epoch as it does after the last. With `checkpoint_dir`, a checkpoint is written after every
    epoch and an existing one is resumed from; on CPU the resumed run ends exactly as an
    uninterrupted one would; then `on_checkpoint` hears that a checkpoint was written (to copy
    it elsewhere, say). `threads` sets torch's intra-op thread count for the run, so several
    workers can share a CPU.
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
        history: list[EpochStats] = []
        best_epoch, best_weights = 0, _cpu_copy(model)
        if checkpoint_dir is not None and (state := load_checkpoint(checkpoint_dir)) is not None:
            if state["config"] != cfg.model_dump():
                raise CheckpointError(
                    f"{checkpoint_dir}: the checkpoint there is for a different config"
                )
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            history = [EpochStats(**stats) for stats in state["history"]]
            best_epoch, best_weights = state["best_epoch"], state["best_model"]
            torch.set_rng_state(state["rng"])
            if dev.type == "cuda" and state["cuda_rng"] is not None:
                torch.cuda.set_rng_state(state["cuda_rng"], dev)

        started = time.perf_counter()
        ended = False  # on_epoch said so
        while (
            not ended
            and len(history) < cfg.epochs
            and not (cfg.patience and len(history) - best_epoch >= cfg.patience)
        ):
            epoch_started = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            model.train()
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), dtype=torch.int64, device=dev)
            frames = 0
            for batch in train_batches.epoch(len(history)):
                if family.frames_in(batch) == 1:
                    # BatchNorm (in the mlp's blocks and the rnn heads) cannot train on one
                    # frame; an epoch's last batch or a one-frame utterance may hold just one
                    continue
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
                loss_sum += loss.detach() * len(y)
                correct += (logits.argmax(1) == y).sum()
                frames += len(y)
            val_loss, val_acc, val_acc_se = _evaluate(family, model, val_batches, val.lengths, amp)
            stats = EpochStats(
                epoch=len(history) + 1,
                train_loss=loss_sum.item() / frames,
                train_acc=correct.item() / frames,
                val_loss=val_loss,
                val_acc=val_acc,
                epoch_seconds=time.perf_counter() - epoch_started,
                lr=lr,
                gpu_memory_peak_mb=gpu_memory_peak_mb(dev),
                val_acc_se=val_acc_se,
            )
            if not (math.isfinite(stats.train_loss) and math.isfinite(stats.val_loss)):
                raise NonFiniteLossError(
                    f"non-finite loss in epoch {stats.epoch} "
                    f"(train_loss={stats.train_loss}, val_loss={stats.val_loss}, lr={lr:g})"
                )
            history.append(stats)
            if best_epoch == 0 or val_acc > history[best_epoch - 1].val_acc:
                best_epoch, best_weights = stats.epoch, _cpu_copy(model)
            if on_epoch is not None:
                ended = on_epoch(stats) is True
            if checkpoint_dir is not None:
                save_checkpoint(
                    checkpoint_dir,
                    {
                        "config": cfg.model_dump(),
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": None if scheduler is None else scheduler.state_dict(),
                        "scaler": scaler.state_dict(),
                        "history": [asdict(s) for s in history],
                        "best_epoch": best_epoch,
                        "best_model": best_weights,
                        "rng": torch.get_rng_state(),
                        "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
                    },
                )
                if on_checkpoint is not None:
                    on_checkpoint()

        model.load_state_dict(best_weights)
        model.eval()
        return TrainResult(
            model=model,
            best_val_acc=history[best_epoch - 1].val_acc,
            best_epoch=best_epoch,
            epochs_run=len(history),
            history=history,
            seconds=time.perf_counter() - started,
            n_params=sum(p.numel() for p in model.parameters()),
            device=str(dev),
        )


def resumable_history(checkpoint_dir: Path, config: dict[str, Any]) -> list[EpochStats]:
    """The epochs a run of `config` with `checkpoint_dir` would resume after (none for no
    checkpoint). A checkpoint that cannot serve `config` (unreadable, or another config's) is
    removed, so the run starts afresh rather than failing."""
    try:
        state = load_checkpoint(checkpoint_dir)
    except CheckpointError:
        state = None
        remove_checkpoint(checkpoint_dir)
    if state is None:
        return []
    if state["config"] != resolve_config(config).model_dump():
        remove_checkpoint(checkpoint_dir)
        return []
    return [EpochStats(**stats) for stats in state["history"]]


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


def _cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}
