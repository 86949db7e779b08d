"""MLflow's UI over a sweep's stores, rendered by a real headless Chromium.

The page `sweeper run` prints must open the study's runs in the model-training view (not the
GenAI view MLflow 3 opens by default), list the trials ranked by best_val_acc, and chart the
parent run's best-so-far curve. Screenshots of both views are kept in test-artifacts/.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import tempfile
from contextlib import suppress
from pathlib import Path

import optuna
import pytest

from tests.cli import sweeper
from tests.fixtures.services import serving_mlflow
from tests.test_run import write_study

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_TIMEOUT_S = 90
PRINTED_PAGE = re.compile(r"then open http://127\.0\.0\.1:5000(/\S+)")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # the UI is a single-page app: let its requests and renders run before the page is read
    "--virtual-time-budget=20000",
    "--run-all-compositor-stages-before-draw",
    "--window-size=1600,1000",
    "--hide-scrollbars",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "no chromium on PATH (Debian package `chromium`, which .ci/run installs)"
        print(f"skipped: {reason}")
        pytest.skip(reason)
    return found


def render(url: str, screenshot: Path) -> str:
    """The text of `url` as headless Chromium renders it; a screenshot of it to `screenshot`."""
    with tempfile.TemporaryDirectory(prefix="sweeper-chromium-") as profile:
        command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        process = subprocess.Popen(
            [*command, f"--screenshot={screenshot}", "--dump-dom", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            dom, _ = process.communicate(timeout=CHROMIUM_TIMEOUT_S)
        finally:
            # its renderer and GPU helpers share its process group; none may outlive the test
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    visible = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", visible)))


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> tuple[Path, str]:
    """(directory, printed page path) after a 3-trial sweep of the tiny corpus."""
    chromium()  # no sweep for a test that cannot run
    cwd = tmp_path_factory.mktemp("browser")
    write_study(cwd / "tiny.py")
    result = sweeper("run", "tiny.py", "--trials", "3", "--data", tiny_corpus, cwd=cwd)
    printed = PRINTED_PAGE.search(result.stdout + result.stderr)
    assert printed, f"no MLflow page in the output:\n{result.stderr}"
    return cwd, printed.group(1)


def test_the_printed_page_shows_ranked_trials_and_the_parent_curve(
    swept: tuple[Path, str],
) -> None:
    cwd, page = swept
    ARTIFACTS.mkdir(exist_ok=True)
    table_png, charts_png = ARTIFACTS / "mlflow-runs.png", ARTIFACTS / "mlflow-charts.png"
    # `mlflow ui` as printed: no arguments, from the directory of the sweep
    with serving_mlflow(cwd=cwd, log_path=cwd / "ui.log") as server:
        table = render(server.url + page, table_png)
        charts = render(f"{server.url}{page}&compareRunsMode=CHART", charts_png)
    print(f"screenshots: {table_png} {charts_png}")

    assert "Run Name" in table and "matching runs" in table, table[:2000]
    # the model-training view's navigation, not the GenAI view's (Observability, Prompts, ...)
    assert "Model registry" in table and "Observability" not in table, table[:2000]
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{cwd / 'sweeps.db'}")
    value = {f"trial-{t.number}": t.value for t in study.get_trials(deepcopy=False)}
    listed = list(dict.fromkeys(re.findall(r"\btrial-\d+\b", table)))
    assert sorted(listed) == sorted(value), table[:2000]
    ranked = [value[name] for name in listed]
    assert ranked == sorted(ranked, reverse=True), f"not ranked by best_val_acc: {listed}"

    assert "Model metrics" in charts
    assert "tiny (best_val_acc)" in charts, charts[:3000]  # the parent's best-so-far curve
    for screenshot in (table_png, charts_png):
        assert screenshot.stat().st_size > 20_000, f"{screenshot} looks blank"
