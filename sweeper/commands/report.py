"""`sweeper report` and `sweeper studies`: what a storage holds, read back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sweeper.commands.options import StorageOption, StudyNameArgument, TrackingOption

console = Console()


def report(
    study_name: StudyNameArgument,
    storage: StorageOption = None,
    tracking_uri: TrackingOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the plots \\[default: sweeper-reports/NAME].")
    ] = None,
) -> None:
    """Leaderboard, counts by state, parameter importances and plots of a study.

    Plots (PNG and interactive HTML) go to a folder and onto the study's parent MLflow run.

    Example: sweeper report quick
    """
    from sweeper.analysis.report import log_report, write_report
    from sweeper.storage.rdb import load_existing_study, resolve_storage_url, resolve_tracking_uri
    from sweeper.study.record import PARENT_ATTR
    from sweeper.sweep.live import leaderboard
    from sweeper.tracking.tracker import Tracker, where_to_look

    study = load_existing_study(study_name, resolve_storage_url(storage))
    folder = out or Path("sweeper-reports") / study_name
    parent: str | None = study.user_attrs.get(PARENT_ATTR)
    tracking = resolve_tracking_uri(tracking_uri)
    tracker: Tracker | None = None
    if parent:  # a tracked study: the report goes onto its parent run as well
        tracker = Tracker(tracking, study_name)
        result = log_report(study, tracker, parent, folder)
    else:
        result = write_report(study, folder)
    console.print(leaderboard(study.get_trials(deepcopy=False)))
    counts = " · ".join(f"{state.lower()} {n}" for state, n in sorted(result.counts.items()))
    console.print(f"trials: {counts or 'none'}")
    if result.importances:
        table = Table(title="Parameter importances", header_style="bold")
        table.add_column("param")
        table.add_column("importance", justify="right")
        for param, value in result.importances.items():
            table.add_row(param, f"{value:.3f}")
        console.print(table)
    for plot, why in result.skipped.items():
        console.print(f"[yellow]skipped {plot}[/]: {escape(why)}", highlight=False)
    if tracker is not None:
        console.print(f"logged {len(result.files)} files on MLflow run {parent} (artifacts/report)")
        console.print(
            f"MLflow: {where_to_look(tracking, tracker.experiment_id)}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"wrote {folder}/")


def studies(storage: StorageOption = None) -> None:
    """The studies in a storage, with trial counts and best values.

    Example: sweeper studies --storage sqlite:///sweeps.db
    """
    import optuna

    from sweeper.masking import mask_url
    from sweeper.storage.rdb import resolve_storage_url
    from sweeper.storage.sqlite import require_sqlite_file

    url = resolve_storage_url(storage)
    require_sqlite_file(url, "--storage")
    table = Table(title=f"Studies in {mask_url(url)}", header_style="bold")
    for column in (
        "study",
        "complete",
        "pruned",
        "failed",
        "running",
        "best val_acc",
        "best trial",
    ):
        table.add_column(column, justify="left" if column == "study" else "right")
    for summary in optuna.get_all_study_summaries(url, include_best_trial=True):
        states = [
            t.state.name
            for t in optuna.load_study(study_name=summary.study_name, storage=url).get_trials(
                deepcopy=False
            )
        ]
        best = summary.best_trial
        table.add_row(
            summary.study_name,
            *(str(states.count(s)) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")),
            "-" if best is None or best.value is None else f"{best.value:.4f}",
            "-" if best is None else str(best.number),
        )
    console.print(table)
