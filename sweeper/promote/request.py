"""What `sweeper promote` is asked (the request), what a --top candidate's re-check measured, and
what a promotion ends with."""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from pathlib import Path

from sweeper.tracking.registry import Champion
from sweeper.training.loop import TrainResult


@dataclass(frozen=True)
class PromoteRequest:
    """What the user asked for; None means the documented default."""

    study_name: str
    storage_url: str
    tracking_uri: str
    trial: int | None = None
    epochs: int | None = None  # default: twice the study's epoch budget
    data: Path | None = None  # default: the directory the study was swept on
    out: Path = Path("predictions.csv")
    register_as: str | None = None  # default: the study name
    top: int = 1
    top_scale: float = 10.0  # --top subsets are this many times the study's
    seeds: int = 2  # --top K > 1 retrains each candidate this many times; unused otherwise
    patience: int = 3
    device: str = "auto"


@dataclass(frozen=True)
class Recheck:
    """One of the top K trials retrained on the larger subset, once per seed."""

    trial: int
    sweep_val_acc: float
    val_acc: dict[int, float]  # the best val_acc of each seed's run, by seed

    @property
    def mean(self) -> float:
        return statistics.mean(self.val_acc.values())

    @property
    def sd(self) -> float:
        """The sample standard deviation over the seeds (there are at least 2)."""
        return statistics.stdev(self.val_acc.values())

    def cells(self, seeds: list[int], digits: int) -> list[str]:
        """The val_acc of each of `seeds`, empty for a seed this trial did not run."""
        return [f"{self.val_acc[s]:.{digits}f}" if s in self.val_acc else "" for s in seeds]


def seeds_of(rechecks: list[Recheck]) -> list[int]:
    """Every seed any recheck ran, in order: one column each in the table and top_k.csv (a
    study that searches `seed` gives its candidates different ones)."""
    return sorted({seed for recheck in rechecks for seed in recheck.val_acc})


@dataclass(frozen=True)
class Promotion:
    trial: int
    run_id: str
    resumed: bool
    result: TrainResult
    train_frames: int
    val_frames: int
    test_acc: float | None
    test_frames: int
    predictions: Path
    champion: Champion
    rechecks: list[Recheck]
    experiment_id: str  # the study's MLflow experiment


def recheck_csv(rechecks: list[Recheck]) -> bytes:
    """One row per candidate, in the study's order; a seed it did not run is an empty cell."""
    seeds = seeds_of(rechecks)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["trial", "sweep_val_acc", "mean_val_acc", "sd_val_acc"]
        + [f"val_acc_seed_{seed}" for seed in seeds]
    )
    for r in rechecks:
        scores = [f"{value:.6f}" for value in (r.sweep_val_acc, r.mean, r.sd)]
        writer.writerow([r.trial, *scores, *r.cells(seeds, 6)])
    return buffer.getvalue().encode()
