"""What a short `sweeper run` of the LSTM study says about a full one: each family's epoch time
and the projected time of 100 trials.

    sweeper run studies/lstm.py --gpus 0 --per-gpu 4 --time-budget 2m     # in DIR, then
    python -m benchmarks.gpu_headline lstm --workdir DIR --per-gpu 4 [--json figures.json]

Reads the run's own stores (DIR/sweeps.db, DIR/mlflow.db). An epoch's time is the trial's
`epoch_seconds` metric, measured while --per-gpu trials shared the device; the projection is
100 trials of the study's epochs each, --per-gpu at a time, at the mean epoch time of each family
weighted by how often the sampler picked it: an upper bound, as pruning stops trials early.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import optuna
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table

from sweeper.study.record import CONFIG, RUN_ATTR, SPEC_ATTR

PROJECTED_TRIALS = 100


def summarise(study_name: str, workdir: Path, per_gpu: int) -> dict[str, Any]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=f"sqlite:///{workdir}/sweeps.db")
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir}/mlflow.db")
    epochs_per_trial = int(study.user_attrs[SPEC_ATTR]["epochs"])
    families: dict[str, dict[str, Any]] = {}
    for trial in study.get_trials(deepcopy=False):
        run_id = trial.user_attrs.get(RUN_ATTR)
        if run_id is None or CONFIG not in trial.user_attrs:
            continue  # never started training: nothing was measured
        family = families.setdefault(
            trial.user_attrs[CONFIG]["family"], {"trials": 0, "states": {}, "epoch_seconds": []}
        )
        family["trials"] += 1
        family["states"][trial.state.name] = family["states"].get(trial.state.name, 0) + 1
        family["epoch_seconds"] += [
            m.value for m in client.get_metric_history(run_id, "epoch_seconds")
        ]
    sampled = sum(f["trials"] for f in families.values())
    projected = 0.0
    for family in families.values():
        seconds = family.pop("epoch_seconds")
        family["epochs"] = len(seconds)
        family["mean_epoch_seconds"] = statistics.fmean(seconds) if seconds else None
        if seconds:
            share = family["trials"] / sampled
            projected += share * PROJECTED_TRIALS * epochs_per_trial * family["mean_epoch_seconds"]
    return {
        "study": study_name,
        "per_gpu": per_gpu,
        "epochs_per_trial": epochs_per_trial,
        "families": families,
        "projected_seconds_100_trials": projected / per_gpu if projected else None,
    }


def table(summary: dict[str, Any]) -> Table:
    out = Table(title=f"{summary['study']}: {summary['per_gpu']} trials at once")
    for column in ("family", "trials", "states", "epochs timed", "mean epoch s"):
        out.add_column(column, justify="left" if column in ("family", "states") else "right")
    for name, family in sorted(summary["families"].items()):
        mean = family["mean_epoch_seconds"]
        out.add_row(
            name,
            str(family["trials"]),
            " ".join(f"{state.lower()} {n}" for state, n in sorted(family["states"].items())),
            str(family["epochs"]),
            "-" if mean is None else f"{mean:.2f}",
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study", help="the study's name (its file's stem)")
    parser.add_argument("--workdir", type=Path, required=True, help="where `sweeper run` ran")
    parser.add_argument("--per-gpu", type=int, required=True, help="trials that ran at once")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    summary = summarise(args.study, args.workdir, args.per_gpu)
    console = Console()
    console.print(table(summary))
    projected = summary["projected_seconds_100_trials"]
    if projected is None:
        console.print("no epoch finished: nothing to project")
    else:
        console.print(
            f"projected: {PROJECTED_TRIALS} trials of {summary['epochs_per_trial']} epochs, "
            f"{summary['per_gpu']} at once: {projected / 3600:.2f} h "
            "(an upper bound: pruning stops trials early)"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
