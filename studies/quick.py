"""The README demo: an MLP on concatenated frames over small ranges.

20 trials finish in minutes on 2 CPU cores. Copy this file to start a study of your own.
"""

import optuna

from sweeper import StudySpec

study = StudySpec(
    description="MLP on concatenated frames, small ranges (demo)",
    train_frames=30_000,
    epochs=5,
    trials=20,
    # keep trials in the best quarter at every epoch: 5-epoch trials leave the median pruner
    # little to save (measured in benchmarks/sweep.py: 53% of the epochs against 40%)
    pruner="percentile",
    pruner_startup_trials=4,
)


def search_space(trial: optuna.Trial) -> dict:
    return {
        "family": "mlp",
        "n": trial.suggest_int("n", 1, 15, step=2),
        "layers": trial.suggest_int("layers", 1, 3),
        "hidden": trial.suggest_categorical("hidden", [128, 256, 512]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
        "batch_size": 512,
    }
