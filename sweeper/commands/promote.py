"""`sweeper promote` and `sweeper score`: from a finished sweep to the file you submit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from sweeper.commands.options import (
    DataOption,
    DeviceOption,
    StorageOption,
    StudyNameArgument,
    TrackingOption,
)

if TYPE_CHECKING:
    from sweeper.promote.promotion import Promotion, Recheck

console = Console()


def promote(
    study_name: StudyNameArgument,
    trial: Annotated[
        int | None,
        typer.Option(min=0, help="Promote this trial \\[default: the best COMPLETE one]."),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(min=1, help="Epoch budget of the full run \\[default: twice the study's]."),
    ] = None,
    patience: Annotated[
        int, typer.Option(min=0, help="Stop after this many epochs without a better val_acc.")
    ] = 3,
    top: Annotated[
        int,
        typer.Option(
            min=1, help="Re-rank the top K trials on a larger subset and promote the best."
        ),
    ] = 1,
    top_scale: Annotated[
        float, typer.Option(min=1.0, help="--top subset size, in multiples of the study's.")
    ] = 10.0,
    seeds: Annotated[
        int,
        typer.Option(
            min=1,
            help="--top: train each of the K this many times (at least 2), with the trial's seed "
            "and the ones after it, and rank them by the mean. Without --top there is no "
            "re-ranking and the trial trains once, with its own seed.",
        ),
    ] = 2,
    data: DataOption = None,
    storage: StorageOption = None,
    tracking_uri: TrackingOption = None,
    out: Annotated[Path, typer.Option(help="Where to write the Kaggle CSV.")] = Path(
        "predictions.csv"
    ),
    register_as: Annotated[
        str | None,
        typer.Option(help="Registered model name \\[default: the study name]."),
    ] = None,
    device: DeviceOption = "auto",
) -> None:
    """Retrain the best trial on the full data, register the model, write the Kaggle CSV.

    The run nests under the study's MLflow parent run. The model is registered (a new version of
    --register-as) and the alias `champion` moves to it only when its val_acc beats the current
    champion's. Interrupted? Run the same command again: it continues the same MLflow run from
    the last epoch's checkpoint.

    Example: sweeper promote quick --top 3 --out predictions.csv
    """
    from sweeper.masking import mask_logging
    from sweeper.promote.promotion import PromoteRequest
    from sweeper.promote.promotion import promote as run_promotion
    from sweeper.storage.rdb import resolve_storage_url, resolve_tracking_uri
    from sweeper.tracking.tracker import where_to_look

    storage_url = resolve_storage_url(storage)
    tracking = resolve_tracking_uri(tracking_uri)
    mask_logging([storage_url, tracking])
    from sweeper.tracking.health import check_tracking_store

    check_tracking_store(tracking)  # before its run starts: an outage fails fast, in one line
    request = PromoteRequest(
        study_name=study_name,
        storage_url=storage_url,
        tracking_uri=tracking,
        trial=trial,
        epochs=epochs,
        data=data,
        out=out,
        register_as=register_as,
        top=top,
        top_scale=top_scale,
        seeds=seeds,
        patience=patience,
        device=device,
    )
    narration = Console(stderr=True)
    try:
        promotion = run_promotion(request, narration)
    except KeyboardInterrupt as exc:
        from sweeper.process.signals import describe, exit_status

        narration.print(
            f"[yellow]interrupted ({describe(exc)})[/]: run the same command again to resume."
        )
        raise typer.Exit(exit_status(exc)) from None
    if promotion.rechecks:
        console.print(recheck_table(promotion.rechecks, promotion.trial))
    console.print(summary_table(promotion))
    console.print(champion_line(promotion), highlight=False)
    console.print(
        f"MLflow: {where_to_look(tracking, promotion.experiment_id)}",
        highlight=False,
        soft_wrap=True,
    )


def score(
    predictions: Annotated[
        Path, typer.Argument(help="A Kaggle CSV (Id,Class), one row per test frame.")
    ],
    data: DataOption = None,
) -> None:
    """Check a predictions CSV against the test split and print its frame accuracy.

    Needs test labels (test_labels.txt), which the embedded corpus has; for the real data only
    Kaggle has them, and the CSV is still checked for shape and class range.

    Example: sweeper score predictions.csv
    """
    from sweeper.data import load_corpus
    from sweeper.data.defaults import resolve_data_dir
    from sweeper.errors import DataError
    from sweeper.promote.predictions import accuracy, read_predictions

    corpus = load_corpus(resolve_data_dir(data))
    classes = read_predictions(predictions, corpus.test.num_frames)
    if corpus.test.labels is None:
        raise DataError(
            f"{predictions} is well formed, but {corpus.root} has no test_labels.txt to score "
            "it against (only Kaggle has the real test labels)"
        )
    correct = int((classes == corpus.test.labels).sum())
    table = Table(title=f"{predictions} on {corpus.root}", header_style="bold")
    for column in ("frames", "correct", "accuracy"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{len(classes):,}", f"{correct:,}", f"{accuracy(classes, corpus.test.labels):.4f}"
    )
    console.print(table)


def recheck_table(rechecks: list[Recheck], chosen: int) -> Table:
    """The candidates by their mean val_acc on the larger subset; sd is the sample standard
    deviation over the seeds, a seed column is that seed's run."""
    from sweeper.promote.request import seeds_of

    seeds = seeds_of(rechecks)
    table = Table(title="Top trials re-ranked on the larger subset", header_style="bold")
    for column in ("rank", "trial", "sweep val_acc", "mean val_acc", "sd"):
        table.add_column(column, justify="right")
    for seed in seeds:
        table.add_column(f"seed {seed}", justify="right")
    ranked = sorted(rechecks, key=lambda r: r.mean, reverse=True)
    for rank, recheck in enumerate(ranked, 1):
        table.add_row(
            str(rank),
            f"{recheck.trial}{' *' if recheck.trial == chosen else ''}",
            f"{recheck.sweep_val_acc:.4f}",
            f"{recheck.mean:.4f}",
            f"{recheck.sd:.4f}",
            *recheck.cells(seeds, 4),
        )
    return table


def summary_table(promotion: Promotion) -> Table:
    result = promotion.result
    table = Table(title=f"Promoted trial {promotion.trial}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("MLflow run", promotion.run_id + (" (resumed)" if promotion.resumed else ""))
    table.add_row("data", f"{promotion.train_frames:,} train / {promotion.val_frames:,} val frames")
    table.add_row("epochs", f"{result.epochs_run} run, best {result.best_epoch}")
    table.add_row("val_acc", f"{result.best_val_acc:.4f}")
    if promotion.test_acc is not None:
        table.add_row("test_acc", f"{promotion.test_acc:.4f}")
    table.add_row("parameters", f"{result.n_params:,}")
    table.add_row("predictions", f"{promotion.predictions} ({promotion.test_frames:,} test frames)")
    return table


def champion_line(promotion: Promotion) -> str:
    c = promotion.champion
    model = f"model {c.name!r} version {c.version}"
    val_acc = promotion.result.best_val_acc
    if c.previous_version is None:
        return f"{model} is the first @champion (val_acc {val_acc:.4f})"
    previous = "untagged" if c.previous_val_acc is None else f"{c.previous_val_acc:.4f}"
    if c.crowned:
        return (
            f"{model} is now @champion: val_acc {val_acc:.4f} beats version "
            f"{c.previous_version}'s {previous}"
        )
    return (
        f"{model} registered; version {c.previous_version} stays @champion: "
        f"val_acc {val_acc:.4f} does not beat its {previous}"
    )
