"""The course's ladder of recipes on the embedded corpus, with the real LibriPhone figures beside.

Does the synthetic corpus rank recipes the way real speech does? Six recipes, from the course's
sample code to a whole-utterance BiLSTM over 25-frame windows, each trained with 2 seeds on the
same train subset and scored on the test split (speakers no train utterance has).

Equal budgets: every recipe sees the same train frames for the same number of epochs with the
same optimiser (AdamW, cosine decay to zero, gradient clipping at 1) and keeps its best epoch on
the same validation split. Frame models take 512 frames a step; whole-utterance models take
`--utterances` utterances a step (default 2, about 800 frames), so they get about as many
optimiser steps an epoch as the frame models instead of the 8x fewer that 16 utterances a batch
gives on a 60k-frame subset.

    python -m benchmarks.corpus_ladder                        # 2 CPU cores: about 35 minutes
    python -m benchmarks.corpus_ladder --size full --frames 0 --device cuda:0 --epochs 15
    python -m benchmarks.corpus_ladder --only 1,2 --seeds 1   # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sweeper.data import course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.data.synth.plan import SIZES
from sweeper.training.loop import predict, train

# (name, real LibriPhone test accuracy from the course and the students' reports, config)
MLP, WINDOW, SEQUENCE = {"family": "mlp"}, {"family": "rnn-window"}, {"family": "rnn-seq"}
LADDER: list[tuple[str, float, dict[str, Any]]] = [
    ("1 sample code: MLP 1x256, n=1", 0.498,
     {**MLP, "layers": 1, "hidden": 256, "n": 1, "dropout": 0.0}),
    ("2 medium: MLP 3x512, n=11", 0.664,
     {**MLP, "layers": 3, "hidden": 512, "n": 11, "dropout": 0.25}),
    ("3 strong: MLP 6x1024 BN+dropout, n=19", 0.70,
     {**MLP, "layers": 6, "hidden": 1024, "n": 19, "dropout": 0.35}),
    ("4 windowed BiLSTM 2x128, n=11", 0.76,
     {**WINDOW, "layers": 2, "hidden": 128, "n": 11, "dropout": 0.2}),
    ("5 whole-utterance BiLSTM 2x192", 0.809,
     {**SEQUENCE, "layers": 2, "hidden": 192, "n": 1, "dropout": 0.2}),
    ("6 whole-utterance BiLSTM 2x192 over n=25", 0.823,
     {**SEQUENCE, "layers": 2, "hidden": 192, "n": 25, "dropout": 0.3}),
]  # fmt: skip
COMMON = {"optimizer": "adamw", "lr": 2e-3, "scheduler": "cosine", "clip": 1.0, "batch_size": 512}


def spread(values: list[float]) -> float:
    """Half the range of the seeds' values (their standard deviation, for two)."""
    return (max(values) - min(values)) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, help="[default: the embedded corpus]")
    parser.add_argument("--size", choices=list(SIZES), default="small", help="embedded corpus size")
    parser.add_argument("--frames", type=int, default=60_000, help="train subset (0: all)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--utterances", type=int, default=2, help="whole-utterance batch")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", default="", help="recipe numbers, e.g. 1,5")
    args = parser.parse_args()

    console = Console(width=150)  # the table's rows stay one line each, also in a log file
    data = resolve_data_dir(args.data, args.size)
    corpus = load_corpus(data)
    train_part, val_part = course_split(corpus.train)
    if args.frames:
        train_part = subset(train_part, args.frames, seed=0)
    test = corpus.test
    chosen = {int(k) for k in args.only.split(",") if k} or set(range(1, len(LADDER) + 1))
    console.print(
        f"{data}: {train_part.num_frames:,} train frames ({train_part.num_utterances} "
        f"utterances), {args.epochs} epochs, seeds 0..{args.seeds - 1}, "
        f"test {test.num_frames:,} frames"
    )

    rows = []
    for number, (name, real, recipe) in enumerate(LADDER, 1):
        if number not in chosen:
            continue
        config = {**COMMON, **recipe, "epochs": args.epochs}
        if recipe["family"] == "rnn-seq":
            config["batch_size"] = args.utterances
        accuracies, seconds = [], 0.0
        for seed in range(args.seeds):
            result = train({**config, "seed": seed}, train_part, val_part, device=args.device)
            predicted = predict(result.model, config, test, device=args.device)
            accuracies.append((predicted == test.labels).float().mean().item())
            seconds += result.seconds
            console.print(f"{name}, seed {seed}: test {accuracies[-1]:.3f}, {result.seconds:.0f} s")
        rows.append((name, real, accuracies, seconds / args.seeds))

    table = Table(title="Test frame accuracy: real LibriPhone against the embedded corpus")
    for column in ("recipe", "real", "embedded (mean ± spread)", "gap to the rung below", "s/run"):
        table.add_column(column, justify="left" if column == "recipe" else "right")
    for i, (name, real, accuracies, seconds) in enumerate(rows):
        mean = statistics.mean(accuracies)
        gap = ""
        if i:
            below = rows[i - 1][2]
            step = mean - statistics.mean(below)
            noise = 2 * max(spread(accuracies), spread(below))
            gap = f"{step:+.3f} ({'>' if step > noise else '<='} 2 spreads)"
        measured = f"{mean:.3f} ± {spread(accuracies):.3f}"
        table.add_row(name, f"{real:.3f}", measured, gap, f"{seconds:.0f}")
    console.print(table)
    means = {name[0]: statistics.mean(accuracies) for name, _, accuracies, _ in rows}
    if {"1", "2", "3", "5"} <= means.keys():
        best_mlp = max(means["2"], means["3"])
        console.print(
            f"context (n=1 -> best MLP): {best_mlp - means['1']:+.3f} (target +0.08); "
            f"whole-utterance BiLSTM over the best MLP: {means['5'] - best_mlp:+.3f} (target "
            f"+0.05); single-frame MLP {means['1']:.3f} (target 0.40-0.55)"
        )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")
