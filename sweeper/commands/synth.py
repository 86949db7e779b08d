"""`sweeper data synth`: generate the embedded corpus's kind of data into a directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sweeper.data.synth.plan import DEFAULT_SEED, SIZES


def synth(
    out: Annotated[
        Path,
        typer.Option("--out", help="Directory to write (created if missing).", show_default=False),
    ],
    size: Annotated[
        str,
        typer.Option(
            help=", ".join(f"{name} ({n} + {m} utterances)" for name, (n, m) in SIZES.items())
            + ": tiny for tests, small for the demo, full the size of the real data."
        ),
    ] = "small",
    train_utterances: Annotated[
        int | None,
        typer.Option(help="Train utterances, instead of the size's.", show_default=False),
    ] = None,
    test_utterances: Annotated[
        int | None,
        typer.Option(help="Test utterances, instead of the size's.", show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = DEFAULT_SEED,
    jobs: Annotated[
        int | None,
        typer.Option(help="Worker processes \\[default: the CPUs, up to 8].", show_default=False),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Write into a non-empty directory that holds no corpus of these settings, "
            "replacing its corpus files (feat/, *_split.txt, *_labels.txt, corpus.json)."
        ),
    ] = False,
) -> None:
    """Synthesise a LibriPhone-layout corpus: eSpeak NG speech, the course's 39-dim features.

    Writes the real data's files plus test_labels.txt (for local scoring) and corpus.json.

    Test speakers never occur in train. The same seed gives byte-identical files.

    An interrupted run resumes where it stopped when started again with the same options.

    Example: sweeper data synth --out data/synth --size small --jobs 2
    """
    from sweeper.data.synth.generate import generate_corpus
    from sweeper.data.synth.plan import Plan, default_jobs
    from sweeper.data.synth.progress import progress_bar

    plan = Plan.sized(size, seed, train_utterances, test_utterances)
    err = Console(stderr=True)
    started = time.perf_counter()
    try:
        with progress_bar(err, f"synthesising {size}") as progress:
            outcome = generate_corpus(
                out,
                plan,
                jobs=default_jobs() if jobs is None else jobs,
                force=force,
                progress=progress,
            )
    except KeyboardInterrupt as exc:
        from sweeper.process.signals import describe, exit_status

        err.print(
            f"interrupted ({describe(exc)}): run the same command again to resume writing {out}"
        )
        raise typer.Exit(exit_status(exc)) from None
    seconds = time.perf_counter() - started

    if outcome.generated == 0:
        Console().print(f"{out} already holds this corpus; nothing to do.", highlight=False)
        return
    table = Table(title=str(out), title_justify="left")
    table.add_column("split")
    table.add_column("utterances", justify="right")
    table.add_column("frames", justify="right")
    for split in ("train", "test"):
        table.add_row(split, f"{plan.count(split):,}", f"{outcome.frames[split]:,}")
    console = Console()
    console.print(table)
    summary = f"{outcome.generated:,} utterances synthesised in {seconds:.1f} s"
    if outcome.resumed:
        summary += f" ({outcome.resumed:,} were already done)"
    console.print(summary, highlight=False)
