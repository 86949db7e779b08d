"""`make gpu-kit`'s choices: what the lent GPU machine gets, and the rehearsal's guard."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from benchmarks.gpu_kit import ROOT, requirement_name, requirements


def test_the_kit_asks_for_sweepers_requirements_less_torch_with_mlflows_client_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {requirement_name(r): r for r in project["dependencies"]}
    asked = {requirement_name(r): r for r in requirements()}
    assert "torch" not in asked and "mlflow" not in asked
    assert asked["mlflow-skinny"] == declared["mlflow"].replace("mlflow", "mlflow-skinny", 1)
    assert asked["psycopg"] == project["optional-dependencies"]["postgres"][0]
    assert set(asked) - {"mlflow-skinny", "psycopg"} == set(declared) - {"torch", "mlflow"}


def test_the_rehearsal_refuses_an_environment_with_packages_the_machine_lacks() -> None:
    # this venv holds sweeper's own dependencies (optuna, mlflow, ...): the machine has none
    result = subprocess.run(
        [sys.executable, Path(ROOT) / "benchmarks" / "gpu_kit.py", "--check-environment"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "has packages the GPU machine lacks: " in result.stderr
    assert "optuna" in result.stderr and "Traceback" not in result.stderr
