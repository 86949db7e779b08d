"""Options several commands share, so each is spelled and documented once.

The stores' and the corpus's options are declared with `sweeper run`'s (sweeper.sweep.options),
which the sweep layer reads without importing the commands."""

from __future__ import annotations

from typing import Annotated

import typer

from sweeper.sweep.options import DataOption, DeviceOption, StorageOption, TrackingOption

__all__ = [
    "DataOption",
    "DeviceOption",
    "StorageOption",
    "StudyNameArgument",
    "TrackingOption",
]

StudyNameArgument = Annotated[
    str, typer.Argument(help="Study name (the study file's name by default).", show_default=False)
]
