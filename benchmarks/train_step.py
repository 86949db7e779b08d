"""Training throughput per model family, and the share of an epoch spent outside the model.

    .venv/bin/python benchmarks/train_step.py [--frames 60000] [--threads 2] [--only mlp]

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
"""

from __future__ import annotations

import argparse
import time
from itertools import pairwise

import torch
from rich.console import Console
from rich.table import Table

from sweeper.data import Split
from sweeper.models import build_model, count_parameters, resolve_config
from sweeper.phones import FEATURE_DIM, NUM_CLASSES
from sweeper.train import EpochStats, frame_logits, make_batches, make_optimizer, train

REPEATS = 3
CONFIGS = {
    "mlp 1x256 n=11": {"family": "mlp", "n": 11, "layers": 1, "hidden": 256},
    "mlp 3x512 n=21": {"family": "mlp", "n": 21, "layers": 3, "hidden": 512},
    "rnn-window 1x128 n=11": {"family": "rnn-window", "n": 11, "layers": 1, "hidden": 128},
    "rnn-seq 2x128 n=11": {"family": "rnn-seq", "n": 11, "layers": 2, "hidden": 128},
}
TARGET = ("mlp 3x512 n=21", 0.10)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60_000, help="train frames")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default all)")
    parser.add_argument("--only", default="", help="time only models whose name contains this")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train_split = random_split("train", args.frames, seed=1)
    val_split = random_split("val", 3_000, seed=2)

    console = Console()
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
    console.print(table)
    name, limit = TARGET
    if name in shares:
        verdict = "meets" if shares[name] <= limit else "MISSES"
        console.print(
            f"{name}: {shares[name]:.1%} of the epoch outside the model ({verdict} {limit:.0%})"
        )


if __name__ == "__main__":
    main()
