"""docker/compose.yml validates, keeps its services off the host and needs a password."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

DOCKER_DIR = Path(__file__).resolve().parent.parent / "docker"


def _compose_available() -> str | None:
    """Why `docker compose` cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return None if probe.returncode == 0 else "the docker client has no compose plugin"


_UNAVAILABLE = _compose_available()
pytestmark = pytest.mark.skipif(
    _UNAVAILABLE is not None, reason=f"{_UNAVAILABLE}: compose files not checked"
)


CPU_INDEX = "https://wheels.example/cpu"


def _compose_config(*overlays: str, password: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("POSTGRES_")}
    env["TORCH_INDEX"] = CPU_INDEX
    if password is not None:
        env["POSTGRES_PASSWORD"] = password
    files = [arg for name in ("compose.yml", *overlays) for arg in ("-f", str(DOCKER_DIR / name))]
    command = ["docker", "compose", *files, "--env-file", str(DOCKER_DIR / ".env.example")]
    return subprocess.run(
        [*command, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _services(*overlays: str) -> dict[str, Any]:
    result = _compose_config(*overlays, password="s3cret-pw")
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = json.loads(result.stdout)["services"]
    return services


def test_compose_file_validates_and_publishes_nothing_on_the_host() -> None:
    services = _services()
    assert set(services) == {"postgres", "mlflow", "worker"}
    assert all(not service.get("ports") for service in services.values())
    assert services["mlflow"]["expose"] == ["5000"]


def test_workers_wait_for_healthy_services_and_carry_no_password_in_urls() -> None:
    services = _services()
    worker = services["worker"]
    assert {name: dep["condition"] for name, dep in worker["depends_on"].items()} == {
        "postgres": "service_healthy",
        "mlflow": "service_healthy",
    }
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["mlflow"]
    assert "--tracking-uri=http://mlflow:5000" in worker["command"]
    command_lines = json.dumps([s.get("command") for s in services.values()])
    assert "s3cret-pw" not in command_lines
    assert worker["environment"]["PGPASSWORD"] == "s3cret-pw"


def test_compose_refuses_to_run_without_a_password() -> None:
    result = _compose_config(password=None)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in docker/.env" in result.stderr


def test_ui_overlay_publishes_mlflow_on_loopback_only() -> None:
    (port,) = _services("compose.ui.yml")["mlflow"]["ports"]
    assert port["host_ip"] == "127.0.0.1" and port["target"] == 5000


def test_cuda_overlay_builds_workers_with_cuda_torch_and_gives_them_the_gpus() -> None:
    services = _services("compose.cuda.yml")
    worker = services["worker"]
    assert worker["build"]["args"]["TORCH_INDEX"] == ""
    assert worker["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert services["mlflow"]["build"]["args"]["TORCH_INDEX"] == CPU_INDEX
    # one container, one pinned worker process per GPU, joining the same sweep as the base
    assert worker["command"][-2:] == ["--gpus=all", "--per-gpu=1"]
    assert worker["command"][:-2] == _services()["worker"]["command"]


def test_docker_stop_reaches_workers_through_an_init_with_time_to_record_the_trial() -> None:
    worker = _services()["worker"]
    assert worker["init"] is True
    assert worker["stop_grace_period"] in ("1m0s", "60s", "1m")
