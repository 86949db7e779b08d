"""The device a run trains on: choosing it, its precision (TF32, autocast), its threads, its peak
memory, and its out-of-memory error named for what a user can change."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ParamSpec

import torch

from sweeper.errors import SweeperError
from sweeper.models import RunConfig, resolve_config

if TYPE_CHECKING:
    from sweeper.training.loop import TrainResult


class DeviceError(SweeperError):
    """The requested torch device does not exist on this machine."""


class GPUOutOfMemoryError(RuntimeError):
    """Training ran out of GPU memory; the run's memory is released before this is raised."""


P = ParamSpec("P")


def out_of_memory_named(run: Callable[P, TrainResult]) -> Callable[P, TrainResult]:
    """`run`, whose out-of-memory error names the batch size and leaves the GPU's cache empty,
    so the next trial on this GPU (or a neighbour sharing it) gets the memory back."""

    @functools.wraps(run)
    def named(*args: P.args, **kwargs: P.kwargs) -> TrainResult:
        try:
            return run(*args, **kwargs)
        except torch.OutOfMemoryError:
            pass  # leaving the handler drops the traceback, and with it the run's tensors
        gc.collect()
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()
        config = args[0] if args else kwargs["config"]
        batch_size = resolve_config(config).batch_size  # type: ignore[arg-type]
        raise GPUOutOfMemoryError(f"CUDA out of memory at batch size {batch_size}")

    return named


def select_device(device: str = "auto") -> torch.device:
    """`auto` picks cuda, then mps, then cpu; an explicit name must exist on this machine."""
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if device == "auto":
        return torch.device(next((name for name, ok in available.items() if ok), "cpu"))
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise DeviceError(f"device {device!r}: not a device (try auto, cpu, cuda, mps)") from None
    if chosen.type != "cpu" and not available.get(chosen.type, False):
        raise DeviceError(f"device {device!r} is not available on this machine")
    if chosen.type == "cuda" and (chosen.index or 0) >= torch.cuda.device_count():
        raise DeviceError(f"device {device!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    return chosen


def autocast_dtype(cfg: RunConfig, dev: torch.device) -> torch.dtype | None:
    """`auto`: bf16 on a CUDA GPU that computes in it natively (Ampere and later), else none."""
    if dev.type != "cuda" or cfg.amp == "none":
        return None
    if cfg.amp == "auto":
        with torch.cuda.device(dev):
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if native else None
    return torch.bfloat16 if cfg.amp == "bf16" else torch.float16


@contextmanager
def cuda_precision(dev: torch.device) -> Iterator[None]:
    """TF32 matmuls and convolutions on CUDA (10 mantissa bits, ample for this training) for
    the run only; on CPU nothing changes."""
    if dev.type != "cuda":
        yield
        return
    previous = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous[0])
        torch.backends.cudnn.allow_tf32 = previous[1]


def gpu_memory_peak_mb(dev: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None


@contextmanager
def thread_count(threads: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
