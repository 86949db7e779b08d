"""What writing the Kaggle CSV with the registered (exported) model costs, per model family.

    .venv/bin/python benchmarks/promote_predict.py [--frames 20000] [--threads 2]

`sweeper promote` predicts the test split with the very program it registers (torch.export,
one utterance per call), so the CSV is what `models:/NAME@champion` predicts. On a random split
with real-data utterance lengths, measured side by side in one run:
  export s     export_classifier: tracing the trained model into a program
  batched s    training.predict: the eager model on the trainer's batches (the baseline)
  program s    predict_utterances with the exported program
  ratio        program s / batched s: the price of predicting with the registered artifact
Each timing is the best of REPEATS, so another process stealing a core skews it less.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from rich.console import Console
from rich.table import Table

from sweeper.data import Split
from sweeper.models import build_model
from sweeper.phones import FEATURE_DIM
from sweeper.promote.predictions import predict_utterances
from sweeper.promote.servable import export_classifier
from sweeper.training.loop import predict

REPEATS = 3
CONFIGS = {
    "mlp 3x512 n=21": {"family": "mlp", "n": 21, "layers": 3, "hidden": 512},
    "rnn-window BiLSTM 1x128 n=11": {"family": "rnn-window", "n": 11, "layers": 1, "hidden": 128},
    "rnn-seq BiLSTM 2x128 n=11": {"family": "rnn-seq", "n": 11, "layers": 2, "hidden": 128},
}


def random_split(frames: int) -> Split:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(300, 940, (frames // 620 + 1,), generator=generator)  # mean 620
    total = int(lengths.sum())
    return Split(
        name="test",
        features=torch.randn(total, FEATURE_DIM, generator=generator),
        labels=None,
        offsets=torch.cumsum(lengths, 0) - lengths,
        lengths=lengths,
        utt_ids=tuple(f"test-{i}" for i in range(len(lengths))),
    )


def best_of(work: Callable[[], object]) -> float:
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    split = random_split(args.frames)
    table = Table(
        title=f"Predicting {split.num_frames:,} frames ({split.num_utterances} utterances), "
        f"CPU, {args.threads} threads",
        header_style="bold",
    )
    for column in ("model", "export s", "batched s", "program s", "ratio", "same classes"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, config in CONFIGS.items():
        torch.manual_seed(0)
        model = build_model(config).eval()
        started = time.perf_counter()
        program = export_classifier(model, config)
        export_seconds = time.perf_counter() - started
        batched = best_of(lambda: predict(model, config, split, device="cpu"))  # noqa: B023
        exported = best_of(lambda: predict_utterances(program, split))  # noqa: B023
        same = torch.equal(predict(model, config, split, "cpu"), predict_utterances(program, split))
        table.add_row(
            name,
            f"{export_seconds:.1f}",
            f"{batched:.2f}",
            f"{exported:.2f}",
            f"{exported / batched:.2f}x",
            "yes" if same else "NO",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
