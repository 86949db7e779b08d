"""Training throughput per model family, and the share of an epoch spent outside the model.

    .venv/bin/python benchmarks/train_step.py [--frames 60000] [--threads 2] [--only mlp]
        [--accuracy]

For each family (the RNNs are BiLSTMs), on a random train split (real-data utterance lengths,
60k frames by default) and a 3k-frame val split, measured side by side in one run:
  epoch s    wall-clock seconds of one epoch of `sweeper.train.train` (training + validation)
  cpu s      the same epoch in CPU seconds of this process
  model s    CPU seconds of the same steps on batches gathered beforehand: forward, loss,
             backward and optimizer step, plus the validation forward passes; nothing else
  outside    1 - model s / cpu s: batch gathering, bookkeeping and Python around the model
             (target: at most 10% for the MLP 3 x 512 at n = 21 on CPU)
The share compares CPU time, not wall time, so other processes competing for the cores do
not distort it. Each figure is the best of REPEATS epochs after a warm-up epoch.

Then whole-utterance batches on the default embedded corpus, random against length-bucketed:
padded steps per real step at 8, 16 and 32 utterances a batch (goal: at most 1.15x at the
default 16), and the rnn-seq epoch on a 60k-frame subset of it with each (the speed-up in CPU
seconds too: wall time suffers most from other processes). With --accuracy, only this instead:
the best val_acc of a short rnn-seq run with each, 2 seeds apiece (about 4 minutes, 1 thread).
"""

from __future__ import annotations

import argparse
import time
from itertools import pairwise

import torch
from rich.console import Console
from rich.table import Table

from sweeper.data import SequenceBatches, Split, course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.models import build_model, count_parameters, resolve_config
from sweeper.models.config import SEQUENCE_BATCH_SIZE
from sweeper.phones import FEATURE_DIM, NUM_CLASSES
from sweeper.training.loop import EpochStats, frame_logits, make_batches, make_optimizer, train

REPEATS = 3
CONFIGS = {
    "mlp 1x256 n=11": {"family": "mlp", "n": 11, "layers": 1, "hidden": 256},
    "mlp 3x512 n=21": {"family": "mlp", "n": 21, "layers": 3, "hidden": 512},
    "rnn-window 1x128 n=11": {"family": "rnn-window", "n": 11, "layers": 1, "hidden": 128},
    "rnn-seq 2x128 n=11": {"family": "rnn-seq", "n": 11, "layers": 2, "hidden": 128},
}
TARGET = ("mlp 3x512 n=21", 0.10)
PADDING_GOAL = 1.15  # padded / real steps at the default batch size, bucketed
SEQUENCE = {"family": "rnn-seq", "n": 11, "layers": 2, "hidden": 128}
ACCURACY_RUN = {"family": "rnn-seq", "n": 5, "layers": 1, "hidden": 64, "lr": 3e-3, "epochs": 8}


