"""`sweeper compare`: the models of a comparison grid side by side, mean ± std over seeds.

A comparison grid (studies/deep_vs_shallow.py, studies/dropout.py) varies one axis (depth or
dropout) and a training seed; any other grid parameter, such as the parameter budget, splits the
models into groups (one line each in the plot); everything else is fixed.

Which epoch: a trial keeps the weights of its best-val epoch, so each model is reported by that
epoch's pair: its val accuracy and the train accuracy measured during the same epoch (while
training, dropout on, as the course notebooks measure it).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.atomic import write_atomically
from sweeper.errors import StudyError
from sweeper.masking import mask_url
from sweeper.study.record import BEST_EPOCH, CONFIG, N_PARAMS, PARENT_ATTR, RUN_ATTR
from sweeper.study.settings import settings_of
from sweeper.tracking.tracker import Tracker

SEED = "seed"
PNG, CSV, SUMMARY = "comparison.png", "comparison.csv", "summary.md"


@dataclass(frozen=True)
class Axis:
    """The grid parameter a comparison plots along, and how to name its two ends."""

    param: str
    label: str
    low: str  # the model at the axis's smallest value, in the homework's words
    high: str
    model: str  # a model's short name, from its axis value `x` and `width`


AXES = (
    Axis("layers", "depth", "wide-shallow", "narrow-deep", "{x} × {width}"),
    Axis("dropout", "dropout", "lightest dropout", "heaviest dropout", "p = {x}"),
)


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float | None  # None for a single seed

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        return cls(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None)

    def __str__(self) -> str:
        return f"{self.mean:.3f}" if self.std is None else f"{self.mean:.3f} ± {self.std:.3f}"


@dataclass(frozen=True)
class Cell:
    """One model of the grid (one axis value within one group), over its seeds."""

    group: tuple[Any, ...]  # the values of Comparison.group_params
    x: Any
    width: int
    n_params: int
    seeds: int
    train_acc: Stat
    val_acc: Stat
    epoch_seconds: float

    @property
    def gap(self) -> float:
        return self.train_acc.mean - self.val_acc.mean


@dataclass(frozen=True)
class Comparison:
    study: str
    axis: Axis
    group_params: tuple[str, ...]
    cells: list[Cell]  # sorted by group, then axis value
    settings: Mapping[str, Any]  # the study's "sweeper" user attrs (subset sizes, epochs)
    repeated: tuple[int, ...] = ()  # trials that re-ran an earlier trial's params and seed

    def groups(self) -> dict[tuple[Any, ...], list[Cell]]:
        groups: dict[tuple[Any, ...], list[Cell]] = defaultdict(list)
        for cell in self.cells:
            groups[cell.group].append(cell)
        return dict(groups)

    def group_values(self, group: tuple[Any, ...]) -> list[str]:
        """A group's values as the table shows them (budgets as 100k, 2M)."""
        return [
            _si(value) if param == "budget" else str(value)
            for param, value in zip(self.group_params, group, strict=True)
        ]

    def group_label(self, group: tuple[Any, ...]) -> str:
        return ", ".join(
            f"{value} params" if param == "budget" else f"{param}={value}"
            for param, value in zip(self.group_params, self.group_values(group), strict=True)
        )

    def setting(self) -> str:
        """How the models were trained, in one line: seeds, epochs, subset sizes."""
        seeds = "/".join(str(n) for n in sorted({c.seeds for c in self.cells}))
        line = f"{sum(c.seeds for c in self.cells)} models, {seeds} seed(s) each"
        if {"epochs", "subset_train_frames", "subset_val_frames"} <= self.settings.keys():
            line += (
                f", {self.settings['epochs']} epochs on {self.settings['subset_train_frames']:,}"
                f" train / {self.settings['subset_val_frames']:,} val frames"
            )
        return line + "; mean ± std over seeds"

    def model_label(self, cell: Cell) -> str:
        return self.axis.model.format(x=cell.x, width=cell.width)


