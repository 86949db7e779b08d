"""Where a sweep's time goes, and what pruning saves. Prints ratios measured in one run.

(a) Overhead: for the quick study, the share of each trial's wall time (Optuna's start to
    finish) spent outside training epochs (sampling, storage, MLflow logging, model set-up),
    and the same share for the whole command (process start, data loading included).
(b) Pruning: the quick study with the same sampler seed, with its own pruner and with none:
    epochs trained and best val_acc (target: at most 40% of the epochs, best within 1 point).

    python benchmarks/sweep.py [--trials 30] [--data DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient

from sweeper.study.record import RUN_ATTR
from sweeper.study.spec import load_study_file

STUDY = Path(__file__).resolve().parents[1] / "studies" / "quick.py"


def sweep(cwd: Path, trials: int, pruner: str | None, data: str | None) -> float:
    """Run `sweeper run` in `cwd` (the study file's pruner unless `pruner`); returns its wall
    time in seconds."""
    args = [sys.executable, "-m", "sweeper", "run", str(STUDY), "--trials", str(trials)]
    args += ["--seed", "0", "--study-name", "quick", *(["--pruner", pruner] if pruner else [])]
    if data:
        args += ["--data", data]
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def trial_times(cwd: Path) -> tuple[float, float, int, float]:
    """(Σ trial wall seconds, Σ training-epoch seconds, Σ epochs, best val_acc)."""
    study = optuna.load_study(study_name="quick", storage=f"sqlite:///{cwd / 'sweeps.db'}")
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")
    wall = epochs_seconds = 0.0
    epochs = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.datetime_start is None or trial.datetime_complete is None:
            continue
        wall += (trial.datetime_complete - trial.datetime_start).total_seconds()
        history = client.get_metric_history(trial.user_attrs[RUN_ATTR], "epoch_seconds")
        epochs_seconds += sum(m.value for m in history)
        epochs += len(history)
    return wall, epochs_seconds, epochs, study.best_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--data", default=None, help="default: the embedded corpus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pruned_dir, full_dir = Path(tmp, "pruned"), Path(tmp, "full")
        pruned_dir.mkdir()
        full_dir.mkdir()
        command_wall = sweep(pruned_dir, args.trials, None, args.data)
        sweep(full_dir, args.trials, "none", args.data)
        wall, train, epochs_pruned, best_pruned = trial_times(pruned_dir)
        _, _, epochs_full, best_full = trial_times(full_dir)

    share, command_share = (wall - train) / wall, (command_wall - train) / command_wall
    points = 100 * (best_pruned - best_full)
    print(f"quick study, {args.trials} trials, same sampler seed")
    print("(a) overhead outside training epochs")
    print(f"    per trial:      {wall - train:7.1f} s of {wall:7.1f} s  = {share:6.1%}")
    print(
        f"    whole command:  {command_wall - train:7.1f} s of {command_wall:7.1f} s"
        f"  = {command_share:6.1%}  (with process start, data loading)"
    )
    print(f"(b) pruning ({load_study_file(STUDY).spec.pruner} pruner) against none")
    print(
        f"    epochs trained: {epochs_pruned} vs {epochs_full}  = {epochs_pruned / epochs_full:.1%}"
    )
    print(f"    best val_acc:   {best_pruned:.4f} vs {best_full:.4f}  = {points:+.2f} points")


if __name__ == "__main__":
    main()
