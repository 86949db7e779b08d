"""What the user watches: a live table of a study, read from its storage.

Reading the storage (not in-process callbacks) shows every worker's trials, local or remote:
their progress inside an epoch too (sweeper.sweep.trial_progress), and from it when the sweep
ends at this pace (sweeper.sweep.estimate).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.live import Live
from rich.measure import Measurement
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from sweeper.study.record import (
    BEST_EPOCH,
    ENDED,
    EPOCHS_RUN,
    FAIL_REASON,
    FINISHED,
    N_PARAMS,
    PRUNE_REASON,
    SECONDS,
    STOPPED_EARLY,
    VAL_ACC_SE,
    WARM_START_FROM,
    baseline_of,
    ranked,
)
from sweeper.sweep.estimate import SweepEstimate, estimate
from sweeper.sweep.trial_progress import read_progress

STATE_STYLE = {
    "COMPLETE": "green",
    "PRUNED": "yellow",
    "FAIL": "red",
    "RUNNING": "cyan",
    "WAITING": "dim",
}


# Without a time budget, a sweep that needs longer than this at its pace is said to be long.
LONG_SWEEP_S = 3 * 3600


def format_params(params: dict[str, Any], width: int | None = 60) -> str:
    """`key=value ...`, cut to `width` characters (None: whole)."""
    parts = []
    for key, value in params.items():
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


@dataclass
class ParamsFitted:
    """A table of trials that shows each trial's params whole: in its last column where the
    terminal is wide enough, else below the table, a line a trial (a squeezed column would cut
    them to `dropout=0…`)."""

    columns: Callable[[], Table]  # the table with its columns but the params', and no rows
    rows: list[tuple[list[RenderableType], Text, dict[str, Any]]]  # (cells, which trial, params)

    def table(self, with_params: bool) -> Table:
        table = self.columns()
        if with_params:
            table.add_column("params", no_wrap=True)
        for cells, _, params in self.rows:
            table.add_row(*cells, *([format_params(params, None)] if with_params else []))
        return table

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        wide = self.table(True)
        unbounded = options.update_width(10**6)
        if Measurement.get(console, unbounded, wide).maximum <= options.max_width:
            yield wide
            return
        yield self.table(False)
        below = Table.grid(padding=(0, 2), pad_edge=True)
        below.add_column(no_wrap=True)
        below.add_column(style="dim")  # wrapped within its column, under its own start
        for _, trial, params in self.rows:
            below.add_row(trial, format_params(params, None))
        yield below


def trial_seconds(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None:
        return None
    end = trial.datetime_complete or datetime.now()
    return (end - trial.datetime_start).total_seconds()


def best_of(trial: FrozenTrial) -> float | None:
    if trial.state == TrialState.COMPLETE:
        return trial.value
    values = trial.intermediate_values.values()
    return max(values) if values else None


def trial_mark(trial: FrozenTrial) -> Text:
    """` baseline 2` or ` from quick:7`, to follow the number of a trial that runs a study
    file's baseline, or that copies or re-runs another study's trial (`--warm-start`)."""
    index = baseline_of(trial)
    if index is not None:
        return Text(f" baseline {index}", "magenta")
    source = trial.user_attrs.get(WARM_START_FROM)
    return Text("" if source is None else f" from {source}", "magenta")


def trial_line(trial: FrozenTrial, epochs: int) -> Text:
    state = trial.state.name
    best = best_of(trial)
    seconds = trial_seconds(trial) or 0.0
    line = Text.assemble(
        (f"trial {trial.number:>3}", "bold"),
        trial_mark(trial),
        " ",
        (f"{state:<8}", STATE_STYLE.get(state, "")),
        f" val_acc {best:.4f}" if best is not None else " val_acc   -   ",
        f"  epochs {len(trial.intermediate_values)}/{epochs}",
        f"  {seconds:6.1f}s  ",
        (format_params(trial.params), "dim"),
    )
    reason = trial.user_attrs.get(FAIL_REASON)
    if state == "FAIL" and reason:
        line.append(f"  ({reason})", "red")
    if state == "PRUNED" and trial.user_attrs.get(PRUNE_REASON):
        line.append(f"  ({trial.user_attrs[PRUNE_REASON]})", "yellow")
    if trial.user_attrs.get(STOPPED_EARLY):
        line.append(f"  (stopped early: {trial.user_attrs[STOPPED_EARLY]})", "yellow")
    return line


class Board:
    """Polls a study and keeps a Rich Live table current; prints a line per finished trial."""

    def __init__(
        self,
        study: optuna.Study,
        target: int | None,
        epochs: int,
        workers: int,
        console: Console,
        budget_ends: float | None = None,
    ) -> None:
        self.study = study
        self.target = target
        self.epochs = epochs
        self.workers = workers
        self.console = console
        self.budget_ends = budget_ends  # time.time() when --time-budget is spent
        self._warned = False  # that the sweep is long: once
        self._reported = {t.number for t in study.get_trials(deepcopy=False) if t.state in ENDED}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweeper-board", daemon=True)
        self._live = Live(console=console, refresh_per_second=2, transient=True)

    def __enter__(self) -> Board:
        self._live.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()  # the last trials that finished after the final tick
        self._live.__exit__(None, None, None)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.poll()
            except Exception:  # a busy or restarting database must not kill the display
                continue

    def poll(self) -> None:
        trials = self.study.get_trials(deepcopy=False)
        for trial in trials:
            if trial.state in ENDED and trial.number not in self._reported:
                self._reported.add(trial.number)
                self._live.console.print(trial_line(trial, self.epochs))
        ahead = estimate(trials, self.target, self.epochs, self.workers)
        if ahead is not None and not self._warned:
            warning = long_sweep_warning(ahead, self.budget_ends)
            if warning is not None:
                self._warned = True
                self._live.console.print(warning)
        self._live.update(self.render(trials, ahead))

    def render(self, trials: list[FrozenTrial], ahead: SweepEstimate | None = None) -> Group:
        running = [t for t in trials if t.state == TrialState.RUNNING]
        parts: list[RenderableType] = []
        if running:
            parts.append(running_table(running, self.epochs))
        parts.append(summary(trials, self.target))
        if ahead is not None:
            parts.append(
                Text(
                    f"ends in about {format_duration(ahead.seconds_left)} at this pace "
                    f"({ahead.basis()})",
                    "dim",
                )
            )
        elif self.budget_ends is not None:  # no target of trials: the budget alone ends it
            left = format_duration(max(0.0, self.budget_ends - time.time()))
            parts.append(Text(f"ends in about {left}, when --time-budget is spent", "dim"))
        return Group(*parts)


def running_table(running: list[FrozenTrial], epochs: int) -> ParamsFitted:
    """A row a running trial: its epoch, a bar of the batches done in it, its seconds an epoch
    (`~` while extrapolated from the epoch under way), its best val_acc so far."""

    def columns() -> Table:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("trial", "epoch", "batches", "", "s/epoch", "val_acc", SECONDS):
            table.add_column(column, justify="right", no_wrap=True)
        return table

    rows = []
    for trial in running:
        progress = read_progress(trial)
        epoch = len(trial.intermediate_values) if progress is None else progress.epoch - 1
        pace = None if progress is None else progress.seconds_per_epoch()
        best = best_of(trial)
        cells: list[RenderableType] = [
            Text.assemble(str(trial.number), trial_mark(trial)),
            f"{epoch}/{epochs}",
            ""
            if progress is None
            else ProgressBar(total=progress.total, completed=progress.done, width=16),
            "" if progress is None else f"{progress.done}/{progress.total}",
            "-" if pace is None else f"{'' if pace[1] else '~'}{pace[0]:.0f}",
            "-" if best is None else f"{best:.4f}",
            f"{trial_seconds(trial) or 0:.0f}",
        ]
        rows.append(
            (cells, Text.assemble(f"trial {trial.number}", trial_mark(trial)), trial.params)
        )
    return ParamsFitted(columns, rows)


def long_sweep_warning(ahead: SweepEstimate, budget_ends: float | None) -> Text | None:
    """A warning when the sweep needs longer than its --time-budget leaves, or than
    LONG_SWEEP_S without one, naming what to do about it; else None."""
    needs = format_duration(ahead.seconds_left)
    if budget_ends is not None:
        left = budget_ends - time.time()
        if ahead.seconds_left <= left:
            return None
        what = (
            f"more than the {format_duration(max(0.0, left))} left of --time-budget: it stops "
            "the sweep first (the next `sweeper run` goes on where it stopped)"
        )
    elif ahead.seconds_left > LONG_SWEEP_S:
        what = "give --time-budget to stop it in time (the next `sweeper run` goes on from there)"
    else:
        return None
    return Text.assemble(
        ("warning:", "yellow"),
        f" at this pace the sweep needs about {needs} ({ahead.basis()}), {what}; for a sweep "
        "this machine finishes, run a study sized for it (studies/lstm_cpu.py is "
        "studies/lstm.py's, for CPU cores) or use a GPU",
    )


def summary(trials: list[FrozenTrial], target: int | None) -> Text:
    """The study's counts and best; `target` None: the sweep runs until its time budget."""
    by_state = {s: sum(t.state == s for t in trials) for s in TrialState}
    finished = sum(by_state[state] for state in FINISHED)
    text = Text.assemble(
        ("finished ", "bold"),
        f"{finished}" if target is None else f"{finished}/{target}",
        f" · complete {by_state[TrialState.COMPLETE]}",
        f" · pruned {by_state[TrialState.PRUNED]}",
        f" · failed {by_state[TrialState.FAIL]}",
        f" · running {by_state[TrialState.RUNNING]}",
    )
    best_first = ranked(trials)
    if best_first:
        best = best_first[0]
        text.append(f" · best {best.value:.4f} (trial {best.number})", "green")
    return text


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def leaderboard(trials: list[FrozenTrial], top: int = 10) -> ParamsFitted:
    complete = ranked(trials)[:top]

    def columns() -> Table:
        table = Table(title=f"Top {len(complete)} trials", header_style="bold")
        # "best/run": the epoch of the trial's best val_acc, of the epochs it ran.
        # "± se": the value's standard error over val utterances (a bootstrap); trials closer
        # than about two of them are not told apart by this val subset.
        for column in ("rank", "trial", "val_acc", "± se", N_PARAMS, "best/run", SECONDS):
            table.add_column(column, justify="right", no_wrap=True)
        return table

    rows = []
    for rank, trial in enumerate(complete, 1):
        epochs = trial.user_attrs.get(BEST_EPOCH, "-"), trial.user_attrs.get(EPOCHS_RUN, "-")
        cells: list[RenderableType] = [
            str(rank),
            Text.assemble(str(trial.number), trial_mark(trial)),
            f"{trial.value:.4f}",
            _standard_error(trial),
            f"{trial.user_attrs.get(N_PARAMS, 0):,}",
            f"{epochs[0]}/{epochs[1]}",
            f"{trial.user_attrs.get(SECONDS, 0):.1f}",
        ]
        whose = Text.assemble(f"{rank:>2}. trial {trial.number}", trial_mark(trial))
        rows.append((cells, whose, trial.params))
    return ParamsFitted(columns, rows)


def _standard_error(trial: FrozenTrial) -> str:
    se = trial.user_attrs.get(VAL_ACC_SE)
    return "-" if se is None else f"{se:.4f}"
