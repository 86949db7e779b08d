"""`sweeper data ...`: inspect and generate LibriPhone directories."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect and generate LibriPhone data directories.", no_args_is_help=True)
