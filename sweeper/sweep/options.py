"""`sweeper run`'s options, declared once.

Each field of RunOptions is one flag: its type, default, flag names and help. The command takes
its parameters from these fields (sweeper.commands.run), and `plan_run` checks and resolves them
into the plan (sweeper.sweep.plan): a new flag is a field here plus its use.

The options the commands that read a sweep's stores share (--storage, --tracking-uri, --data,
--device) are declared here too, with the sweep that writes them; sweeper.commands.options
passes them on. Light to import (typer and the study file's names, no torch, Optuna or MLflow):
the CLI reads this module at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer

from sweeper.study.spec import Pruner, Sampler

Device = Literal["auto", "cpu", "cuda"]

StorageOption = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage URL \\[env: SWEEPER_STORAGE; default: sqlite:///sweeps.db].",
        show_default=False,
    ),
]
TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI \\[env: MLFLOW_TRACKING_URI; default: sqlite:///mlflow.db].",
        show_default=False,
    ),
]
DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="LibriPhone directory \\[default: the embedded corpus, generated on first use].",
        show_default=False,
    ),
]
DeviceOption = Annotated[Device, typer.Option(help="Training device.")]


@dataclass(frozen=True)
class RunOptions:
    """The flags of `sweeper run` as given; None where the study file's value applies."""

    study_file: Annotated[
        Path, typer.Argument(help="A study file (see studies/).", show_default=False)
    ]
    trials: Annotated[
        int | None,
        typer.Option(
            "--trials", "-n", min=1, help="Target of finished trials for the whole study."
        ),
    ] = None
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Start no new trial after this many seconds.")
    ] = None
    time_budget: Annotated[
        str | None,
        typer.Option(
            "--time-budget",
            metavar="DURATION",
            help="Wall-clock budget of this command, e.g. 90m, 2h, 1h30m, 45s: no trial starts "
            "once it is spent, a running one stops after its current batch, keeping a checkpoint "
            "that the next run resumes from. Without --trials it alone ends the sweep; with it, "
            "whichever comes first.",
            show_default=False,
        ),
    ] = None
    data: DataOption = None
    storage: StorageOption = None
    tracking_uri: TrackingOption = None
    study_name: Annotated[
        str | None,
        typer.Option(help="Study (and MLflow experiment) name \\[default: the file's]."),
    ] = None
    workers: Annotated[int, typer.Option(min=1, help="Worker processes on this machine.")] = 1
    gpus: Annotated[
        str | None,
        typer.Option(
            help="GPUs to train on, e.g. 0,1 or all: --per-gpu workers on each, pinned by "
            "CUDA_VISIBLE_DEVICES (replaces --workers).",
            show_default=False,
        ),
    ] = None
    per_gpu: Annotated[
        int, typer.Option(min=1, help="Workers (trials at once) sharing each GPU.")
    ] = 1
    sampler: Annotated[Sampler | None, typer.Option(help="Sampler \\[default: the file's].")] = None
    pruner: Annotated[Pruner | None, typer.Option(help="Pruner \\[default: the file's].")] = None
    seed: Annotated[int | None, typer.Option(help="Sampler seed \\[default: the file's].")] = None
    device: DeviceOption = "auto"
    heartbeat: Annotated[
        int, typer.Option(min=1, help="Seconds between a running trial's heartbeats.")
    ] = 10
    grace: Annotated[
        int,
        typer.Option(
            min=2, help="Seconds without a heartbeat before a trial is failed and retried."
        ),
    ] = 30
    accept_changes: Annotated[
        bool,
        typer.Option(
            "--accept-changes",
            help="Resume although the study file, data, subset, epochs, sampler or pruner "
            "changed since the study began (the change is recorded; by default it is refused).",
        ),
    ] = False
    warm_start: Annotated[
        str | None,
        typer.Option(
            "--warm-start",
            metavar="OTHER_STUDY",
            help="Reuse the COMPLETE trials of another study of the same --storage and data, "
            "once in this study's life. One that ran exactly what this study would (the same "
            "parameter distributions, the same config, the same subset) is copied as a "
            "COMPLETE trial, without an MLflow run, and counts towards --trials; of the "
            "others, the best --warm-start-top have their parameters (those this search space "
            "takes) queued to run first.",
            show_default=False,
        ),
    ] = None
    warm_start_top: Annotated[
        int,
        typer.Option(
            "--warm-start-top",
            min=1,
            metavar="K",
            help="With --warm-start: how many of the other study's best trials that cannot be "
            "copied are queued.",
        ),
    ] = 10