def load_comparison(study: optuna.Study, tracker: Tracker) -> Comparison:
    """Read a comparison grid's complete trials from Optuna and their curves from MLflow."""
    name = study.study_name
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not trials:
        raise StudyError(f"study {name!r} has no complete trials yet")
    settings = settings_of(study) or {}
    params = set().union(*(t.params for t in trials))
    axis = next((a for a in AXES if a.param in params), None)
    if settings.get("sampler") != "grid" or axis is None or SEED not in params:
        raise StudyError(
            f"study {name!r} is not a comparison grid (sampler {settings.get('sampler')}, "
            f"params {', '.join(sorted(params))}): compare needs a grid over `seed` and "
            "`layers` or `dropout`, as in studies/deep_vs_shallow.py and studies/dropout.py"
        )
    parent = study.user_attrs.get(PARENT_ATTR)
    if not parent or tracker.run_status(parent) is None:
        raise StudyError(
            f"--tracking-uri {mask_url(tracker.tracking_uri)} holds no MLflow runs of study "
            f"{name!r}: pass the tracking URI its sweep used"
        )
    group_params = tuple(sorted(params - {axis.param, SEED}))
    by_cell: dict[tuple[tuple[Any, ...], Any], list[FrozenTrial]] = defaultdict(list)
    for trial in trials:
        group = tuple(trial.params.get(p) for p in group_params)
        by_cell[group, trial.params[axis.param]].append(trial)
    cells = [_cell(group, x, by_cell[group, x], tracker) for group, x in sorted(by_cell)]
    seen: set[tuple[tuple[str, Any], ...]] = set()
    repeated = []
    for trial in sorted(trials, key=lambda t: t.number):
        point = tuple(sorted(trial.params.items()))
        if point in seen:
            repeated.append(trial.number)
        seen.add(point)
    return Comparison(name, axis, group_params, cells, settings, tuple(repeated))


def _cell(group: tuple[Any, ...], x: Any, trials: list[FrozenTrial], tracker: Tracker) -> Cell:
    train_acc, seconds = [], []
    for trial in trials:
        run_id = trial.user_attrs.get(RUN_ATTR)
        best_epoch = trial.user_attrs.get(BEST_EPOCH)
        by_epoch = tracker.metric_history(run_id, "train_acc") if run_id else {}
        epoch_seconds = tracker.metric_history(run_id, "epoch_seconds") if run_id else {}
        if best_epoch not in by_epoch or not epoch_seconds:
            raise StudyError(
                f"trial {trial.number}: MLflow run {run_id or '(none)'} has no per-epoch "
                f"train_acc in {mask_url(tracker.tracking_uri)}"
            )
        train_acc.append(by_epoch[best_epoch])
        seconds.append(statistics.fmean(epoch_seconds.values()))
    first = trials[0].user_attrs
    return Cell(
        group=group,
        x=x,
        width=first[CONFIG]["hidden"],
        n_params=first[N_PARAMS],
        seeds=len(trials),
        train_acc=Stat.of(train_acc),
        val_acc=Stat.of([t.value for t in trials if t.value is not None]),
        epoch_seconds=statistics.fmean(seconds),
    )


