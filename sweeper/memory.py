"""Peak memory of one trial, for the trial's MLflow run: will this config fit elsewhere?"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

import torch

_STATUS = Path("/proc/self/status")


class PeakMemory:
    """Started at a trial's start; `metrics()` gives the peaks since then: the process's
    resident set (Linux; where its high-water mark cannot be reset, the process's peak so far)
    and, on CUDA, the most memory tensors held."""

    def __init__(self) -> None:
        # Writing 5 to clear_refs resets VmHWM, the kernel's resident high-water mark (Linux 4.0+).
        with suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def metrics(self) -> dict[str, float]:
        found: dict[str, float] = {}
        with suppress(OSError):
            for line in _STATUS.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    found["peak_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
        if torch.cuda.is_available():
            found["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        return found
