"""MLP on concatenated frames: the course's medium/strong-baseline recipe, searched properly.

Blocks of Linear -> BatchNorm1d -> ReLU -> Dropout over a window of n frames (11 to 81).
"""

import optuna

from sweeper.studyfile import StudySpec

study = StudySpec(
    description="MLP over n-frame windows: width, depth, dropout, optimiser",
    train_frames=60_000,
    val_frames=3_000,
    epochs=12,
    trials=100,
    pruner="hyperband",
)


def search_space(trial: optuna.Trial) -> dict:
    config = {
        "family": "mlp",
        "n": trial.suggest_int("n", 11, 81, step=2),
        "layers": trial.suggest_int("layers", 2, 12),
        "hidden": trial.suggest_int("hidden", 256, 2048, log=True),
        "taper": trial.suggest_categorical("taper", [1.0, 0.85, 0.7]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.6),
        "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [256, 512, 1024]),
        "label_smoothing": trial.suggest_categorical("label_smoothing", [0.0, 0.1]),
        "scheduler": trial.suggest_categorical("scheduler", ["none", "cosine", "onecycle"]),
    }
    return config
