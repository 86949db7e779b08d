"""Where each worker of `sweeper run` trains: its GPU (pinned by CUDA_VISIBLE_DEVICES) and its
share of the CPU threads.

The plan is a pure function of the flags and the machine's counts, so it is tested without a
GPU; the runner applies it: each worker process starts with its placement's environment (the
first worker is the process the user started, pinned before it touches CUDA).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from sweeper.errors import SweeperError


class PlacementError(SweeperError):
    """--gpus, --per-gpu, --workers or --device ask for something this machine cannot do."""


@dataclass(frozen=True)
class Placement:
    index: int  # 0: the process the user started; 1.. the processes it spawns
    threads: int  # torch intra-op threads
    gpu: str | None  # the CUDA_VISIBLE_DEVICES entry the worker sees as cuda:0

    def env(self) -> dict[str, str]:
        """The environment variables the worker process starts with (on top of the parent's)."""
        env = {"SWEEPER_WORKER_INDEX": str(self.index), "SWEEPER_THREADS": str(self.threads)}
        if self.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpu
        return env


def place_workers(
    *,
    workers: int,
    cpus: int,
    gpus: Sequence[str] = (),
    per_gpu: int = 1,
    threads: int | None = None,
) -> list[Placement]:
    """One placement per worker: with GPUs, `per_gpu` workers on each (taken in turn, so the
    GPUs fill evenly); the CPU's cores divided among all workers unless `threads` is given."""
    total = len(gpus) * per_gpu if gpus else workers
    share = threads or max(1, cpus // total)
    return [
        Placement(index=i, threads=share, gpu=gpus[i % len(gpus)] if gpus else None)
        for i in range(total)
    ]


def resolve_gpus(flag: str, count: int, visible: str | None) -> list[str]:
    """The CUDA_VISIBLE_DEVICES entries that `--gpus FLAG` names ("0,1" or "all").

    Indices count the GPUs this process sees: under CUDA_VISIBLE_DEVICES=2,3, `--gpus 1`
    is the machine's GPU 3."""
    if flag.strip() == "all":
        indices = list(range(count))
    else:
        try:
            indices = [int(part) for part in flag.split(",")]
        except ValueError:
            raise PlacementError(
                f"--gpus {flag!r}: expected GPU indices such as 0 or 0,1, or all"
            ) from None
    if count == 0:
        raise PlacementError(f"--gpus {flag}: this machine has no CUDA GPU that torch can use")
    missing = [i for i in indices if not 0 <= i < count]
    if missing:
        raise PlacementError(
            f"--gpus {flag}: no GPU {missing[0]} on this machine "
            f"({count} GPU{'s' if count > 1 else ''}: 0..{count - 1})"
        )
    if len(set(indices)) != len(indices):
        raise PlacementError(f"--gpus {flag}: a GPU is named twice (use --per-gpu to share one)")
    names = visible.split(",") if visible else [str(i) for i in range(count)]
    return [names[i].strip() for i in indices]


def check_flags(*, workers: int, gpus: str | None, per_gpu: int, device: str) -> None:
    """Flag combinations that cannot mean anything, refused before any count is taken."""
    if gpus is None:
        if per_gpu != 1:
            raise PlacementError("--per-gpu needs --gpus (which GPUs to share)")
        return
    if device == "cpu":
        raise PlacementError("--gpus: trials cannot run on GPUs with --device cpu")
    if workers != 1:
        raise PlacementError(
            f"--workers {workers} with --gpus: --gpus starts --per-gpu workers on each GPU; "
            "drop --workers"
        )


def plan_this_machine(
    *, workers: int, gpus: str | None, per_gpu: int, device: str
) -> list[Placement]:
    """The placements of `sweeper run`'s flags on this machine (its GPUs and cores)."""
    check_flags(workers=workers, gpus=gpus, per_gpu=per_gpu, device=device)
    threads = int(os.environ.get("SWEEPER_THREADS", 0)) or None
    cpus = os.cpu_count() or 1
    if gpus is None:
        return place_workers(workers=workers, cpus=cpus, threads=threads)
    import torch

    # NVML counts GPUs without starting CUDA here, so this process can still be pinned
    pinned = resolve_gpus(gpus, torch.cuda.device_count(), os.environ.get("CUDA_VISIBLE_DEVICES"))
    return place_workers(workers=workers, cpus=cpus, gpus=pinned, per_gpu=per_gpu, threads=threads)


def describe_device(device: str, threads: int) -> str:
    """The device trials of this worker train on, as recorded with each trial: e.g.
    `cuda:0 NVIDIA H200 (CUDA_VISIBLE_DEVICES=1), 4 threads, OMP passive` or
    `cpu, 2 threads, OMP active` (OpenMP's wait policy: see sweeper.process.wait_policy)."""
    from sweeper.process.wait_policy import in_effect
    from sweeper.training.device import select_device

    dev = select_device(device)
    if dev.type != "cuda":
        return f"{dev}, {threads} threads, {in_effect()}"
    import torch

    index = dev.index or 0
    pinned = os.environ.get("CUDA_VISIBLE_DEVICES")
    where = f" (CUDA_VISIBLE_DEVICES={pinned})" if pinned is not None else ""
    name = torch.cuda.get_device_name(index)
    return f"cuda:{index} {name}{where}, {threads} threads, {in_effect()}"
