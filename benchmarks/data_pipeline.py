"""Data pipeline against the course sample code, measured side by side in one run.

    .venv/bin/python benchmarks/data_pipeline.py [--frames 300000]

Writes a random LibriPhone directory (per-utterance .pt files, real-data utterance lengths) to
a temporary dir and measures:
  (a) peak memory of one epoch of n-frame training windows, ours (gathered per batch) against
      the sample code's materialised (frames, 39*n) tensor, each in a fresh process;
  (b) input cost of one epoch at n=11: our FrameBatches against a DataLoader over the sample
      code's Dataset of the materialised tensor;
  (c) loading the directory: reading every .pt (our cold load) against the consolidated cache.
      The .pt files were just written, so both read from the OS page cache, not the disk.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from sweeper.data import FrameBatches, Split, load_corpus
from sweeper.data.layout import write_libriphone
from sweeper.phones import FEATURE_DIM, NUM_CLASSES

BATCH_SIZE = 512  # the sample code's
MEMORY_WINDOWS = (11, 41, 81)


# --- the course sample code, as students run it (the baseline) ------------------------------
def shift(x: torch.Tensor, n: int) -> torch.Tensor:
    if n < 0:
        left = x[0].repeat(-n, 1)
        right = x[:n]
    elif n > 0:
        right = x[-1].repeat(n, 1)
        left = x[n:]
    else:
        return x
    return torch.cat((left, right), dim=0)


def concat_feat(x: torch.Tensor, concat_n: int) -> torch.Tensor:
    assert concat_n % 2 == 1
    if concat_n < 2:
        return x
    seq_len, feature_dim = x.size(0), x.size(1)
    x = x.repeat(1, concat_n)
    x = x.view(seq_len, concat_n, feature_dim).permute(1, 0, 2)
    mid = concat_n // 2
    for r_idx in range(1, mid + 1):
        x[mid + r_idx, :] = shift(x[mid + r_idx], r_idx)
        x[mid - r_idx, :] = shift(x[mid - r_idx], -r_idx)
    return x.permute(1, 0, 2).view(seq_len, concat_n * feature_dim)


class LibriDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.data = x
        self.label = y

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.data[idx], self.label[idx]

    def __len__(self) -> int:
        return len(self.data)


def materialise(split: Split, n: int) -> torch.Tensor:
    """The sample code's preprocess_data: every utterance's windows into one big tensor."""
    windows = torch.empty(split.num_frames, FEATURE_DIM * n)
    for start, length in zip(split.offsets.tolist(), split.lengths.tolist(), strict=True):
        windows[start : start + length] = concat_feat(split.features[start : start + length], n)
    return windows


# --- measurement -----------------------------------------------------------------------------
def seconds(work: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _status_kib(field: str) -> int:
    found = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    assert found, f"no {field} in /proc/self/status (Linux only)"
    return int(found[1])


def drain(batches: Iterable[object]) -> None:
    for _ in batches:
        pass


def one_epoch(split: Split, who: str, n: int) -> None:
    if who == "ours":
        drain(FrameBatches(split, n, BATCH_SIZE, shuffle=True).epoch(0))
    else:
        dataset = LibriDataset(materialise(split, n), split.labels)
        drain(DataLoader(dataset, BATCH_SIZE, shuffle=True))


def measure_memory(root: Path, who: str, n: int) -> None:
    """In a fresh process: peak RSS above the loaded corpus during one epoch of windows."""
    split = load_corpus(root).train
    split.features.sum()  # the memory-mapped cache is now resident: the baseline holds it
    one_epoch(split.select([0]), who, n)  # first use maps code pages; they are not data
    baseline = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    one_epoch(split, who, n)
    print((_status_kib("VmHWM") - baseline) * 1024)


def extra_bytes(root: Path, who: str, n: int) -> int:
    command = [sys.executable, __file__, "--memory", who, str(n), str(root)]
    command += ["--threads", str(torch.get_num_threads())]
    # a fixed mmap threshold stops glibc from keeping freed batch-sized blocks on its heap, so
    # RSS follows the memory actually in use (left adaptive, it can retain a few batches more)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    return int(subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout)


def random_corpus(root: Path, frames: int) -> Split:
    generator = torch.Generator().manual_seed(0)
    lengths: list[int] = []
    while sum(lengths) < frames:
        # the real data's utterances: 4268 of them over 2.64M frames, about 620 each
        lengths.append(int(torch.randint(200, 1040, (1,), generator=generator)))

    def split(name: str, lengths: list[int]) -> Split:
        total = sum(lengths)
        return Split.from_utterances(
            name,
            [f"{name}-{i:05d}" for i in range(len(lengths))],
            torch.randn(total, FEATURE_DIM, generator=generator).split(lengths),
            torch.randint(0, NUM_CLASSES, (total,), generator=generator).split(lengths),
        )

    train = split("train", lengths)
    write_libriphone(root, train, split("test", lengths[:20]))
    return train


def report_loading(root: Path) -> Split:
    start = time.perf_counter()
    split = load_corpus(root).train
    cold = time.perf_counter() - start
    cached = seconds(lambda: load_corpus(root))
    cached_and_read = seconds(lambda: load_corpus(root).train.features.sum())
    print("(c) loading the directory")
    print(f"  cold (read every .pt, validate, hash, write cache)  {cold:8.3f} s")
    print(f"  cached (memory-mapped)                              {cached:8.3f} s")
    print(f"  cached, then every feature read once                {cached_and_read:8.3f} s")
    print(
        f"  cold / cached: {cold / cached:.0f}x; cold / cached+read: "
        f"{cold / cached_and_read:.0f}x (goal >= 20x)\n"
    )
    return split


def report_epoch_cost(split: Split, n: int) -> None:
    assert split.labels is not None
    windows = materialise(split, n)
    in_file_order = FrameBatches(split, n, 8192, shuffle=False).epoch(0)
    assert torch.equal(torch.cat([x for x, _ in in_file_order]), windows), "not the same windows"
    ours = FrameBatches(split, n, BATCH_SIZE, shuffle=True)
    theirs = DataLoader(LibriDataset(windows, split.labels), BATCH_SIZE, shuffle=True)
    ours_s = seconds(lambda: drain(ours.epoch(0)))
    theirs_s = seconds(lambda: drain(theirs))
    print(f"(b) one epoch of n={n} input batches of {BATCH_SIZE}, same windows on both sides")
    print(f"  DataLoader over the materialised tensor  {theirs_s:8.3f} s")
    print(f"  FrameBatches                             {ours_s:8.3f} s")
    print(f"  ours costs {theirs_s / ours_s:.1f}x less (goal >= 10x)\n")


def report_memory(root: Path, raw: int) -> None:
    print("(a) peak memory during one epoch of windows: raw features + extra, relative to raw")
    print("     n    ours  (extra MiB; one batch MiB)   theirs  (extra MiB)")
    for n in MEMORY_WINDOWS:
        ours, theirs = extra_bytes(root, "ours", n), extra_bytes(root, "theirs", n)
        batch = BATCH_SIZE * FEATURE_DIM * n * 4
        print(
            f"  {n:4d}  {(raw + ours) / raw:5.2f}x  ({ours / 2**20:5.1f}; {batch / 2**20:4.1f})"
            f"            {(raw + theirs) / raw:5.1f}x  ({theirs / 2**20:7.1f})"
        )
    print("  (goal: ours flat in n and at most 1.5x; what grows is the batch itself)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300_000, help="train frames to generate")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both sides (default 1: a sweep runs one worker per core, and "
        "on a busy machine multi-threaded small ops mostly measure the neighbours)",
    )
    parser.add_argument("--memory", nargs=3, help=argparse.SUPPRESS)  # child: who, n, root
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory:
        who, n, root = args.memory
        measure_memory(Path(root), who, int(n))
        return

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # children inherit it
        root = Path(tmp) / "libriphone"
        generated = random_corpus(root, args.frames)
        raw = generated.features.nelement() * generated.features.element_size()
        print(
            f"corpus: {generated.num_utterances} train utterances, {generated.num_frames:,} "
            f"frames, raw features {raw / 2**20:.1f} MiB; torch threads: "
            f"{torch.get_num_threads()}\n"
        )
        split = report_loading(root)
        report_epoch_cost(split, n=11)
        report_memory(root, raw)


if __name__ == "__main__":
    main()
