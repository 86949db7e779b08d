"""How hard is a corpus? Majority-class, single-frame (n=1) and n=11 MLP frame accuracy on its
test set, trained side by side in one run with the same recipe.

The embedded corpus is calibrated with this against the course's real-data figures (about 0.50
single-frame and 0.66 at n=11, a 3x512 MLP doing somewhat better): test speakers never occur in
train, so the numbers measure generalisation to new voices, as on the real test set.

    sweeper data synth --out /tmp/full --size full --jobs 2
    python benchmarks/corpus_difficulty.py /tmp/full [--train-frames N] [--epochs E]
    python benchmarks/corpus_difficulty.py       # the embedded (small) corpus
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from sweeper.data import course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.training.loop import predict, train

RECIPE = {"family": "mlp", "layers": 3, "hidden": 512, "dropout": 0.25, "lr": 1e-3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, help="[default: the embedded corpus]")
    parser.add_argument("--train-frames", type=int, default=0, help="train subset (0: all)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 11])
    args = parser.parse_args()

    console = Console()
    data = resolve_data_dir(args.data)
    corpus = load_corpus(data)
    train_part, val_part = course_split(corpus.train)
    if args.train_frames:
        train_part = subset(train_part, args.train_frames, seed=0)
    test = corpus.test
    if test.labels is None:
        raise SystemExit(f"{data} has no test_labels.txt: nothing to score against")

    table = Table(title=f"{data}: test frame accuracy ({test.num_frames:,} frames)")
    for column in ("model", "train frames", "epochs", "val acc", "test acc", "seconds"):
        table.add_column(column, justify="right" if column != "model" else "left")
    majority = torch.bincount(train_part.labels).argmax()
    table.add_row(
        "majority class", f"{train_part.num_frames:,}", "-", "-",
        f"{(test.labels == majority).float().mean().item():.3f}", "-",
    )  # fmt: skip
    for n in args.windows:
        config = {**RECIPE, "n": n, "epochs": args.epochs}
        result = train(config, train_part, val_part)
        accuracy = (predict(result.model, config, test) == test.labels).float().mean().item()
        table.add_row(
            f"mlp 3x512 n={n}", f"{train_part.num_frames:,}", str(result.epochs_run),
            f"{result.best_val_acc:.3f}", f"{accuracy:.3f}", f"{result.seconds:.0f}",
        )  # fmt: skip
        console.print(f"n={n}: test accuracy {accuracy:.3f} after {result.seconds:.0f} s")
    console.print(table)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")
