"""benchmarks/peer.py runs anywhere: its quick mode, one row, on the tiny corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_peer_benchmark_prints_both_tools_side_by_side(tiny_corpus: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.peer", "--quick", "--rows", "a"]
    result = subprocess.run(
        [*command, "--data", str(tiny_corpus)],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "a: quick MLPs, rep 1, plain: sweep" in result.stdout
    assert "a: quick MLPs, rep 1, sweeper: sweep" in result.stdout
    header, row = result.stdout.splitlines()[-3:-1]
    assert "sweep: plain" in header and "command: plain" in header
    assert row.startswith("a: quick MLPs") and row.count("x") == 2  # a ratio for each time
