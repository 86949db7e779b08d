"""studies/lstm.py sized for CPU cores: `sweeper run studies/lstm_cpu.py --trials 30` on 2 cores
is meant to end within an hour; studies/lstm.py is for a GPU (its first baseline alone, 4 x 512
over 41-frame windows, had not finished one epoch after 15 minutes on 2 cores).

The same families and conditional space (windowed and whole-utterance (Bi)LSTM/GRU, the same
parameters), the same 60k-frame subset and the same first pruning rung, at epoch 4, so that a
whole-utterance trial has seen as many frames as in lstm.py when Hyperband first compares it with
windowed ones (they trail for 3 epochs, benchmarks/budget_fairness.py). Scaled: 6 epochs (not
10); 1 or 2 layers of 32 to 128 units (not 1 to 4 of 64 to 512); windows of 5 to 15 frames
(not 11 to 41); whole-utterance steps of 1 to 9 frames (not 25) and a 32 or 64-channel
convolution (not 64 or 128). The students' recipes stay the baselines, scaled the same way.

Sizing (`python -m benchmarks.epoch_cost --frames 20000 --threads 1`, one epoch each on the
default corpus's 20k-frame subset plus one pass over its whole 27,451-frame val split; the
machine was shared, load average 5 on 2 cores, so CPU seconds of one thread, which an idle core
gives as wall seconds, not the wall clock; 2 threads ran the windowed reference 1.55x faster than
1 on an idle machine (README's corpus ladder), which the figures below do not count: a margin):

    CPU s an epoch at 20k frames, val included     train   val   at 60k frames (train x 3 + val)
    window 1 x 64, n = 11                            2.1   0.5     6.8
    window 2 x 64, n = 15                            7.9   1.8    25.5
    window 2 x 128, n = 15, head 2 (the baseline)   22.0   5.0    71
    seq 1 x 64, n = 1, 2 utterances                  0.9   0.2     2.9
    seq 2 x 128, n = 1, 2 utterances                 2.7   1.5     9.6
    seq 2 x 128, n = 9, 1 utterance, conv 64         4.3   1.3    14

A windowed epoch costs about layers x n x hidden^1.5 (the second layer 2.7 times the first): over
this space's ranges (n uniform in 5..15, hidden log-uniform in 32..128, 1 or 2 layers) about 14 s
at 60k frames on average; a whole-utterance epoch about 8 s. So a trial: 11 s an epoch x about
5 epochs (Hyperband keeps a third of the trials past its rung at epoch 4 to epoch 6; the first
trials run whole) + about 3 s of tracking = about 60 s, and 30 trials about 30 minutes; the three
baselines take 7, 1 and 1.5 minutes of it. TPE leans towards the larger models as it learns, which
the margin above (no second thread counted) and the 25 minutes left are for. Whether the CPU
study ranks the families as lstm.py does on a GPU, and its measured time, belong in the README
once the 30-trial run has been made on an idle machine.
"""

import optuna

from sweeper import StudySpec

# lstm.py's baselines, scaled as the space is: the windowed BiLSTM of the students (5 x 512 over
# n = 81; 4 x 512 over n = 41 in lstm.py) as 2 x 128 over n = 15, its 2 head blocks and lr 3e-4
# kept; the whole-utterance BiLSTM (2 x 256) as 2 x 128, on single frames and on 9-frame steps
# (lstm.py: 25), at 2 utterances a batch.
SHARED = {"cell": "lstm", "bidirectional": True, "dropout": 0.25, "weight_decay": 1e-5,
          "clip": 1.0, "label_smoothing": 0.0}  # fmt: skip
WINDOWED = {**SHARED, "family": "rnn-window", "layers": 2, "hidden": 128, "head_layers": 2,
            "lr": 3e-4, "n": 15, "pool": "last", "batch_size": 256}  # fmt: skip
WHOLE_UTTERANCE = {**SHARED, "family": "rnn-seq", "layers": 2, "hidden": 128, "head_layers": 1,
                   "lr": 1e-3, "conv_channels": 0, "utterances_per_batch": 2}  # fmt: skip

study = StudySpec(
    description="windowed and whole-utterance (Bi)LSTM/GRU, sized for 2 CPU cores",
    train_frames=60_000,
    epochs=6,
    trials=30,
    pruner="hyperband",
    pruner_warmup_epochs=3,  # the first rung at epoch 4, as in lstm.py: see above
    fixed={"optimizer": "adam", "scheduler": "warm_restarts", "t0": 2, "t_mult": 2},
    baselines=[WINDOWED, *({**WHOLE_UTTERANCE, "step_window": n} for n in (1, 9))],
)


def search_space(trial: optuna.Trial) -> dict:
    family = trial.suggest_categorical("family", ["rnn-window", "rnn-seq"])
    config = {
        "family": family,
        "cell": trial.suggest_categorical("cell", ["lstm", "gru"]),
        "bidirectional": trial.suggest_categorical("bidirectional", [True, False]),
        # one range for both families, as in lstm.py: TPE models a parameter as one distribution
        "layers": trial.suggest_int("layers", 1, 2),
        "hidden": trial.suggest_int("hidden", 32, 128, log=True),
        "head_layers": trial.suggest_int("head_layers", 0, 2),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 3e-4, 5e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
        "clip": trial.suggest_float("clip", 0.5, 5.0, log=True),
        "label_smoothing": trial.suggest_categorical("label_smoothing", [0.0, 0.1]),
    }
    if family == "rnn-window":
        # a windowed model runs its RNN over n steps for every frame: n times the work
        config["n"] = trial.suggest_int("n", 5, 15, step=2)
        config["pool"] = trial.suggest_categorical("pool", ["centre", "last"])
        config["batch_size"] = trial.suggest_categorical("batch_size", [256, 512])
    else:
        config["n"] = trial.suggest_int("step_window", 1, 9, step=2)
        config["conv_channels"] = trial.suggest_categorical("conv_channels", [0, 32, 64])
        # as in lstm.py: about as many optimiser steps an epoch as the windowed batches
        config["batch_size"] = trial.suggest_categorical("utterances_per_batch", [1, 2])
    return config