def table(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted rows, for the terminal and the markdown summary."""
    headers = [
        *comparison.group_params,
        comparison.axis.label,
        "width",
        "params",
        "seeds",
        "train acc",
        "val acc",
        "s/epoch",
    ]
    rows = [
        [
            *comparison.group_values(c.group),
            str(c.x),
            str(c.width),
            f"{c.n_params:,}",
            str(c.seeds),
            str(c.train_acc),
            str(c.val_acc),
            f"{c.epoch_seconds:.2f}",
        ]
        for c in comparison.cells
    ]
    return headers, rows


def findings(comparison: Comparison) -> list[str]:
    """One sentence per group answering the homework's question with the numbers."""
    axis = comparison.axis
    lines = []
    for group, cells in comparison.groups().items():
        low, high = cells[0], cells[-1]
        best = max(cells, key=lambda c: c.val_acc.mean)
        lead = high.val_acc.mean - low.val_acc.mean
        ahead = axis.high if lead > 0 else axis.low
        if low.val_acc.std is None or high.val_acc.std is None:
            spread = "with one seed each, no spread to judge it by"
        elif abs(lead) > low.val_acc.std + high.val_acc.std:
            spread = "more than the seeds' spread"
        else:
            spread = "within the seeds' spread"
        prefix = f"{comparison.group_label(group)}: " if group else ""
        lines.append(
            f"{prefix}{axis.low} {comparison.model_label(low)} reaches val {low.val_acc} "
            f"(train {low.train_acc}), {axis.high} {comparison.model_label(high)} val "
            f"{high.val_acc} (train {high.train_acc}): {ahead} is ahead by {abs(lead):.3f}, "
            f"{spread}. Best val: {comparison.model_label(best)} ({best.val_acc}). "
            f"Train - val gap {low.gap:+.3f} ({axis.low}) vs {high.gap:+.3f} ({axis.high})."
        )
    return lines


def repeat_warning(comparison: Comparison) -> str | None:
    """Why the seed counts may mislead: trials that re-ran an earlier trial's grid point."""
    if not comparison.repeated:
        return None
    trials = ", ".join(map(str, comparison.repeated))
    return (
        f"trials {trials} re-ran an earlier trial's params and seed, so some models count one "
        "seed more than once"
    )


def summary_markdown(comparison: Comparison) -> str:
    headers, rows = table(comparison)
    warning = repeat_warning(comparison)
    lines = [
        f"# {comparison.study}: train and val accuracy against {comparison.axis.label}",
        "",
        f"{comparison.setting()}. Each model is reported at its best-val epoch: that epoch's "
        "val accuracy and the train accuracy measured while training it (dropout on).",
        "",
        *(f"- {line}" for line in findings(comparison)),
        "",
        *([f"Warning: {warning}.", ""] if warning else []),
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def table_csv(comparison: Comparison) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            *comparison.group_params,
            comparison.axis.param,
            "width",
            N_PARAMS,
            "seeds",
            "train_acc_mean",
            "train_acc_std",
            "val_acc_mean",
            "val_acc_std",
            "epoch_seconds",
        ]
    )
    for c in comparison.cells:
        writer.writerow(
            [
                *c.group,
                c.x,
                c.width,
                c.n_params,
                c.seeds,
                f"{c.train_acc.mean:.6f}",
                "" if c.train_acc.std is None else f"{c.train_acc.std:.6f}",
                f"{c.val_acc.mean:.6f}",
                "" if c.val_acc.std is None else f"{c.val_acc.std:.6f}",
                f"{c.epoch_seconds:.4f}",
            ]
        )
    return buffer.getvalue()


def plot_png(comparison: Comparison) -> bytes:
    """Train (dashed) and val (solid) accuracy against the axis, one colour per group."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), layout="constrained")
    ax = figure.subplots()
    for index, (group, cells) in enumerate(comparison.groups().items()):
        colour = f"C{index}"
        label = comparison.group_label(group)
        xs = [c.x for c in cells]
        for split, style, marker in (("val", "-", "o"), ("train", "--", "s")):
            stats = [c.val_acc if split == "val" else c.train_acc for c in cells]
            ax.errorbar(
                xs,
                [s.mean for s in stats],
                yerr=[s.std or 0.0 for s in stats],
                color=colour,
                linestyle=style,
                marker=marker,
                capsize=3,
                label=f"{label} · {split}" if label else split,
            )
    ax.set_xticks(sorted({c.x for c in comparison.cells}))
    ax.set_xlabel(comparison.axis.label)
    ax.set_ylabel("frame accuracy at the best-val epoch")
    ax.set_title(
        f"{comparison.study}: train (dashed) and val (solid) accuracy\n{comparison.setting()}",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def render(comparison: Comparison) -> dict[str, bytes]:
    """The plot, the table as CSV and the markdown summary, by file name."""
    return {
        PNG: plot_png(comparison),
        CSV: table_csv(comparison).encode(),
        SUMMARY: summary_markdown(comparison).encode(),
    }


def write_files(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write each file through a temporary one, so a reader never sees half a file."""
    return [write_atomically(folder / name, data) for name, data in files.items()]


def _si(value: Any) -> str:
    """100000 -> 100k, 2000000 -> 2M: parameter budgets as people say them."""
    if not isinstance(value, int | float):
        return str(value)
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"
