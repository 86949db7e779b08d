"""Training throughput per model family, and the share of an epoch spent outside the model.

    .venv/bin/python benchmarks/train_step.py [--frames 60000] [--threads 2] [--device cpu]

For each family, on a random 60k-frame train split (real-data utterance lengths) and a
3k-frame val split, measured side by side in one run:
  epoch s    one warm epoch of `sweeper.train.train` (training plus validation)
  model s    the same steps on batches gathered beforehand: forward, loss, backward and
             optimizer step, plus the validation forward passes; nothing else
  outside    1 - model s / epoch s: batch gathering, bookkeeping and Python around the model
             (target: at most 10% for the MLP 3 x 512 at n = 21 on CPU)
Each figure is the best of REPEATS, so another process stealing a core skews it less.
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from sweeper.data import Split
from sweeper.models import build_model, count_parameters, resolve_config
from sweeper.phones import FEATURE_DIM, NUM_CLASSES
from sweeper.train import frame_logits, make_batches, make_optimizer, select_device, train

REPEATS = 2
CONFIGS = {
    "mlp 1x256 n=11": {"family": "mlp", "n": 11, "layers": 1, "hidden": 256},
    "mlp 3x512 n=21": {"family": "mlp", "n": 21, "layers": 3, "hidden": 512},
    "rnn-window BiLSTM 1x128 n=11": {"family": "rnn-window", "n": 11, "layers": 1, "hidden": 128},
    "rnn-seq BiLSTM 2x128 n=11": {"family": "rnn-seq", "n": 11, "layers": 2, "hidden": 128},
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


def model_seconds(config: dict, train_split: Split, val_split: Split, device: str) -> float:
    """One epoch of the trainer's model work alone, on batches gathered beforehand."""
    cfg = resolve_config(config)
    dev = select_device(device)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(dev)
    optimizer = make_optimizer(cfg, model)
    criterion = torch.nn.CrossEntropyLoss()
    train_batches = list(make_batches(cfg, train_split, shuffle=True, device=dev).epoch(0))
    val_batches = list(make_batches(cfg, val_split, shuffle=False, device=dev).epoch(0))
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
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
        synchronize(dev)
        best = min(best, time.perf_counter() - started)
    return best


def synchronize(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60_000, help="train frames")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default all)")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda, mps")
    args = parser.parse_args()
    train_split = random_split("train", args.frames, seed=1)
    val_split = random_split("val", 3_000, seed=2)
    if args.threads:
        torch.set_num_threads(args.threads)

    table = Table(
        title=f"one epoch on {train_split.num_frames:,} frames "
        f"({select_device(args.device)}, {torch.get_num_threads()} threads)"
    )
    for column in ("model", "params", "epoch s", "frames/s", "model s", "outside"):
        table.add_column(column, justify="left" if column == "model" else "right")
    console = Console()
    shares = {}
    for name, config in CONFIGS.items():
        config = {**config, "epochs": REPEATS + 1}  # the first epoch warms up allocators
        with console.status(f"timing {name}"):
            result = train(config, train_split, val_split, device=args.device)
            epoch = min(s.epoch_seconds for s in result.history[1:])
            model = model_seconds(config, train_split, val_split, args.device)
        shares[name] = 1 - model / epoch
        table.add_row(
            name,
            f"{count_parameters(config):,}",
            f"{epoch:.2f}",
            f"{train_split.num_frames / epoch:,.0f}",
            f"{model:.2f}",
            f"{shares[name]:.1%}",
        )
    console.print(table)
    name, limit = TARGET
    verdict = "meets" if shares[name] <= limit else "MISSES"
    console.print(
        f"{name}: {shares[name]:.1%} of the epoch outside the model ({verdict} {limit:.0%})"
    )


if __name__ == "__main__":
    main()
