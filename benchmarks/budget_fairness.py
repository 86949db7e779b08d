"""Do whole-utterance trials of the lstm study get a fair first few epochs against windowed ones?

The study's pruner (Hyperband, resource = epochs) compares trials at epochs 1, 3 and 9. An epoch
is the same frames for every family, but not the same optimiser steps: on the 60k-frame subset a
windowed model at 256 frames a batch takes about 234 steps an epoch, a whole-utterance model at
16 utterances a batch about 12. This trains, on the study's subset with its fixed settings, a
windowed BiLSTM and the same whole-utterance BiLSTM at 16 utterances a batch (the study's old
choices were 8, 16, 32), at 2 and at 1 (its choices now), and prints val_acc at every epoch with
its standard error, the steps an epoch took, and how each whole-utterance model stands against
the windowed one at epoch 1 (the old first rung) and at the study's first rung now.

    python -m benchmarks.budget_fairness [--epochs 4] [--seeds 1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sweeper.data import course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.study.spec import load_study_file
from sweeper.training.loop import train

STUDY = Path(__file__).resolve().parents[1] / "studies" / "lstm.py"
SHARED = {"cell": "lstm", "bidirectional": True, "layers": 2, "hidden": 128, "dropout": 0.2,
          "head_layers": 1, "lr": 1e-3, "weight_decay": 1e-5, "clip": 1.0}  # fmt: skip
CONTENDERS: list[tuple[str, dict[str, Any]]] = [
    ("windowed, n=11, 256 frames a batch", {"family": "rnn-window", "n": 11, "batch_size": 256}),
    ("whole-utterance, 16 utterances a batch", {"family": "rnn-seq", "n": 1, "batch_size": 16}),
    ("whole-utterance, 2 utterances a batch", {"family": "rnn-seq", "n": 1, "batch_size": 2}),
    ("whole-utterance, 1 utterance a batch", {"family": "rnn-seq", "n": 1, "batch_size": 1}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    spec = load_study_file(STUDY).spec
    corpus = load_corpus(resolve_data_dir(None))
    train_all, val_all = course_split(corpus.train, spec.split_seed, spec.train_ratio)
    train_part = subset(train_all, spec.train_frames, seed=spec.subset_seed)
    console = Console(width=150)
    console.print(
        f"{train_part.num_frames:,} train frames ({train_part.num_utterances} utterances), "
        f"val: the whole split ({val_all.num_frames:,} frames), fixed {spec.fixed}"
    )
    table = Table(title=f"val_acc by epoch (mean over {args.seeds} seed(s), ± bootstrap se)")
    table.add_column("contender")
    table.add_column("steps an epoch", justify="right")
    for epoch in range(1, args.epochs + 1):
        table.add_column(f"epoch {epoch}", justify="right")
    table.add_column("s an epoch", justify="right")
    curves = {}
    for name, contender in CONTENDERS:
        config = {**spec.fixed, **SHARED, **contender, "epochs": args.epochs}
        units = (
            train_part.num_utterances if contender["family"] == "rnn-seq" else train_part.num_frames
        )
        runs = [
            train({**config, "seed": seed}, train_part, val_all).history
            for seed in range(args.seeds)
        ]
        curves[name] = [
            statistics.mean(run[epoch].val_acc for run in runs) for epoch in range(args.epochs)
        ]
        cells = []
        for epoch in range(args.epochs):
            accuracy = curves[name][epoch]
            error = statistics.mean(run[epoch].val_acc_se or 0.0 for run in runs)
            cells.append(f"{accuracy:.3f} ± {error:.3f}")
        seconds = statistics.mean(stats.epoch_seconds for run in runs for stats in run)
        steps = math.ceil(units / config["batch_size"])
        table.add_row(name, str(steps), *cells, f"{seconds:.0f}")
        console.print(f"{name}: {', '.join(cells)}")
    console.print(table)
    rung = spec.pruner_warmup_epochs + 1  # Hyperband's first rung: sweeper.sweep.worker.make_pruner
    windowed = curves[CONTENDERS[0][0]]
    for name, curve in list(curves.items())[1:]:
        at = [e for e in dict.fromkeys((1, rung)) if e <= args.epochs]
        gaps = ", ".join(f"epoch {e}: {100 * (curve[e - 1] - windowed[e - 1]):+.1f}" for e in at)
        console.print(f"{name} against the windowed model, points at {gaps}")
    console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
