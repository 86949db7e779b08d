"""sweeper: tracked, resumable, distributed hyperparameter sweeps for phoneme classifiers."""

import os
from importlib.metadata import PackageNotFoundError, version

# Sweep workers share CPUs with each other and with whatever else runs. OpenMP's default
# busy-waiting makes torch collapse when threads outnumber free cores (measured here: 60 s
# instead of 0.6 s per epoch of a small MLP under load); passive waiting costs nothing when idle.
# It must be set before torch loads its OpenMP runtime, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("sweeper")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
