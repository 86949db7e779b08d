"""Bad input to `sweeper run`: one clear line, a non-zero exit, and no store written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import sweeper
from tests.test_run import write_study


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        (lambda d, c: ["run", "missing.py"], "missing.py: study file not found"),
        (lambda d, c: ["run", "syntax.py"], "syntax.py:3: syntax error"),
        (lambda d, c: ["run", "raises.py"], "raises.py:2: ZeroDivisionError"),
        (lambda d, c: ["run", "nospace.py"], "defines no `search_space(trial) -> dict`"),
        (lambda d, c: ["run", "badspec.py"], "sampler must be one of tpe, random, grid"),
        (lambda d, c: ["run", "ok.py", "--sampler", "annealing"], "Invalid value for '--sampler'"),
        (lambda d, c: ["run", "ok.py", "--pruner", "sometimes"], "Invalid value for '--pruner'"),
        (lambda d, c: ["run", "ok.py", "--trials", "0"], "Invalid value for '--trials'"),
        (lambda d, c: ["run", "ok.py", "--sampler", "grid", "--data", c], "defines no `grid`"),
        (lambda d, c: ["run", "ok.py", "--storage", "sqlite//nope", "--data", c], "--storage"),
        (
            lambda d, c: [
                "run",
                "ok.py",
                "--storage",
                "postgresql://u:hunter2@127.0.0.1:1/x",
                "--data",
                c,
            ],
            "--storage",
        ),
        (lambda d, c: ["run", "ok.py", "--data", d / "nowhere"], "nowhere"),
    ],
    ids=[
        "missing-file",
        "syntax-error",
        "raises-on-import",
        "no-search-space",
        "bad-spec",
        "unknown-sampler",
        "unknown-pruner",
        "zero-trials",
        "grid-without-grid",
        "malformed-storage",
        "unreachable-storage",
        "missing-data-dir",
    ],
)
def test_bad_input_is_one_line_and_touches_no_store(
    tmp_path: Path, tiny_corpus: Path, make_args, expected: str
) -> None:
    write_study(tmp_path / "ok.py")
    (tmp_path / "syntax.py").write_text("import optuna\n\ndef search_space(trial) ->\n")
    (tmp_path / "raises.py").write_text("x = 1\ny = x / 0\n")
    (tmp_path / "nospace.py").write_text(
        "from sweeper.studyfile import StudySpec\nstudy = StudySpec()\n"
    )
    (tmp_path / "badspec.py").write_text(
        "from sweeper.studyfile import StudySpec\nstudy = StudySpec(sampler='cmaes')\n"
        "def search_space(trial):\n    return {}\n"
    )
    result = sweeper(*make_args(tmp_path, tiny_corpus), cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert not (tmp_path / "sweeps.db").exists()
    assert not (tmp_path / "mlflow.db").exists()
