"""One training run from a plain config: the loop, the device, checkpoints, the value's standard
error. Knows nothing of studies: a per-epoch callback is how a sweep hears of epochs and prunes.

Imports: `sweeper.data`, `sweeper.models`, torch; never Optuna or MLflow (an import contract
checks it).
"""

from sweeper.training.device import DeviceError, GPUOutOfMemoryError, select_device
from sweeper.training.loop import (
    DEFAULTS,
    EpochStats,
    NonFiniteLossError,
    TrainResult,
    frame_logits,
    make_batches,
    make_optimizer,
    predict,
    resumable_history,
    train,
)

__all__ = [
    "DEFAULTS",
    "DeviceError",
    "EpochStats",
    "GPUOutOfMemoryError",
    "NonFiniteLossError",
    "TrainResult",
    "frame_logits",
    "make_batches",
    "make_optimizer",
    "predict",
    "resumable_history",
    "select_device",
    "train",
]
