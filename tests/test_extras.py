"""The optional extras: a feature used without its extra says, in one line, which to install.

The extra is made missing for real: a folder put first on PYTHONPATH holds a module of the
package's name that fails to import, as an absent package does.
"""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest

from tests.cli import sweeper
from tests.test_run import write_study


def without(tmp_path: Path, package: str) -> dict[str, str]:
    """An environment in which `import package` fails as if it were not installed."""
    shadow = tmp_path / f"without-{package}"
    shadow.mkdir()
    (shadow / f"{package}.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{package}'\", name={package!r})\n"
    )
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(shadow), os.getenv("PYTHONPATH")]))}


@pytest.mark.parametrize("flag", ["--storage", "--tracking-uri"])
def test_a_postgresql_url_without_psycopg_names_the_postgres_extra(
    tmp_path: Path, tiny_corpus: Path, flag: str
) -> None:
    write_study(tmp_path / "ok.py")
    url = "postgresql://alice:hunter2@127.0.0.1:5432/optuna"
    args = ["run", "ok.py", "--trials", "1", "--data", tiny_corpus, flag, url]
    result = sweeper(*args, cwd=tmp_path, env=without(tmp_path, "psycopg"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {flag} 'postgresql://alice:***@127.0.0.1:5432/optuna': PostgreSQL needs its "
        "driver, psycopg: pip install 'sweeper[postgres]'"
    )
    assert "hunter2" not in result.stdout + result.stderr
    assert not (tmp_path / "sweeps.db").exists() and not (tmp_path / "mlflow.db").exists()


def test_the_report_without_plotly_writes_the_pngs_and_says_how_to_get_the_html(
    tmp_path: Path,
) -> None:
    storage = f"sqlite:///{tmp_path / 'sweeps.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    space = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
    for step, lr in enumerate((1e-3, 3e-3, 1e-2)):
        study.add_trial(
            optuna.trial.create_trial(params={"lr": lr}, distributions=space, value=0.5 + step / 10)
        )
    result = sweeper(
        "report", "s", "--storage", storage, "--out", tmp_path / "out",
        cwd=tmp_path, env=without(tmp_path, "plotly"),
    )  # fmt: skip
    assert "skipped HTML plots: plotly is not installed: pip install 'sweeper[plots]'" in (
        result.stdout
    )
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "optimization_history.png" in written
    assert not [name for name in written if name.endswith(".html")]
