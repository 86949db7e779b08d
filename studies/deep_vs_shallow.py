"""Narrow-deep against wide-shallow MLPs of equal size (the homework's report question 1).

At each parameter budget the width is derived from the depth, so every model there has the same
parameter count (within 1%); everything else is fixed. Three seeds per model and no pruning, so
every model trains the same epochs and the spread over seeds shows what a difference is worth.

    sweeper run studies/deep_vs_shallow.py    # 36 trials, 13.5 min on 2 CPU cores
    sweeper compare deep_vs_shallow           # table, plot, summary (also in MLflow)
"""

import optuna

from sweeper import StudySpec
from sweeper.models import match_width

GRID = {
    "budget": [100_000, 400_000],
    "layers": [1, 2, 3, 4, 6, 8],
    "seed": [0, 1, 2],
}
FIXED = {"family": "mlp", "n": 11, "dropout": 0.1, "lr": 2e-3, "batch_size": 512}

study = StudySpec(
    description="MLP depth at fixed parameter budgets, width matched, 3 seeds",
    train_frames=60_000,
    val_frames=10_000,
    epochs=10,
    sampler="grid",
    pruner="none",
    grid=GRID,
)


def search_space(trial: optuna.Trial) -> dict:
    config = {
        **FIXED,
        "layers": trial.suggest_categorical("layers", GRID["layers"]),
        "seed": trial.suggest_categorical("seed", GRID["seed"]),
    }
    budget = trial.suggest_categorical("budget", GRID["budget"])
    return {**config, "hidden": match_width(config, budget)}
