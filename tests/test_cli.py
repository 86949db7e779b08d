"""The command line as a newcomer meets it: help, version, examples, and a fast start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sweeper import __version__
from tests.cli import sweeper

COMMANDS = [
    ["data", "info"],
    ["data", "synth"],
    ["run"],
    ["report"],
    ["studies"],
    ["promote"],
    ["score"],
    ["compare"],
]


def test_help_lists_the_commands(tmp_path: Path) -> None:
    out = sweeper("--help", cwd=tmp_path).stdout
    for command in ("data", "run", "report", "studies", "promote", "score", "compare"):
        assert command in out


def test_version(tmp_path: Path) -> None:
    assert sweeper("--version", cwd=tmp_path).stdout.strip() == f"sweeper {__version__}"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(tmp_path: Path, command: list[str]) -> None:
    out = sweeper(*command, "--help", cwd=tmp_path).stdout
    assert "Example: sweeper " + " ".join(command) in out


def test_importing_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import sys, sweeper.cli; "
        "print(sorted(m for m in ('torch', 'mlflow', 'optuna', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
