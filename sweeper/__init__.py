"""sweeper: tracked, resumable, distributed hyperparameter sweeps for phoneme classifiers.

The public surface is what a study file needs: `from sweeper import StudySpec`. Everything else
is reached through the `sweeper` command. Light to import (no torch, Optuna or MLflow), so that
`sweeper --help` is instant.

The packages, bottom up (each `__init__` says what it may import; `pyproject.toml`'s
import-linter contracts check it):
    data       the LibriPhone layout, the in-memory corpus, windows, batches, the embedded corpus
    models     families, configs, parameter counting and matching
    training   one run of a plain config: the loop, devices, checkpoints, the value's error
    study      what a study file declares and what a stored study records of its trials
    storage    Optuna's RDB storage (SQLite, PostgreSQL), its locks and its outages
    process    signals, placement on cores and GPUs, OpenMP's wait policy, peak memory
    tracking   every MLflow call: runs, the checkpoint store, the registry, the store's health
    analysis   report and the deep-vs-shallow comparison
    sweep      a sweep top down: plan, runner, worker, objective, search strategy, warm start
    promote    best trial -> full run, registered model, predictions.csv
    commands   the Typer commands (thin); cli.py assembles them
"""

from importlib.metadata import PackageNotFoundError, version

from sweeper.process.wait_policy import passive_at_import
from sweeper.study.spec import StudySpec

# OpenMP's wait policy (see sweeper.process.wait_policy): it must be set before torch loads its
# OpenMP runtime, hence here; `sweeper run` may choose ACTIVE for its workers.
passive_at_import()

try:
    __version__ = version("sweeper")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["StudySpec", "__version__"]
