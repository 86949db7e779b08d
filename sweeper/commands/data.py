"""`sweeper data ...`: inspect and generate LibriPhone directories."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.bar import Bar
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Inspect and generate LibriPhone data directories.", no_args_is_help=True)


@app.command()
def info(
    directory: Path | None = typer.Argument(
        None,
        help="A LibriPhone directory (train_split.txt, feat/, ...) "
        "\\[default: the embedded corpus, generated on first use].",
        show_default=False,
    ),
) -> None:
    """Validate a LibriPhone directory and summarise it: sizes, utterance lengths, labels.

    The first run reads every .pt file and caches the data; later runs are near instant.

    Example: sweeper data info ~/data/libriphone
    """
    from sweeper.data.corpus import load_corpus
    from sweeper.data.defaults import resolve_data_dir
    from sweeper.data.summary import summarize
    from sweeper.phones import FEATURE_DIM, PHONES

    console = Console()
    directory = resolve_data_dir(directory)
    with console.status(f"Reading {directory} ..."):
        corpus = load_corpus(directory)
    summaries = [summarize(corpus.train), summarize(corpus.test)]

    console.print(
        f"[bold]{corpus.root}[/]  fingerprint [cyan]{corpus.fingerprint}[/]  "
        f"features {FEATURE_DIM} per frame",
        highlight=False,
    )
    splits = Table(title="Splits", title_justify="left")
    splits.add_column("split")
    splits.add_column("utterances", justify="right")
    splits.add_column("frames", justify="right")
    splits.add_column("length min/median/max", justify="right")
    splits.add_column("labels")
    for summary in summaries:
        splits.add_row(
            summary.name,
            f"{summary.utterances:,}",
            f"{summary.frames:,}",
            f"{summary.min_length}/{summary.median_length:g}/{summary.max_length}",
            f"{summary.name}_labels.txt"
            if summary.label_counts is not None
            else "[yellow]unlabelled[/] (no file)",
        )
    console.print(splits)

    if corpus.metadata is not None:
        facts = Table(title="corpus.json", title_justify="left", show_header=False)
        facts.add_column("key", style="bold", no_wrap=True, min_width=18)
        facts.add_column("value", no_wrap=True, overflow="ellipsis", max_width=56)
        for key, value in corpus.metadata.items():
            facts.add_row(key, value if isinstance(value, str) else json.dumps(value))
        console.print(facts)

    labelled = [s for s in summaries if s.label_counts is not None]
    histogram = Table(title="Frames per class (bar: train)", title_justify="left")
    histogram.add_column("#", justify="right")
    histogram.add_column("phone")
    for summary in labelled:
        histogram.add_column(f"{summary.name} frames", justify="right")
        histogram.add_column(f"{summary.name} %", justify="right")
    histogram.add_column("")
    train_counts = labelled[0].label_counts or ()
    largest = max(train_counts)
    for index, phone in enumerate(PHONES):
        cells = [str(index), phone]
        for summary in labelled:
            count = (summary.label_counts or ())[index]
            cells += [f"{count:,}", f"{100 * count / summary.frames:.1f}"]
        histogram.add_row(*cells, Bar(largest, 0, train_counts[index], width=20))
    console.print(histogram)


from sweeper.commands.synth import synth  # noqa: E402

app.command()(synth)
