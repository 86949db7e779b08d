"""`sweeper run`: an Optuna study in a shared storage, tracked in MLflow."""

from __future__ import annotations

import inspect
import sys
from typing import Any

import typer
from rich.console import Console

from sweeper.sweep.options import RunOptions


def run(**given: Any) -> None:
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
    try:
        plan = plan_run(RunOptions(**given), console)
        code = execute(plan, sys.argv[1:], console)
    except KeyboardInterrupt as exc:
        console.print(
            f"[yellow]interrupted ({describe(exc)})[/]: run the same command again to resume."
        )
        raise typer.Exit(exit_status(exc)) from None
    if code:
        raise typer.Exit(code)


# Typer reads a command's parameters from its signature: these are RunOptions' fields, each
# declared once there with its flag, default and help (`inspect` honours a function's
# __signature__, which mypy does not model).
run.__signature__ = inspect.signature(RunOptions, eval_str=True)  # type: ignore[attr-defined]
