"""Shared test set-up: every test runs with its own cache dir and no MLflow telemetry."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.libriphone",
    "tests.fixtures.corpus",
    "tests.fixtures.services",
]


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    patch.delenv("SWEEPER_STORAGE", raising=False)
    yield
    patch.undo()
