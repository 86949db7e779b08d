"""benchmarks/gpu.py runs anywhere: a tiny CPU run of every section, as CI can afford."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_benchmark_runs_small_on_cpu(tiny_corpus: Path) -> None:
    tiny = ["--frames", "1000", "--repeats", "1", "--levels", "1", "--studies", "quick"]
    command = [sys.executable, "-m", "benchmarks.gpu", "--device", "cpu", "--data", tiny_corpus]
    result = subprocess.run(
        [*map(str, command), *tiny, "--trials", "1"],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "SWEEPER_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for row in ("rnn-seq sweeper", "rnn-seq floor", "mlp sweeper", "mlp floor", "quick"):
        assert row in result.stdout
    assert "rnn-seq epoch:" in result.stdout and "the floor" in result.stdout
