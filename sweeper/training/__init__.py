"""One training run from a plain config: the loop, the device, checkpoints, the value's standard
error. Knows nothing of studies: a per-epoch callback is how a sweep hears of epochs and prunes,
a per-batch one how it shows progress, and a stop hook how it ends a run between batches.

Imports: `sweeper.data`, `sweeper.models`, torch; never Optuna or MLflow (an import contract
checks it).
"""

from sweeper.training import loop
from sweeper.training.device import DeviceError, GPUOutOfMemoryError, select_device
from sweeper.training.loop import *  # noqa: F403  (the loop's public names, its __all__)

__all__ = [*loop.__all__, "DeviceError", "GPUOutOfMemoryError", "select_device"]
