"""MLP on concatenated frames: the course's medium/strong-baseline recipe, searched properly.

Blocks of Linear -> BatchNorm1d -> ReLU -> Dropout over a window of n frames (11 to 81).
"""

import optuna

from sweeper import StudySpec

study = StudySpec(
    description="MLP over n-frame windows: width, depth, dropout, optimiser",
    train_frames=60_000,
    epochs=12,
    trials=100,
    pruner="hyperband",
    # The course students' recipes, run first: 2 x 1750 and 6 x 1024 at n = 17, Adam(W) at
    # their 1e-4, batch 512, no schedule. Adapted to this search space: only its parameters,
    # with values it can express; the rest (dropout 0.25, weight decay 1e-2, AdamW's in the
    # course code) are the nearest the space offers, not the students' exact settings.
    baselines=[
        {
            "n": 17,
            "layers": layers,
            "hidden": hidden,
            "taper": 1.0,
            "dropout": 0.25,
            "lr": 1e-4,
            "weight_decay": 1e-2,
            "batch_size": 512,
            "label_smoothing": 0.0,
            "scheduler": "none",
        }
        for layers, hidden in ((2, 1750), (6, 1024))
    ],
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
