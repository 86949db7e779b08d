"""A Rich progress bar for corpus generation, shared by `sweeper data synth` and the default
dataset's first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sweeper.data.synth.generate import Progress as ProgressCallback


@contextmanager
def progress_bar(console: Console, description: str) -> Iterator[ProgressCallback]:
    """Yields the `progress` callback for `generate_corpus`. The bar appears with the first
    report, so a run refused for bad input shows only its error."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("utterances"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    task: TaskID | None = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(description, total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()
