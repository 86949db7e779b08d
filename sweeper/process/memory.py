"""Peak memory of one trial, for the trial's MLflow run: will this config fit elsewhere?

CUDA memory is the trainer's to measure (`gpu_memory_peak_mb`, every epoch); this is the
process's resident set, which a GPU run's host side and a CPU run's tensors both live in.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

_STATUS = Path("/proc/self/status")


class PeakMemory:
    """Started at a trial's start; `metrics()` gives the resident set's peak since then (Linux;
    where its high-water mark cannot be reset, the process's peak so far)."""

    def __init__(self) -> None:
        # Writing 5 to clear_refs resets VmHWM, the kernel's resident high-water mark (Linux 4.0+).
        with suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")

    def metrics(self) -> dict[str, float]:
        with suppress(OSError):
            for line in _STATUS.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return {"peak_rss_mb": round(int(line.split()[1]) / 1024, 1)}
        return {}
