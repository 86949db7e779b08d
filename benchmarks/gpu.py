"""sweeper on a GPU against the floor, and trials per hour with 1, 2 and 4 trials per GPU.

    .venv/bin/python -m benchmarks.gpu                      # on a CUDA machine, GPU 0
    .venv/bin/python -m benchmarks.gpu --device cpu         # small, anywhere (CI smoke test)

Measured side by side in one run, goals printed beside the figures:
  (a) an rnn-seq epoch of `sweeper.train.train` (3 x 256 BiLSTM, n = 11, bucketed batches,
      default precision; also with amp none) against the floor: a minimal loop of one
      nn.LSTM over packed sequences and a Linear, over the same batches gathered beforehand,
      in the same precision. Goal: within 1.3x of the floor.
  (b) the same for an MLP 3 x 512, n = 21, against a minimal nn.Sequential loop.
  (c) trials per hour of the quick study (studies/quick.py) and of a short whole-utterance
      LSTM study, with 1, 2 and 4 trials per GPU (`sweeper run --gpus 0 --per-gpu K`; on CPU
      `--workers K`), timed from the first trial's start to the last one's end. Goal: at
      least 3x the trials per hour with 4 per GPU for the quick study.
  (d) peak GPU memory of (a) and (b), and the largest trial peak of each sweep (the
      gpu_memory_peak_mb metric every trial logs to MLflow).
Epoch figures are the best of --repeats epochs (default 3) after a warm-up epoch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sweeper.data import Split, course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.models import resolve_config
from sweeper.phones import FEATURE_DIM, NUM_CLASSES
from sweeper.training import make_batches, select_device, train

REPEATS = 3  # epochs timed after the warm-up one (--repeats)
FLOOR_GOAL = 1.3  # rnn-seq epoch / floor epoch, at most
PACKING_GOAL = 3.0  # quick-study trials per hour, 4 per GPU against 1, at least
ROOT = Path(__file__).resolve().parent.parent
# per device: model sizes, subset frames, trials per sweep
SIZES: dict[str, dict[str, Any]] = {
    "cuda": {
        "rnn": {"family": "rnn-seq", "n": 11, "layers": 3, "hidden": 256, "head_layers": 0},
        "mlp": {"family": "mlp", "n": 21, "layers": 3, "hidden": 512},
        "frames": 60_000,
        "trials": {"quick": 24, "lstm": 8},
    },
    "cpu": {
        "rnn": {"family": "rnn-seq", "n": 3, "layers": 1, "hidden": 32, "head_layers": 0},
        "mlp": {"family": "mlp", "n": 5, "layers": 1, "hidden": 64},
        "frames": 6_000,
        "trials": {"quick": 4, "lstm": 2},
    },
}
LSTM_STUDY = """
import optuna
from sweeper import StudySpec

study = StudySpec(train_frames={frames}, val_frames=3_000, epochs=3, sampler="random",
                  pruner="none")


def search_space(trial: optuna.Trial) -> dict:
    return {{
        "family": "rnn-seq",
        "layers": trial.suggest_int("layers", 1, 3),
        "hidden": trial.suggest_int("hidden", 64, 256, log=True),
        "n": trial.suggest_int("step_window", 1, 11, step=2),
        "batch_size": trial.suggest_categorical("utterances_per_batch", [8, 16, 32]),
        "lr": trial.suggest_float("lr", 1e-3, 5e-3, log=True),
    }}
"""


def synchronize(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def reset_peak(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)


def peak_mb(dev: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None


def sweeper_epoch(
    config: dict[str, Any], train_split: Split, val_split: Split, dev: torch.device, repeats: int
) -> tuple[float, float | None]:
    """(best epoch s, peak MB) of `sweeper.train.train` with this config."""
    run = train({**config, "epochs": repeats + 1}, train_split, val_split, device=str(dev))
    return min(s.epoch_seconds for s in run.history[1:]), run.history[-1].gpu_memory_peak_mb


def floor_epoch(
    config: dict[str, Any],
    model: nn.Module,
    forward: Callable[[nn.Module, Any], tuple[torch.Tensor, torch.Tensor]],
    train_split: Split,
    val_split: Split,
    dev: torch.device,
    repeats: int,
) -> tuple[float, float | None]:
    """(best epoch s, peak MB) of a minimal loop over the trainer's batches, gathered once."""
    cfg = resolve_config(config)
    train_batches = list(make_batches(cfg, train_split, shuffle=True, device=dev).epoch(0))
    val_batches = list(make_batches(cfg, val_split, shuffle=False, device=dev).epoch(0))
    amp = autocast_dtype(dev)
    model = model.to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    reset_peak(dev)
    seconds = []
    for _ in range(repeats + 1):
        synchronize(dev)
        started = time.perf_counter()
        model.train()
        for batch in train_batches:
            with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
                logits, y = forward(model, batch)
                loss = nn.functional.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad(), torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
            for batch in val_batches:
                forward(model, batch)
        synchronize(dev)
        seconds.append(time.perf_counter() - started)
    return min(seconds[1:]), peak_mb(dev)


