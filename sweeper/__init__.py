"""sweeper: tracked, resumable, distributed hyperparameter sweeps for phoneme classifiers."""

from importlib.metadata import PackageNotFoundError, version

from sweeper.wait_policy import choose_at_import

# OpenMP's wait policy, from how busy the cores are (see sweeper.wait_policy): it must be set
# before torch loads its OpenMP runtime, hence here.
choose_at_import()

try:
    __version__ = version("sweeper")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
