"""Bad input to `sweeper run`: one clear line, a non-zero exit, and no store written."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeper.study.record import FAIL_REASON
from tests.cli import sweeper
from tests.test_run import mlflow_runs, trials_of, write_study


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
        (lambda d, c: ["run", "ok.py", "--workers", "100000", "--data", c], "--workers 100000"),
        (lambda d, c: ["run", "ok.py", "--time-budget", "soon"], "--time-budget soon: not a"),
        (lambda d, c: ["run", "ok.py", "--time-budget", "0m"], "--time-budget 0m: must be more"),
        (
            lambda d, c: ["run", "ok.py", "--time-budget", "1h", "--timeout", "60"],
            "--timeout and --time-budget: give one",
        ),
        (lambda d, c: ["run", "limits.py"], "limits.py:2: ValueError: max_params must be a number"),
        (lambda d, c: ["run", "worth.py"], "worth.py:2: ValueError: trial_value must be one of"),
        (lambda d, c: ["run", "baseline.py"], "baseline.py:2: ValueError: baselines[1] must be a"),
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
        "workers-past-bound",
        "bad-time-budget",
        "zero-time-budget",
        "timeout-and-time-budget",
        "negative-max-params",
        "unknown-trial-value",
        "baseline-not-a-dict",
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
    for name, settings in (
        ("limits", "max_params=-5"),
        ("baseline", "baselines=[{}, 'n=3']"),
        ("worth", "trial_value='mean'"),
    ):
        (tmp_path / f"{name}.py").write_text(
            f"from sweeper.studyfile import StudySpec\nstudy = StudySpec({settings})\n"
            "def search_space(trial):\n    return {}\n"
        )
    result = sweeper(*make_args(tmp_path, tiny_corpus), cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert not (tmp_path / "sweeps.db").exists()
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        (("batch_size", "batch_sise"), "unknown key 'batch_sise' (did you mean 'batch_size'?)"),
        (('"layers": 1', '"layers": "one"'), "layers='one'"),
        (("return {", "{"), "search_space must return a dict, not None"),
    ],
    ids=["unknown-key", "wrong-type", "returns-none"],
)
def test_a_config_error_every_trial_would_repeat_stops_the_sweep_at_once(
    tmp_path: Path, tiny_corpus: Path, breaks: tuple[str, str], expected: str
) -> None:
    path = write_study(tmp_path / "broken.py")
    path.write_text(path.read_text().replace(*breaks))

    result = sweeper(
        "run", "broken.py", "--trials", "3", "--data", tiny_corpus, cwd=tmp_path, check=False
    )

    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: broken.py") and expected in last, result.stderr
    assert "Traceback" not in result.stderr
    [trial] = trials_of(tmp_path, "broken")  # the first trial, not five
    assert trial.state.name == "FAIL" and expected in trial.user_attrs[FAIL_REASON]
    _, parents, [child] = mlflow_runs(tmp_path, "broken")
    assert child.info.status == "FAILED" and expected in child.data.tags["sweeper.failure"]
    assert parents[0].info.status != "RUNNING"
