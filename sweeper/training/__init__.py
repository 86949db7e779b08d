"""One training run from a plain config: the loop, the device, checkpoints, the value's standard
error. Knows nothing of studies: a per-epoch callback is how a sweep hears of epochs and prunes,
a per-batch one how it shows progress, and a stop hook how it ends a run between batches.

Imports: `sweeper.data`, `sweeper.models`, torch; never Optuna or MLflow (an import contract
checks it).
"""

from sweeper.training.device import DeviceError, GPUOutOfMemoryError, select_device
from sweeper.training.loop import (
    DEFAULTS,
    BatchProgress,
    EpochStats,
    NonFiniteLossError,
    ResumePoint,
    TrainingStopped,
    TrainResult,
    frame_logits,
    make_batches,
    make_optimizer,
    predict,
    resumable_history,
    resume_point,
    train,
)

__all__ = [
    "DEFAULTS",
    "BatchProgress",
    "DeviceError",
    "EpochStats",
    "GPUOutOfMemoryError",
    "NonFiniteLossError",
    "ResumePoint",
    "TrainResult",
    "TrainingStopped",
    "frame_logits",
    "make_batches",
    "make_optimizer",
    "predict",
    "resumable_history",
    "resume_point",
    "select_device",
    "train",
]
