"""`sweeper run --warm-start OTHER`: another study's trials copied or queued, once."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial

from sweeper.study.record import RUN_ATTR, WARM_START_FROM, WARM_STARTS_ATTR, ranked
from tests.cli import sweeper
from tests.test_run import mlflow_runs, states, trials_of, write_study

SMALL = {"epochs": 1, "train_frames": 2_000}


def by_number(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return sorted(trials, key=lambda t: t.number)


def copy_stores(source: Path, target: Path) -> None:
    for name in ("sweeps.db", "mlflow.db"):
        (target / name).write_bytes((source / name).read_bytes())


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr + result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error, error
    return error


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A directory after a 3-trial sweep of the study `first`."""
    cwd = tmp_path_factory.mktemp("warm")
    write_study(cwd / "first.py", **SMALL)
    sweeper("run", "first.py", "--trials", "3", "--data", tiny_corpus, cwd=cwd)
    return cwd


def test_trials_of_the_same_space_are_copied_once(
    first: Path, tmp_path: Path, tiny_corpus: Path
) -> None:
    copy_stores(first, tmp_path)
    write_study(tmp_path / "second.py", **SMALL)  # the same space, another study
    args = ["run", "second.py", "--warm-start", "first", "--data", tiny_corpus]
    output = output_of(sweeper(*args, "--trials", "4", cwd=tmp_path))
    assert "warm start from study first: 3 trial(s) copied, 0 queued" in output

    sources = by_number(trials_of(tmp_path, "first"))
    trials = by_number(trials_of(tmp_path, "second"))
    assert states(trials) == ["COMPLETE"] * 4  # the copies count towards --trials
    copies, [new] = trials[:3], trials[3:]
    for copy, source in zip(copies, sources, strict=True):
        assert copy.user_attrs[WARM_START_FROM] == f"first:{source.number}"
        assert (copy.params, copy.distributions) == (source.params, source.distributions)
        assert (copy.value, copy.intermediate_values) == (source.value, source.intermediate_values)
        assert RUN_ATTR not in copy.user_attrs  # never trained here
    assert WARM_START_FROM not in new.user_attrs
    _, _, [child] = mlflow_runs(tmp_path, "second")  # only the new trial has a run
    assert child.data.tags["sweeper.trial"] == str(new.number)
    assert "sweeper.warm_start" not in child.data.tags
    board = output.split("Top 4 trials")[1]
    assert sum(" from first:" in line for line in board.splitlines()) == 3, output

    again = output_of(sweeper(*args, "--trials", "5", cwd=tmp_path))
    assert "3 trial(s) copied, 0 queued to run first (done before: not repeated)" in again
    trials = trials_of(tmp_path, "second")
    assert states(trials) == ["COMPLETE"] * 5
    assert sum(WARM_START_FROM in t.user_attrs for t in trials) == 3
    study = optuna.load_study(study_name="second", storage=f"sqlite:///{tmp_path / 'sweeps.db'}")
    assert study.user_attrs[WARM_STARTS_ATTR] == {
        "first": {"copied": [t.number for t in sources], "queued": []}
    }


def test_trials_of_another_space_are_queued_best_first(
    first: Path, tmp_path: Path, tiny_corpus: Path
) -> None:
    copy_stores(first, tmp_path)
    write_study(tmp_path / "wider.py", hidden="[16, 32, 64]", **SMALL)  # other distributions
    args = ["--warm-start", "first", "--warm-start-top", "2", "--trials", "3"]
    output = output_of(sweeper("run", "wider.py", *args, "--data", tiny_corpus, cwd=tmp_path))
    assert "warm start from study first: 0 trial(s) copied, 2 queued" in output

    best = []  # the best two distinct parameter sets of `first`
    for trial in ranked(trials_of(tmp_path, "first")):
        if len(best) < 2 and all(trial.params != params for _, params in best):
            best.append((trial.number, trial.params))
    trials = by_number(trials_of(tmp_path, "wider"))
    assert states(trials) == ["COMPLETE"] * 3
    assert [(t.user_attrs.get(WARM_START_FROM), t.params) for t in trials[:2]] == [
        (f"first:{number}", params) for number, params in best
    ]
    assert WARM_START_FROM not in trials[2].user_attrs
    _, _, children = mlflow_runs(tmp_path, "wider")
    tags = {r.data.tags["sweeper.trial"]: r.data.tags.get("sweeper.warm_start") for r in children}
    assert tags == {"0": f"first:{best[0][0]}", "1": f"first:{best[1][0]}", "2": None}
    board = output.split("Top 3 trials")[1]
    assert sum(" from first:" in line for line in board.splitlines()) == 2, output
    sweeper("report", "wider", "--out", tmp_path / "report", cwd=tmp_path)
    with (tmp_path / "report" / "leaderboard.csv").open() as handle:
        marks = {int(row["trial"]): row[WARM_START_FROM] for row in csv.DictReader(handle)}
    assert marks == {0: f"first:{best[0][0]}", 1: f"first:{best[1][0]}", 2: ""}


def test_a_study_of_other_data_is_refused_before_anything_is_written(
    first: Path, tmp_path: Path, tiny_corpus: Path
) -> None:
    copy_stores(first, tmp_path)
    write_study(tmp_path / "other.py", **SMALL)
    changed = tmp_path / "changed-corpus"
    shutil.copytree(tiny_corpus, changed)
    labels = changed / "train_labels.txt"
    line, rest = labels.read_text().split("\n", 1)
    utterance, label, *more = line.split()
    labels.write_text(" ".join([utterance, str((int(label) + 1) % 41), *more]) + "\n" + rest)
    args = ["run", "other.py", "--warm-start", "first", "--data", changed, "--trials", "1"]

    error = one_line_error(sweeper(*args, cwd=tmp_path, check=False))

    [parent] = mlflow_runs(first, "first")[1]
    theirs = parent.data.tags["sweeper.dataset_fingerprint"][:12]
    assert "--warm-start first" in error and f"dataset {theirs}, this run's data is " in error
    assert error.split("this run's data is ")[1][:12] != theirs
    storage = f"sqlite:///{tmp_path / 'sweeps.db'}"
    assert optuna.get_all_study_names(storage) == ["first"]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.get_experiment_by_name("other") is None


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        ("nosuch", "--warm-start nosuch: no study named 'nosuch'"),
        ("self", "--warm-start self: that is this study"),
    ],
)
def test_an_unknown_study_or_the_study_itself_is_refused(
    tmp_path: Path, tiny_corpus: Path, other: str, expected: str
) -> None:
    write_study(tmp_path / "self.py", **SMALL)
    sweeper("run", "self.py", "--trials", "1", "--data", tiny_corpus, cwd=tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in ("sweeps.db", "mlflow.db")}
    result = sweeper(
        "run", "self.py", "--warm-start", other, "--data", tiny_corpus, cwd=tmp_path, check=False
    )
    assert expected in one_line_error(result)
    assert len(trials_of(tmp_path, "self")) == 1
    assert before == {name: (tmp_path / name).read_bytes() for name in before}


def test_a_warm_start_in_an_empty_storage_creates_nothing(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    write_study(tmp_path / "fresh.py", **SMALL)
    result = sweeper(
        "run",
        "fresh.py",
        "--warm-start",
        "nosuch",
        "--data",
        tiny_corpus,
        cwd=tmp_path,
        check=False,
    )
    assert "--warm-start nosuch: --storage" in one_line_error(result)
    assert not (tmp_path / "sweeps.db").exists() and not (tmp_path / "mlflow.db").exists()