def random_split(name: str, frames: int, seed: int) -> Split:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(300, 940, (frames // 620 + 1,), generator=generator)  # mean 620
    lengths = lengths[: int((lengths.cumsum(0) < frames).sum()) + 1]
    total = int(lengths.sum())
    return Split(
        name=name,
        features=torch.randn(total, FEATURE_DIM, generator=generator),
        labels=torch.randint(0, NUM_CLASSES, (total,), generator=generator),
        offsets=torch.cumsum(lengths, 0) - lengths,
        lengths=lengths,
        utt_ids=tuple(f"{name}-{i}" for i in range(len(lengths))),
    )


def trainer_epochs(config: dict, train_split: Split, val_split: Split) -> tuple[float, float]:
    """(wall s, CPU s) of the best trainer epoch after a warm-up one."""
    stamps = [time.process_time()]
    history: list[EpochStats] = []

    def on_epoch(stats: EpochStats) -> None:
        stamps.append(time.process_time())
        history.append(stats)

    train({**config, "epochs": REPEATS + 1}, train_split, val_split, on_epoch=on_epoch)
    cpu = [end - start for start, end in pairwise(stamps)]
    return min(s.epoch_seconds for s in history[1:]), min(cpu[1:])


def model_only(config: dict, train_split: Split, val_split: Split) -> float:
    """CPU s of the best epoch of model work alone, on batches gathered beforehand."""
    cfg = resolve_config(config)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    optimizer = make_optimizer(cfg, model)
    criterion = torch.nn.CrossEntropyLoss()
    cpu = torch.device("cpu")
    train_batches = list(make_batches(cfg, train_split, shuffle=True, device=cpu).epoch(0))
    val_batches = list(make_batches(cfg, val_split, shuffle=False, device=cpu).epoch(0))
    seconds = []
    for _ in range(REPEATS + 1):
        started = time.process_time()
        model.train()
        for batch in train_batches:
            logits, y = frame_logits(cfg, model, batch)
            loss = criterion(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for batch in val_batches:
                frame_logits(cfg, model, batch)
        seconds.append(time.process_time() - started)
    return min(seconds[1:])


def default_corpus_split() -> tuple[Split, Split, Split]:
    """The default corpus's course train split, and 60k / 3k-frame subsets of train / val."""
    train_all, val_all = course_split(load_corpus(resolve_data_dir(None)).train)
    return train_all, subset(train_all, 60_000, seed=0), subset(val_all, 3_000, seed=0)


def bucketed_against_random(console: Console) -> None:
    """Padded / real steps and the rnn-seq epoch with random and with bucketed batches."""
    train_all, train_split, val_split = default_corpus_split()
    padding = Table(title=f"padded / real steps, default corpus ({train_all.num_utterances} utts)")
    for column in ("utterances a batch", "random", "bucketed", "goal"):
        padding.add_column(column, justify="right")
    for size in (8, SEQUENCE_BATCH_SIZE, 32):
        ratios = [
            sum(
                SequenceBatches(
                    train_all, 1, size, shuffle=True, length_buckets=buckets
                ).padding_ratio(epoch)
                for epoch in range(3)
            )
            / 3
            for buckets in (False, True)
        ]
        goal = f"<= {PADDING_GOAL}x" if size == SEQUENCE_BATCH_SIZE else ""
        padding.add_row(str(size), f"{ratios[0]:.2f}x", f"{ratios[1]:.2f}x", goal)
    console.print(padding)

    epochs = Table(title=f"rnn-seq 2x128 n=11 BiLSTM, {train_split.num_frames:,} frames")
    for column in ("batches", "epoch s", "cpu s", "frames/s"):
        epochs.add_column(column, justify="right")
    times = {}
    for name, buckets in (("random", False), ("bucketed", True)):
        config = {**SEQUENCE, "length_buckets": buckets}
        times[name] = wall, cpu = trainer_epochs(config, train_split, val_split)
        epochs.add_row(name, f"{wall:.2f}", f"{cpu:.2f}", f"{train_split.num_frames / wall:,.0f}")
    console.print(epochs)
    (wall_random, cpu_random), (wall_bucketed, cpu_bucketed) = times.values()
    console.print(
        f"bucketed epoch: {wall_random / wall_bucketed:.2f}x faster in wall time, "
        f"{cpu_random / cpu_bucketed:.2f}x in CPU time"
    )


def accuracy_random_against_bucketed(console: Console) -> None:
    """Best val_acc of the same short rnn-seq run with random and with bucketed batches."""
    _, train_split, val_split = default_corpus_split()
    results = Table(title=f"best val_acc, rnn-seq 1x64 n=5, {train_split.num_frames:,} frames")
    for column in ("batches", "seed 0", "seed 1", "mean ± half range", "epoch s"):
        results.add_column(column, justify="right")
    for name, buckets in (("random", False), ("bucketed", True)):
        accs, seconds = [], []
        for seed in (0, 1):
            config = {**ACCURACY_RUN, "length_buckets": buckets, "seed": seed}
            run = train(config, train_split, val_split)
            accs.append(run.best_val_acc)
            seconds += [s.epoch_seconds for s in run.history]
        results.add_row(
            name,
            *(f"{a:.4f}" for a in accs),
            f"{sum(accs) / 2:.4f} ± {abs(accs[0] - accs[1]) / 2:.4f}",
            f"{min(seconds):.2f}-{max(seconds):.2f}",
        )
    console.print(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60_000, help="train frames")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default all)")
    parser.add_argument("--only", default="", help="time only models whose name contains this")
    parser.add_argument(
        "--accuracy", action="store_true", help="only: val_acc, random vs bucketed batches"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train_split = random_split("train", args.frames, seed=1)
    val_split = random_split("val", 3_000, seed=2)

    console = Console()
    if args.accuracy:
        accuracy_random_against_bucketed(console)
        return
    table = Table(
        title=f"one epoch on {train_split.num_frames:,} frames "
        f"(CPU, {torch.get_num_threads()} threads)"
    )
    columns = ("model", "params", "epoch s", "frames/s", "cpu s", "model s", "outside")
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    shares: dict[str, float] = {}
    for name, config in CONFIGS.items():
        if args.only not in name:
            continue
        wall, cpu = trainer_epochs(config, train_split, val_split)
        model = model_only(config, train_split, val_split)
        shares[name] = 1 - model / cpu
        console.log(f"{name}: epoch {wall:.2f} s, cpu {cpu:.2f} s, model {model:.2f} s")
        table.add_row(
            name,
            f"{count_parameters(config):,}",
            f"{wall:.2f}",
            f"{train_split.num_frames / wall:,.0f}",
            f"{cpu:.2f}",
            f"{model:.2f}",
            f"{shares[name]:.1%}",
        )
    if shares:
        console.print(table)
    name, limit = TARGET
    if name in shares:
        verdict = "meets" if shares[name] <= limit else "MISSES"
        console.print(
            f"{name}: {shares[name]:.1%} of the epoch outside the model ({verdict} {limit:.0%})"
        )
    if args.only in "rnn-seq bucketed":
        bucketed_against_random(console)


if __name__ == "__main__":
    main()
