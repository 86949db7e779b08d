"""The log levels of the libraries a command runs: sweeper prints its own lines."""

from __future__ import annotations

import logging


def quiet_libraries() -> None:
    """Optuna and MLflow narrate at INFO (study created, tables migrated); sweeper prints
    its own lines, so only their warnings and errors get through.

    By the loggers' names, so that this package imports neither library. Call it once they are
    imported: each sets its own logger's level when first imported."""
    for name in ("optuna", "mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
