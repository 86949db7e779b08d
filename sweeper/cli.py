"""The `sweeper` command line. Thin: parse, call, print. Heavy imports happen inside commands."""

from __future__ import annotations

import os
import sys
import traceback

import typer
from rich.console import Console
from rich.markup import escape

from sweeper import __version__
from sweeper.commands import compare as compare_commands
from sweeper.commands import data as data_commands
from sweeper.commands import promote as promote_commands
from sweeper.commands import report as report_commands
from sweeper.commands import run as run_commands
from sweeper.errors import SweeperError, first_line

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
    from sweeper.process.signals import die_with_parent, stop_on_signals

    stop_on_signals()
    die_with_parent()  # first thing: a worker told to stop while it starts up must hear it
    try:
        app()
    except SweeperError as exc:
        _print_error(str(exc))
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Not a mistake sweeper knows of: still one line, since its message may be all a user
        # needs (an outage, a full disk); the traceback is for a bug report, on request.
        if os.environ.get(DEBUG_ENV):
            _print_error("".join(traceback.format_exception(exc)).strip())
        _print_error(f"{first_line(exc)} (set {DEBUG_ENV}=1 for the traceback)")
        sys.exit(1)


DEBUG_ENV = "SWEEPER_DEBUG"


def _print_error(message: str) -> None:
    """Print an error for the user; a URL in it may carry a password, so it goes masked."""
    from sweeper.masking import mask_text

    # The URLs given on the command line or in the environment: their passwords are masked
    # even where a library quotes them outside a URL.
    given = [
        *sys.argv[1:],
        os.environ.get("SWEEPER_STORAGE", ""),
        os.environ.get("MLFLOW_TRACKING_URI", ""),
    ]
    urls = [value.partition("=")[2] if value.startswith("--") else value for value in given]
    masked = mask_text(message, [url for url in urls if "://" in url])
    err_console.print(f"[bold red]error:[/] {escape(masked)}", highlight=False, soft_wrap=True)
