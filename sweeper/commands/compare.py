"""`sweeper compare`: a comparison grid (depth or dropout) as a table, a plot and a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sweeper.commands.options import StorageOption, StudyNameArgument, TrackingOption

console = Console()


def compare(
    study_name: StudyNameArgument,
    storage: StorageOption = None,
    tracking_uri: TrackingOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the outputs (default: sweeper-reports/NAME-compare)."),
    ] = None,
) -> None:
    """Train and val accuracy of a comparison grid's models, mean ± std over seeds.

    For studies such as studies/deep_vs_shallow.py (depth at equal parameter counts) and
    studies/dropout.py. Writes comparison.png, comparison.csv and summary.md, and logs them on
    the study's parent MLflow run (artifacts/compare).

    Example: sweeper compare deep_vs_shallow
    """
    from sweeper.analysis.compare import (
        findings,
        load_comparison,
        render,
        repeat_warning,
        table,
        write_files,
    )
    from sweeper.storage.rdb import load_existing_study, resolve_storage_url, resolve_tracking_uri
    from sweeper.storage.sqlite import require_sqlite_file
    from sweeper.study.record import PARENT_ATTR
    from sweeper.tracking.tracker import Tracker, where_to_look

    study = load_existing_study(study_name, resolve_storage_url(storage))
    tracking = resolve_tracking_uri(tracking_uri)
    require_sqlite_file(tracking, "--tracking-uri")
    tracker = Tracker(tracking, study_name)
    comparison = load_comparison(study, tracker)
    files = render(comparison)
    written = write_files(out or Path("sweeper-reports") / f"{study_name}-compare", files)
    parent = study.user_attrs[PARENT_ATTR]
    tracker.log_files(parent, files, "compare")

    headers, rows = table(comparison)
    view = Table(
        title=f"{study_name}: best-val epoch of each model, mean ± std over seeds",
        header_style="bold",
    )
    for header in headers:
        view.add_column(header, justify="right")
    for row in rows:
        view.add_row(*row)
    console.print(view)
    for line in findings(comparison):
        console.print(f"• {line}", highlight=False)
    if warning := repeat_warning(comparison):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(f"wrote {', '.join(str(p) for p in written)}", highlight=False)
    console.print(f"logged them on MLflow run {parent} (artifacts/compare)", highlight=False)
    console.print(
        f"MLflow: {where_to_look(tracking, tracker.experiment_id)}", highlight=False, soft_wrap=True
    )
