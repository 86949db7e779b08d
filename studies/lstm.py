"""(Bi)LSTM/GRU: over n-frame windows, or over whole utterances with one prediction per frame.

The windowed recipe classifies the centre (or last) step of an (n, 39) sequence; the
whole-utterance recipe (the strongest one reported, about 0.82 on the real test set) runs the
RNN over every frame, each step optionally itself an n-frame window.
"""

import optuna

from sweeper import StudySpec

# The course students' recipes, run first, adapted to this search space: only its parameters,
# clipped to the values it can express. The windowed BiLSTM was 5 x 512 over n = 81, the last
# step through 4 blocks of 1024, Adam at 2e-4, weight decay 1e-5, batch 256: here 4 x 512 over
# n = 41, 2 head blocks, lr 3e-4. The whole-utterance BiLSTM (2 x 256, 16 utterances a batch)
# is tried on single frames and with each step a 25-frame window (the best reported, 0.823), at
# 2 utterances a batch: see search_space.
SHARED = {"cell": "lstm", "bidirectional": True, "dropout": 0.25, "weight_decay": 1e-5,
          "clip": 1.0, "label_smoothing": 0.0}  # fmt: skip
WINDOWED = {**SHARED, "family": "rnn-window", "layers": 4, "hidden": 512, "head_layers": 2,
            "lr": 3e-4, "n": 41, "pool": "last", "batch_size": 256}  # fmt: skip
WHOLE_UTTERANCE = {**SHARED, "family": "rnn-seq", "layers": 2, "hidden": 256, "head_layers": 1,
                   "lr": 1e-3, "conv_channels": 0, "utterances_per_batch": 2}  # fmt: skip

study = StudySpec(
    description="windowed and whole-utterance (Bi)LSTM/GRU",
    train_frames=60_000,
    epochs=10,
    trials=100,
    pruner="hyperband",
    # With as many steps an epoch, whole-utterance models still trail windowed ones for 3 epochs
    # and lead from the 4th (benchmarks/budget_fairness.py): Hyperband's first rung is epoch 4.
    pruner_warmup_epochs=3,
    fixed={"optimizer": "adam", "scheduler": "warm_restarts", "t0": 2, "t_mult": 2},
    baselines=[WINDOWED, *({**WHOLE_UTTERANCE, "step_window": n} for n in (1, 25))],
)


def search_space(trial: optuna.Trial) -> dict:
    family = trial.suggest_categorical("family", ["rnn-window", "rnn-seq"])
    config = {
        "family": family,
        "cell": trial.suggest_categorical("cell", ["lstm", "gru"]),
        "bidirectional": trial.suggest_categorical("bidirectional", [True, False]),
        "layers": trial.suggest_int("layers", 1, 4),
        "hidden": trial.suggest_int("hidden", 64, 512, log=True),
        "head_layers": trial.suggest_int("head_layers", 0, 2),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 3e-4, 5e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
        "clip": trial.suggest_float("clip", 0.5, 5.0, log=True),
        "label_smoothing": trial.suggest_categorical("label_smoothing", [0.0, 0.1]),
    }
    if family == "rnn-window":
        config["n"] = trial.suggest_int("n", 11, 41, step=2)
        config["pool"] = trial.suggest_categorical("pool", ["centre", "last"])
        config["batch_size"] = trial.suggest_categorical("batch_size", [256, 512])
    else:
        config["n"] = trial.suggest_int("step_window", 1, 25, step=2)
        config["conv_channels"] = trial.suggest_categorical("conv_channels", [0, 64, 128])
        # About 325 and 650 frames a step, as the windowed batches' 256 and 512: an epoch, the
        # pruner's resource, is then about as many optimiser steps for both families (at 16
        # utterances, 12 steps on the 60k-frame subset against 236: benchmarks/budget_fairness.py)
        config["batch_size"] = trial.suggest_categorical("utterances_per_batch", [1, 2])
    return config
