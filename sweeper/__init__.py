"""sweeper: tracked, resumable, distributed hyperparameter sweeps for phoneme classifiers."""

from importlib.metadata import PackageNotFoundError, version

from sweeper.wait_policy import passive_at_import

# OpenMP's wait policy (see sweeper.wait_policy): it must be set before torch loads its OpenMP
# runtime, hence here; `sweeper run` may choose ACTIVE for its workers.
passive_at_import()

try:
    __version__ = version("sweeper")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
