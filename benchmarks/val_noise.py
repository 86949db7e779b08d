"""How noisy is a trial's value? The val subset's size against its standard error.

Trains the medium recipe (MLP 2x512, n=11) on the study's 60k-frame subset with several seeds,
then scores each model on val subsets of growing size (whole utterances, as `StudySpec.val_frames`
picks them): the bootstrap standard error over utterances (what the leaderboard shows), the
spread of one model over disjoint subsets of that size, and the spread over seeds on one subset.
The default `val_frames` is the smallest size whose error is at most 0.5 points.

    python -m benchmarks.val_noise [--seeds 3] [--epochs 4] [--sizes 3000 10000 20000 40000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from sweeper.data import course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.training.loop import predict, train
from sweeper.training.standard_error import utterance_bootstrap_se

RECIPE = {"family": "mlp", "n": 11, "layers": 2, "hidden": 512, "lr": 2e-3, "batch_size": 512}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3_000, 10_000, 20_000, 40_000])
    args = parser.parse_args()
    started = time.perf_counter()
    corpus = load_corpus(resolve_data_dir(None))
    train_all, val_all = course_split(corpus.train)
    train_part = subset(train_all, 60_000, seed=0)
    config = {**RECIPE, "epochs": args.epochs}
    models = [train({**config, "seed": seed}, train_part, subset(val_all, 3_000, seed=0)).model
              for seed in range(args.seeds)]  # fmt: skip
    hits = [predict(model, config, val_all) == val_all.labels for model in models]

    table = Table(title=f"val_acc noise: {RECIPE}, {args.epochs} epochs, {args.seeds} seeds")
    for column in ("val frames", "utterances", "bootstrap se", "sd over disjoint subsets",
                   "sd over seeds"):  # fmt: skip
        table.add_column(column, justify="right")
    for size in args.sizes:
        part = subset(val_all, size, seed=0)
        index = torch.tensor([val_all.utt_ids.index(u) for u in part.utt_ids])
        mask = torch.zeros(val_all.num_frames, dtype=torch.bool)
        for i in index.tolist():
            start = int(val_all.offsets[i])
            mask[start : start + int(val_all.lengths[i])] = True
        ses = [utterance_bootstrap_se(h[mask], part.lengths) for h in hits]
        by_seed = [h[mask].double().mean().item() for h in hits]
        blocks = _disjoint_accuracies(hits[0], val_all.lengths, part.num_frames)
        table.add_row(
            f"{part.num_frames:,}", str(len(part.lengths)), f"{statistics.mean(ses):.4f}",
            f"{statistics.stdev(blocks):.4f} ({len(blocks)})" if len(blocks) > 1 else "-",
            f"{statistics.stdev(by_seed):.4f}" if len(by_seed) > 1 else "-",
        )  # fmt: skip
    Console().print(table)
    print(f"{time.perf_counter() - started:.0f} s")


def _disjoint_accuracies(hits: torch.Tensor, lengths: torch.Tensor, frames: int) -> list[float]:
    """One model's accuracy on consecutive disjoint runs of whole utterances of about `frames`."""
    accuracies, right, seen, start = [], 0, 0, 0
    for length in lengths.tolist():
        right += int(hits[start : start + length].sum())
        seen += length
        start += length
        if seen >= frames:
            accuracies.append(right / seen)
            right = seen = 0
    return accuracies


if __name__ == "__main__":
    main()
