"""What an epoch of a config costs on this machine: the figures studies/lstm_cpu.py is sized by.

Trains each candidate of the lstm study's two families on a train subset of the default corpus,
one at a time, for one epoch or `--cut` seconds, whichever comes first (a cut epoch is
extrapolated from its batches' pace), then one pass over the whole val split, as every epoch of
a trial ends. Prints wall and CPU seconds (all threads) with the load average: on a shared,
loaded machine, CPU seconds with `--threads 1` are what to compare with an idle machine's.

    python -m benchmarks.epoch_cost [--frames 20000] [--threads 2] [--cut 60] [--only window]
"""

from __future__ import annotations

import argparse
import os
import resource
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from sweeper.data import Split, course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.models import build_model, count_parameters
from sweeper.training import BatchProgress, TrainingStopped, predict, train

SHARED = {"cell": "lstm", "bidirectional": True, "dropout": 0.25, "weight_decay": 1e-5,
          "clip": 1.0, "optimizer": "adam", "lr": 1e-3, "epochs": 1}  # fmt: skip
WINDOW = {**SHARED, "family": "rnn-window", "pool": "centre", "batch_size": 256}
SEQ = {**SHARED, "family": "rnn-seq", "conv_channels": 0, "batch_size": 2}
# (name, config): recipes, and the corners of the CPU study's space. Not lstm.py's windowed
# baseline (4 x 512 over n = 41): one epoch of it on 60k frames took over 15 minutes here.
CANDIDATES: list[tuple[str, dict[str, Any]]] = [
    ("window 2x128 n=11 head 1 batch 512 (README ladder: 36 s a 60k-frame epoch, idle)",
     {**WINDOW, "layers": 2, "hidden": 128, "n": 11, "head_layers": 1, "batch_size": 512}),
    ("seq 2x192 n=1 2 utt (README ladder: 56 s a 60k-frame epoch, idle)",
     {**SEQ, "layers": 2, "hidden": 192, "n": 1, "head_layers": 1}),
    ("window 1x64 n=11 head 1", {**WINDOW, "layers": 1, "hidden": 64, "n": 11, "head_layers": 1}),
    ("window 2x64 n=15 head 1", {**WINDOW, "layers": 2, "hidden": 64, "n": 15, "head_layers": 1}),
    ("window 2x128 n=15 head 2", {**WINDOW, "layers": 2, "hidden": 128, "n": 15, "head_layers": 2}),
    ("window 2x96 n=11 head 1 batch 512",
     {**WINDOW, "layers": 2, "hidden": 96, "n": 11, "head_layers": 1, "batch_size": 512}),
    ("seq 2x128 n=1 2 utt", {**SEQ, "layers": 2, "hidden": 128, "n": 1, "head_layers": 1}),
    ("seq 2x128 n=1 1 utt", {**SEQ, "layers": 2, "hidden": 128, "n": 1, "head_layers": 1,
                             "batch_size": 1}),
    ("seq 2x128 n=9 1 utt conv 64",
     {**SEQ, "layers": 2, "hidden": 128, "n": 9, "head_layers": 1, "batch_size": 1,
      "conv_channels": 64}),
    ("seq 3x192 n=9 1 utt conv 64 head 2",
     {**SEQ, "layers": 3, "hidden": 192, "n": 9, "head_layers": 2, "batch_size": 1,
      "conv_channels": 64}),
    ("seq 1x64 n=1 2 utt", {**SEQ, "layers": 1, "hidden": 64, "n": 1, "head_layers": 0}),
]  # fmt: skip


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(
    config: dict[str, Any], part: Split, val: Split, threads: int, cut_after: float
) -> tuple[str, float, float, float, bool]:
    """(batches trained/of the epoch, train seconds, its CPU seconds, val CPU seconds, whether
    cut). CPU seconds, all threads: on a loaded machine the wall-clock figures say more of the
    neighbours than of the config; with one thread, CPU seconds are about an idle core's wall."""
    heard: list[BatchProgress] = []
    cpu = cpu_seconds()
    try:
        train(
            config,
            part,
            val,
            threads=threads,
            on_progress=heard.append,
            should_stop=lambda: "cut" if heard[-1].seconds > cut_after else None,
        )
        cut = False
    except TrainingStopped:
        cut = True
    last = heard[-1]
    # the first batch pays for start-up (allocations, one-off kernels): paced from the second
    scale = (last.total - 1) / (last.done - 1) if cut and last.done > 1 else 1.0
    train_s = heard[0].seconds + (last.seconds - heard[0].seconds) * scale
    cpu_s = (cpu_seconds() - cpu) * scale
    torch.set_num_threads(threads)
    model = build_model(config)
    cpu = cpu_seconds()
    predict(model, config, val, device="cpu")
    return f"{last.done}/{last.total}", train_s, cpu_s, cpu_seconds() - cpu, cut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cut", type=float, default=60.0, help="seconds of training at most")
    parser.add_argument("--only", default="", help="candidates whose name contains this")
    args = parser.parse_args()
    corpus = load_corpus(resolve_data_dir(None))
    train_all, val = course_split(corpus.train, seed=1337, ratio=0.8)
    part = subset(train_all, args.frames, seed=0)
    console = Console(width=160)
    console.print(
        f"{part.num_frames:,} train frames ({part.num_utterances} utterances), val "
        f"{val.num_frames:,} frames, {args.threads} threads, load average at start "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    table = Table()
    for column in (
        "candidate",
        "params",
        "batches",
        "train s",
        "train cpu s",
        "val cpu s",
        "epoch cpu s",
        "load",
    ):
        table.add_column(column, justify="left" if column == "candidate" else "right")
    for name, config in CANDIDATES:
        if args.only not in name:
            continue
        batches, train_s, cpu_s, val_s, cut = measure(config, part, val, args.threads, args.cut)
        row = (
            name,
            f"{count_parameters(config):,}",
            batches,
            f"{train_s:.1f}{' (x)' if cut else ''}",
            f"{cpu_s:.1f}",
            f"{val_s:.1f}",
            f"{cpu_s + val_s:.1f}",
            f"{os.getloadavg()[0]:.1f}",
        )
        table.add_row(*row)
        console.print(" | ".join(row), highlight=False)
    console.print(table)
    console.print("(x): extrapolated from a cut epoch's pace")


if __name__ == "__main__":
    main()
