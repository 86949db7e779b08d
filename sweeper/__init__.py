"""sweeper: tracked, resumable, distributed hyperparameter sweeps for phoneme classifiers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sweeper")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
