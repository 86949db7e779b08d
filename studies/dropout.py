"""Dropout 0 / 0.25 / 0.5 / 0.75 on one MLP (the homework's report question 2).

Only the dropout probability and the training seed vary; three seeds per probability and no
pruning, so every model trains the same epochs. Train accuracy is measured while training,
with dropout on, which is why heavy dropout can put it below val accuracy.

    sweeper run studies/dropout.py    # 12 trials, 4.6 min on 2 CPU cores
    sweeper compare dropout           # table, plot, summary (also in MLflow)
"""

import optuna

from sweeper import StudySpec

GRID = {"dropout": [0.0, 0.25, 0.5, 0.75], "seed": [0, 1, 2]}

study = StudySpec(
    description="MLP 3 x 256 at four dropout probabilities, 3 seeds",
    train_frames=60_000,
    val_frames=10_000,
    epochs=10,
    sampler="grid",
    pruner="none",
    grid=GRID,
    fixed={"family": "mlp", "n": 11, "layers": 3, "hidden": 256, "lr": 2e-3, "batch_size": 512},
)


def search_space(trial: optuna.Trial) -> dict:
    return {
        "dropout": trial.suggest_categorical("dropout", GRID["dropout"]),
        "seed": trial.suggest_categorical("seed", GRID["seed"]),
    }
