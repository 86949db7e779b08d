"""The `sweeper` command line. Thin: parse, call, print. Heavy imports happen inside commands."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from sweeper import __version__
from sweeper.commands import compare as compare_commands
from sweeper.commands import data as data_commands
from sweeper.commands import promote as promote_commands
from sweeper.commands import report as report_commands
from sweeper.commands import run as run_commands
from sweeper.errors import SweeperError

app = typer.Typer(
    name="sweeper",
    help="Tracked, resumable, distributed hyperparameter sweeps for framewise phoneme "
    "classifiers (LibriPhone).\n\nExample: sweeper run studies/quick.py --trials 20",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,  # locals may hold database passwords
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_commands.app, name="data")
app.command()(run_commands.run)
app.command()(report_commands.report)
app.command()(report_commands.studies)
app.command()(compare_commands.compare)
app.command()(promote_commands.promote)
app.command()(promote_commands.score)

err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"sweeper {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Tracked, resumable, distributed hyperparameter sweeps for framewise phoneme classifiers."""


def main() -> None:
    try:
        app()
    except SweeperError as exc:
        from sweeper.secrets import mask_text

        message = escape(mask_text(str(exc)))
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
