"""Baselines a study file lists, and the limits on a trial and a sweep, through `sweeper run`."""

from __future__ import annotations

import csv
import time
import warnings
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from sweeper.study.record import (
    BASELINE,
    BASELINES_ATTR,
    EPOCHS_RUN,
    FAIL_REASON,
    PRUNE_REASON,
    STOPPED_EARLY,
)
from sweeper.study.spec import load_study_file
from tests.cli import start_sweeper, sweeper, wait_for_exit
from tests.test_run import mlflow_runs, states, trials_of, write_study

BASELINES = [{"hidden": 32, "n": 3}, {"hidden": 16, "n": 1}]


def with_spec(path: Path, settings: str) -> Path:
    """The study file at `path` with more StudySpec settings."""
    text = path.read_text()
    path.write_text(text.replace("study = StudySpec(", f"study = StudySpec({settings}, ", 1))
    return path


def baselines_of(trials: list[optuna.trial.FrozenTrial]) -> dict[int, int]:
    """Trial number -> the baseline it ran, for the trials that ran one."""
    return {t.number: t.user_attrs[BASELINE] for t in trials if BASELINE in t.user_attrs}


@pytest.fixture(scope="module")
def with_baselines(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A directory after a 3-trial sweep of a study listing two baselines."""
    cwd = tmp_path_factory.mktemp("baselines")
    with_spec(write_study(cwd / "base.py", epochs=1), f"baselines={BASELINES!r}")
    result = sweeper("run", "base.py", "--trials", "3", "--data", tiny_corpus, cwd=cwd)
    (cwd / "run.out").write_text(result.stdout + result.stderr)
    return cwd


def test_baselines_run_first_and_are_marked_in_every_store(with_baselines: Path) -> None:
    trials = sorted(trials_of(with_baselines, "base"), key=lambda t: t.number)
    assert states(trials) == ["COMPLETE"] * 3  # the baselines count towards --trials
    assert baselines_of(trials) == {0: 0, 1: 1}
    assert [trials[0].params, trials[1].params] == BASELINES
    _, _, children = mlflow_runs(with_baselines, "base")
    tags = {r.data.tags["sweeper.trial"]: r.data.tags.get("sweeper.baseline") for r in children}
    assert tags == {"0": "0", "1": "1", "2": None}
    # the leaderboard `sweeper run` ends with, and `sweeper report`'s, and its CSV
    report = sweeper("report", "base", "--out", with_baselines / "report", cwd=with_baselines)
    for shown in ((with_baselines / "run.out").read_text(), report.stdout):
        board = shown.split("Top 3 trials")[1]
        rows = [line for line in board.splitlines() if "hidden=" in line]
        assert sum("baseline 0" in row for row in rows) == 1, shown
        assert sum("baseline 1" in row for row in rows) == 1, shown
    with (with_baselines / "report" / "leaderboard.csv").open() as handle:
        board = {int(row["trial"]): row[BASELINE] for row in csv.DictReader(handle)}
    assert board == {0: "0", 1: "1", 2: ""}


def test_a_resumed_study_never_queues_its_baselines_again(
    with_baselines: Path, tmp_path: Path, tiny_corpus: Path
) -> None:
    for name in ("sweeps.db", "mlflow.db", "base.py"):
        (tmp_path / name).write_bytes((with_baselines / name).read_bytes())
    sweeper("run", "base.py", "--trials", "4", "--data", tiny_corpus, cwd=tmp_path)
    trials = trials_of(tmp_path, "base")
    assert states(trials) == ["COMPLETE"] * 4
    assert baselines_of(trials) == {0: 0, 1: 1}
    study = optuna.load_study(study_name="base", storage=f"sqlite:///{tmp_path / 'sweeps.db'}")
    assert study.user_attrs[BASELINES_ATTR] == BASELINES


def test_two_commands_starting_together_queue_the_baselines_once(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    with_spec(write_study(tmp_path / "race.py", epochs=1), f"baselines={BASELINES!r}")
    # Both stores' schemas exist first: two commands creating the same new SQLite files at once
    # race on the schema (MLflow's migrations), which is not what this test is about.
    MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()
    optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'sweeps.db'}")
    args = ["run", "race.py", "--trials", "3", "--data", tiny_corpus]
    procs = [start_sweeper(*args, cwd=tmp_path) for _ in range(2)]
    for proc in procs:
        _, stderr = wait_for_exit(proc, timeout=300)
        assert proc.returncode == 0, stderr
    trials = trials_of(tmp_path, "race")
    assert sorted(baselines_of(trials).values()) == [0, 1]
    assert states(trials) == ["COMPLETE"] * 3


def test_a_model_over_max_params_is_pruned_untrained(tmp_path: Path, tiny_corpus: Path) -> None:
    # baseline 0 is far over the limit (hidden 256), baseline 1 well under it
    big_then_small = [{"hidden": 256, "n": 1}, {"hidden": 16, "n": 1}]
    path = write_study(tmp_path / "small.py", epochs=1, hidden="[16, 256]")
    with_spec(path, f"max_params=5_000, baselines={big_then_small!r}")
    result = sweeper("run", "small.py", "--trials", "2", "--data", tiny_corpus, cwd=tmp_path)
    big, small = sorted(trials_of(tmp_path, "small"), key=lambda t: t.number)
    assert (big.state.name, small.state.name) == ("PRUNED", "COMPLETE")
    reason = big.user_attrs[PRUNE_REASON]
    assert "over max_params 5,000: not trained" in reason
    assert big.user_attrs[EPOCHS_RUN] == 0 and not big.intermediate_values
    assert f"({reason})" in result.stderr + result.stdout  # the trial's line says why
    client, _, children = mlflow_runs(tmp_path, "small")
    run = next(r for r in children if r.data.tags["sweeper.trial"] == str(big.number))
    assert run.info.status == "KILLED" and run.data.tags["sweeper.failure"] == reason
    assert not client.get_metric_history(run.info.run_id, "val_acc")


def test_max_trial_seconds_stops_a_trial_at_an_epoch_boundary(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    # any first epoch outlasts a millisecond: every trial stops after it, worth that epoch
    with_spec(write_study(tmp_path / "limited.py", epochs=3), "max_trial_seconds=0.001")
    sweeper("run", "limited.py", "--trials", "1", "--data", tiny_corpus, cwd=tmp_path)
    [trial] = trials_of(tmp_path, "limited")
    assert trial.state.name == "COMPLETE" and trial.user_attrs[EPOCHS_RUN] == 1
    assert trial.user_attrs[STOPPED_EARLY] == "max_trial_seconds"
    assert trial.value == trial.intermediate_values[1]
    _, _, [run] = mlflow_runs(tmp_path, "limited")
    assert run.info.status == "FINISHED"
    assert run.data.tags["sweeper.stopped_early"] == "max_trial_seconds"


def test_a_time_budget_alone_ends_the_sweep_stopping_its_trial_to_resume(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    # Epochs of one batch, which the trainer asks nothing after: the budget stops the trial
    # between two epochs (tests/test_stops_mid_epoch.py stops one inside an epoch). A hundred
    # thousand take hours: the budget, not --trials (none given) or the epochs, ends the sweep.
    study = write_study(tmp_path / "budget.py", epochs=100_000, hidden="[16]", train_frames=2_000)
    study.write_text(study.read_text().replace('"batch_size": 256', '"batch_size": 4096'))
    started = time.time()
    result = sweeper(
        "run", "budget.py", "--time-budget", "25s", "--data", tiny_corpus, cwd=tmp_path
    )
    output = result.stderr + result.stdout
    assert "study budget: trials for 0m25s on" in output
    assert "--time-budget 0m25s spent: run again to continue the study." in output
    [trial] = trials_of(tmp_path, "budget")
    assert trial.state.name == "FAIL"  # not worth a value yet: the next run resumes it
    epochs = trial.user_attrs[EPOCHS_RUN]
    assert trial.user_attrs[FAIL_REASON] == (
        f"time budget: stopped after epoch {epochs}, resumes there when the study is run again"
    )
    assert 0 < epochs == len(trial.intermediate_values)
    # an epoch here takes a few hundredths of a second; the slack is for a loaded machine
    assert trial.datetime_complete.timestamp() < started + 25 + 15
    _, [parent], [run] = mlflow_runs(tmp_path, "budget")
    assert (parent.info.status, run.info.status) == ("FINISHED", "FAILED")
    assert run.data.tags["sweeper.failure"] == trial.user_attrs[FAIL_REASON]


@pytest.mark.parametrize("name", ["mlp", "lstm"])
def test_every_baseline_of_a_shipped_study_is_a_point_of_its_search_space(name: str) -> None:
    """A baseline outside its space would run as something else, or fail, on every sweep."""
    study_file = load_study_file(Path(__file__).parents[1] / "studies" / f"{name}.py")
    assert study_file.spec.baselines
    for baseline in study_file.spec.baselines:
        trial = optuna.trial.FixedTrial(baseline)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Optuna warns of a value outside a distribution
            study_file.search_space(trial)
        assert trial.params == baseline
