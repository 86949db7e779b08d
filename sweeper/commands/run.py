"""`sweeper run`: an Optuna study in a shared storage, tracked in MLflow."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from sweeper.commands.options import DataOption, StorageOption, TrackingOption


class SamplerChoice(StrEnum):
    tpe = "tpe"
    random = "random"
    grid = "grid"


class PrunerChoice(StrEnum):
    hyperband = "hyperband"
    median = "median"
    percentile = "percentile"
    none = "none"


class DeviceChoice(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def run(
    study_file: Path = typer.Argument(..., help="A study file (see studies/).", show_default=False),
    trials: int | None = typer.Option(
        None, "--trials", "-n", min=1, help="Target of finished trials for the whole study."
    ),
    timeout: float | None = typer.Option(
        None, min=1, help="Start no new trial after this many seconds."
    ),
    time_budget: str | None = typer.Option(
        None,
        "--time-budget",
        metavar="DURATION",
        help="Wall-clock budget of this command, e.g. 90m, 2h, 1h30m, 45s: no trial starts once "
        "it is spent, a running one stops at its next epoch boundary keeping its best epoch. "
        "Without --trials it alone ends the sweep; with it, whichever comes first.",
        show_default=False,
    ),
    data: DataOption = None,
    storage: StorageOption = None,
    tracking_uri: TrackingOption = None,
    study_name: str | None = typer.Option(
        None, help="Study (and MLflow experiment) name \\[default: the file's]."
    ),
    workers: int = typer.Option(1, min=1, help="Worker processes on this machine."),
    gpus: str | None = typer.Option(
        None,
        help="GPUs to train on, e.g. 0,1 or all: --per-gpu workers on each, pinned by "
        "CUDA_VISIBLE_DEVICES (replaces --workers).",
        show_default=False,
    ),
    per_gpu: int = typer.Option(1, min=1, help="Workers (trials at once) sharing each GPU."),
    sampler: SamplerChoice | None = typer.Option(None, help="Sampler \\[default: the file's]."),
    pruner: PrunerChoice | None = typer.Option(None, help="Pruner \\[default: the file's]."),
    seed: int | None = typer.Option(None, help="Sampler seed \\[default: the file's]."),
    device: DeviceChoice = typer.Option(DeviceChoice.auto, help="Training device."),
    heartbeat: int = typer.Option(10, min=1, help="Seconds between a running trial's heartbeats."),
    grace: int = typer.Option(
        30, min=2, help="Seconds without a heartbeat before a trial is failed and retried."
    ),
    accept_changes: bool = typer.Option(
        False,
        "--accept-changes",
        help="Resume although the study file, data, subset, epochs, sampler or pruner changed "
        "since the study began (the change is recorded; by default it is refused).",
    ),
    warm_start: str | None = typer.Option(
        None,
        "--warm-start",
        metavar="OTHER_STUDY",
        help="Reuse the COMPLETE trials of another study of the same --storage and data, once "
        "in this study's life. One that ran exactly what this study would (the same parameter "
        "distributions, the same config, the same subset) is copied as a COMPLETE trial, "
        "without an MLflow run, and counts towards --trials; of the others, the best "
        "--warm-start-top have their parameters (those this search space takes) queued to run "
        "first.",
        show_default=False,
    ),
    warm_start_top: int = typer.Option(
        10,
        "--warm-start-top",
        min=1,
        metavar="K",
        help="With --warm-start: how many of the other study's best trials that cannot be "
        "copied are queued.",
    ),
) -> None:
    """Run (or resume) a sweep: each trial trains on the study's fixed subset, pruned on val_acc.

    The same study name resumes the same study; --trials is the study's total, however many
    workers or machines share it.

    Example: sweeper run studies/quick.py --trials 20

    For a fixed time instead: sweeper run studies/mlp.py --time-budget 2h

    On a machine with GPUs: sweeper run studies/lstm.py --gpus 0,1 --per-gpu 2

    Starting from another study's trials: sweeper run studies/mlp.py --warm-start quick
    """
    from sweeper.process.signals import describe, exit_status
    from sweeper.sweep.plan import plan_run
    from sweeper.sweep.runner import execute

    console = Console(stderr=True)
    worker_index = int(os.environ.get("SWEEPER_WORKER_INDEX", "0"))
    try:
        plan = plan_run(
            study_file=study_file,
            trials=trials,
            timeout=timeout,
            time_budget=time_budget,
            data=data,
            storage=storage,
            tracking_uri=tracking_uri,
            study_name=study_name,
            workers=workers,
            gpus=gpus,
            per_gpu=per_gpu,
            sampler=sampler.value if sampler else None,
            pruner=pruner.value if pruner else None,
            seed=seed,
            device=device.value,
            heartbeat=heartbeat,
            grace=grace,
            worker_index=worker_index,
            accept_changes=accept_changes,
            warm_start=warm_start,
            warm_start_top=warm_start_top,
            console=console,
        )
        code = execute(plan, sys.argv[1:], console)
    except KeyboardInterrupt as exc:
        console.print(
            f"[yellow]interrupted ({describe(exc)})[/]: run the same command again to resume."
        )
        raise typer.Exit(exit_status(exc)) from None
    if code:
        raise typer.Exit(code)
