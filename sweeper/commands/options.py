"""Options several commands share, so each is spelled and documented once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

StorageOption = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage URL \\[env: SWEEPER_STORAGE; default: sqlite:///sweeps.db].",
        show_default=False,
    ),
]
TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow tracking URI \\[env: MLFLOW_TRACKING_URI; default: sqlite:///mlflow.db].",
        show_default=False,
    ),
]
DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="LibriPhone directory \\[default: the embedded corpus, generated on first use].",
        show_default=False,
    ),
]
StudyNameArgument = Annotated[
    str, typer.Argument(help="Study name (the study file's name by default).", show_default=False)
]
