"""What the user watches: a live table of a study, read from its storage.

Reading the storage (not in-process callbacks) shows every worker's trials, local or remote.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console, Group, JustifyMethod
from rich.live import Live
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

STATE_STYLE = {
    "COMPLETE": "green",
    "PRUNED": "yellow",
    "FAIL": "red",
    "RUNNING": "cyan",
    "WAITING": "dim",
}


def format_params(params: dict[str, Any], width: int = 60) -> str:
    parts = []
    for key, value in params.items():
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


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
        self, study: optuna.Study, target: int | None, epochs: int, workers: int, console: Console
    ) -> None:
        self.study = study
        self.target = target
        self.epochs = epochs
        self.workers = workers
        self.console = console
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
        self._live.update(self.render(trials))

    def render(self, trials: list[FrozenTrial]) -> Group:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("trial", "state", "epoch", "val_acc", SECONDS):
            justify: JustifyMethod = "left" if column == "state" else "right"
            table.add_column(column, justify=justify, no_wrap=True)
        table.add_column("params", ratio=1)
        running = [t for t in trials if t.state == TrialState.RUNNING]
        for trial in running:
            best = best_of(trial)
            table.add_row(
                str(trial.number),
                Text(trial.state.name, STATE_STYLE["RUNNING"]),
                f"{len(trial.intermediate_values)}/{self.epochs}",
                "-" if best is None else f"{best:.4f}",
                f"{trial_seconds(trial) or 0:.0f}",
                format_params(trial.params),
            )
        return Group(table, summary(trials, self.target, self.workers))


def summary(trials: list[FrozenTrial], target: int | None, workers: int) -> Text:
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
    durations = [
        s for t in trials if t.state in FINISHED for s in [trial_seconds(t)] if s is not None
    ]
    if durations and target is not None and finished < target:
        eta = sum(durations) / len(durations) * (target - finished) / max(1, workers)
        text.append(f" · ETA {format_duration(eta)}")
    return text


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def leaderboard(trials: list[FrozenTrial], top: int = 10) -> Table:
    complete = ranked(trials)[:top]
    table = Table(title=f"Top {len(complete)} trials", header_style="bold")
    # Only params may wrap: on a narrow terminal (or 80 columns when piped) Rich would
    # otherwise squeeze the figures to an ellipsis to keep the parameters on one line.
    # "best/run": the epoch of the trial's best val_acc, of the epochs it ran.
    # "± se": the value's standard error over val utterances (a bootstrap); trials closer than
    # about two of them are not told apart by this val subset.
    for column in ("rank", "trial", "val_acc", "± se", N_PARAMS, "best/run", SECONDS):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("params", ratio=1)
    for rank, trial in enumerate(complete, 1):
        table.add_row(
            str(rank),
            Text.assemble(str(trial.number), trial_mark(trial)),
            f"{trial.value:.4f}",
            _standard_error(trial),
            f"{trial.user_attrs.get(N_PARAMS, 0):,}",
            f"{trial.user_attrs.get(BEST_EPOCH, '-')}/{trial.user_attrs.get(EPOCHS_RUN, '-')}",
            f"{trial.user_attrs.get(SECONDS, 0):.1f}",
            format_params(trial.params, 80),
        )
    return table


def _standard_error(trial: FrozenTrial) -> str:
    se = trial.user_attrs.get(VAL_ACC_SE)
    return "-" if se is None else f"{se:.4f}"