def autocast_dtype(dev: torch.device) -> torch.dtype | None:
    """The precision sweeper's default (amp auto) trains in on this device."""
    if dev.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    return None


class MinimalRNN(nn.Module):
    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.rnn = nn.LSTM(
            FEATURE_DIM * cfg.n,
            cfg.hidden,
            num_layers=cfg.layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.out = nn.Linear(2 * cfg.hidden, NUM_CLASSES)


def rnn_forward(model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    packed = pack_padded_sequence(batch.x, batch.lengths, batch_first=True, enforce_sorted=False)
    # as sweeper does: autocast would run cuDNN's RNN in float16, unscaled under bf16
    with torch.autocast(batch.x.device.type, enabled=False):
        steps, _ = pad_packed_sequence(model.rnn(packed)[0], batch_first=True)
    return model.out(steps[batch.mask]), batch.y[batch.mask]


def minimal_mlp(cfg: Any) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = FEATURE_DIM * cfg.n
    for _ in range(cfg.layers):
        layers += [nn.Linear(width, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU()]
        layers.append(nn.Dropout(cfg.dropout))
        width = cfg.hidden
    return nn.Sequential(*layers, nn.Linear(width, NUM_CLASSES))


def mlp_forward(model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch
    return model(x), y


def epochs_table(
    sizes: dict[str, Any],
    train_split: Split,
    val_split: Split,
    dev: torch.device,
    repeats: int,
    figures: list[dict[str, Any]],
) -> tuple[Table, float]:
    """(a), (b) and their peak memory, each row also appended to `figures`; returns the table
    and the rnn-seq / floor ratio."""
    table = Table(title=f"one epoch, {train_split.num_frames:,} frames, {describe(dev)}")
    for column in ("model", "epoch s", "x floor", "goal", "peak MB"):
        table.add_column(column, justify="left" if column == "model" else "right")
    ratio = 0.0
    for name, config, model, forward in (
        ("rnn-seq", sizes["rnn"], MinimalRNN(resolve_config(sizes["rnn"])), rnn_forward),
        ("mlp", sizes["mlp"], minimal_mlp(resolve_config(sizes["mlp"])), mlp_forward),
    ):
        torch.manual_seed(0)
        splits = train_split, val_split
        floor, floor_peak = floor_epoch(config, model, forward, *splits, dev, repeats)
        ours, our_peak = sweeper_epoch(config, *splits, dev, repeats)
        full, full_peak = sweeper_epoch({**config, "amp": "none"}, *splits, dev, repeats)
        goal = f"<= {FLOOR_GOAL}x" if name == "rnn-seq" else ""
        if name == "rnn-seq":
            ratio = ours / floor
        for label, seconds, peak, row_goal in (
            (f"{name} sweeper", ours, our_peak, goal),
            (f"{name} sweeper, amp none", full, full_peak, ""),
            (f"{name} floor", floor, floor_peak, ""),
        ):
            table.add_row(label, f"{seconds:.3f}", f"{seconds / floor:.2f}x", row_goal, mb(peak))
            figures.append(
                {"model": label, "epoch_s": seconds, "x_floor": seconds / floor, "peak_mb": peak}
            )
    return table, ratio


def mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def describe(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)}, precision {autocast_dtype(dev) or 'tf32'}"
    return f"CPU, {torch.get_num_threads()} threads"


def sweep(
    study: Path, trials: int, per_gpu: int, dev: torch.device, data: Path, workdir: Path
) -> tuple[float, float | None]:
    """(trials per hour from the first trial's start to the last one's end, largest trial
    peak MB) of one `sweeper run` with `per_gpu` trials at once."""
    import optuna
    from mlflow.tracking import MlflowClient

    command = [sys.executable, "-m", "sweeper", "run", str(study), "--trials", str(trials)]
    command += ["--data", str(data), "--seed", "0"]
    if dev.type == "cuda":
        command += ["--gpus", str(dev.index or 0), "--per-gpu", str(per_gpu)]
    else:
        command += ["--device", "cpu", "--workers", str(per_gpu)]
    result = subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"sweeper run {study.name} failed:\n{result.stderr[-2000:]}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs = optuna.load_study(study_name=study.stem, storage=f"sqlite:///{workdir}/sweeps.db")
    finished = [t for t in runs.get_trials(deepcopy=False) if t.datetime_complete]
    span = max(t.datetime_complete for t in finished) - min(t.datetime_start for t in finished)
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir}/mlflow.db")
    experiment = client.get_experiment_by_name(study.stem)
    assert experiment is not None
    peaks = [
        run.data.metrics["gpu_memory_peak_mb"]
        for run in client.search_runs([experiment.experiment_id], max_results=1000)
        if "gpu_memory_peak_mb" in run.data.metrics
    ]
    return len(finished) / span.total_seconds() * 3600, max(peaks, default=None)


def sweeps_table(
    sizes: dict[str, Any],
    levels: list[int],
    studies: list[str],
    dev: torch.device,
    data: Path,
    figures: list[dict[str, Any]],
) -> tuple[Table, float | None]:
    """(c) and the sweeps' peaks, each row also appended to `figures`; returns the table and
    quick's gain at 4 per GPU."""
    table = Table(title="trials per hour (first trial start to last trial end)")
    for column in ("study", "per GPU", "trials", "trials/h", "x one per GPU", "goal", "peak MB"):
        table.add_column(column, justify="left" if column == "study" else "right")
    gain = None
    with tempfile.TemporaryDirectory() as tmp:
        files = {"quick": ROOT / "studies" / "quick.py", "lstm": Path(tmp) / "lstm_short.py"}
        files["lstm"].write_text(LSTM_STUDY.format(frames=sizes["frames"]))
        for name in studies:
            base = None
            for level in levels:
                workdir = Path(tmp) / f"{name}-{level}"
                workdir.mkdir()
                trials = sizes["trials"][name]
                rate, peak = sweep(files[name], trials, level, dev, data, workdir)
                base = base or rate
                goal = f">= {PACKING_GOAL}x" if name == "quick" and level == 4 else ""
                if name == "quick" and level == 4:
                    gain = rate / base
                table.add_row(
                    name,
                    str(level),
                    str(trials),
                    f"{rate:,.0f}",
                    f"{rate / base:.2f}x",
                    goal,
                    mb(peak),
                )
                figures.append(
                    {
                        "study": name,
                        "per_gpu": level,
                        "trials": trials,
                        "trials_per_hour": rate,
                        "x_one_per_gpu": rate / base,
                        "peak_mb": peak,
                    }
                )
    return table, gain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (small sizes)")
    parser.add_argument("--data", type=Path, default=None, help="corpus [default: embedded]")
    parser.add_argument("--frames", type=int, default=None, help="train frames for (a), (b)")
    parser.add_argument("--levels", default="1,2,4", help="trials per GPU to compare")
    parser.add_argument("--studies", default="quick,lstm", help="quick and/or lstm")
    parser.add_argument("--trials", type=int, default=None, help="trials per sweep")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="epochs timed (a), (b)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    dev = select_device(args.device)
    sizes = dict(SIZES["cuda" if dev.type == "cuda" else "cpu"])
    if args.frames:
        sizes["frames"] = args.frames
    if args.trials:
        sizes["trials"] = dict.fromkeys(sizes["trials"], args.trials)
    data = resolve_data_dir(args.data)
    train_all, val_all = course_split(load_corpus(data).train)
    train_split = subset(train_all, sizes["frames"], seed=0)
    val_split = subset(val_all, 3_000, seed=0)

    console = Console()
    figures: dict[str, Any] = {"device": describe(dev), "epochs": [], "sweeps": []}
    epochs, ratio = epochs_table(
        sizes, train_split, val_split, dev, args.repeats, figures["epochs"]
    )
    console.print(epochs)
    levels = [int(level) for level in args.levels.split(",")]
    studies = [name for name in args.studies.split(",") if name]
    sweeps, gain = sweeps_table(sizes, levels, studies, dev, data, figures["sweeps"])
    console.print(sweeps)
    figures.update(rnn_seq_x_floor=ratio, quick_gain_at_4=gain)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    verdict = "meets" if ratio <= FLOOR_GOAL else "MISSES"
    console.print(f"rnn-seq epoch: {ratio:.2f}x the floor ({verdict} <= {FLOOR_GOAL}x)")
    if gain is not None:
        verdict = "meets" if gain >= PACKING_GOAL else "MISSES"
        console.print(
            f"quick study, 4 trials per GPU: {gain:.2f}x the trials/h "
            f"({verdict} >= {PACKING_GOAL}x)"
        )


if __name__ == "__main__":
    main()
