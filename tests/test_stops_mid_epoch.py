"""A sweep stopped inside an epoch, by its --time-budget or by SIGTERM, keeps the running trial's
batch in a checkpoint; the next `sweeper run` of the study resumes the trial there and ends it
with the very value and curve of an uninterrupted trial. Real processes, signals and stores."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import optuna
import torch

from sweeper.study.record import (
    BASELINE,
    EPOCHS_RUN,
    FAIL_REASON,
    PROGRESS,
    REQUEUED_FROM,
    RESUMED_AT,
    RESUMED_AT_BATCH,
    RUN_ATTR,
)
from tests.cli import start_sweeper, sweeper, wait_for_exit
from tests.test_run import mlflow_runs, trials_of, wait_for_running_trial

# A windowed LSTM in small batches: an epoch of about 300 batches, 4-6 s on 2 shared cores, so a
# stop lands inside an epoch rather than in its validation; dropout draws from torch's generator,
# so the resumed trial must also restore that to match an uninterrupted one. The first baseline
# is the trial stopped; its re-run must go before the second, which --trials 1 leaves out.
STUDY = """
import optuna
from sweeper import StudySpec

study = StudySpec(train_frames=10_000, val_frames=1_000, epochs={epochs}, sampler="random",
                  pruner="none", baselines=[{{"n": 7}}, {{"n": 5}}])


def search_space(trial: optuna.Trial) -> dict:
    return {{"family": "rnn-window", "n": trial.suggest_int("n", 5, 7, step=2), "hidden": 64,
            "dropout": 0.2, "lr": 3e-3, "batch_size": 32}}
"""
BUDGET_S = 12
# From the command's start to its budget's start (Python and its imports), plus the batch that
# stops the trial and the recording of its end: what a stop within one batch may take.
STOP_SLACK_S = 12


def checkpoint_position(cwd: Path, name: str, lineage: int) -> tuple[int, int]:
    """(epochs done, batches of the next epoch done) that a lineage's checkpoint kept."""
    path = cwd / "sweeps.checkpoints" / name / f"trial-{lineage}" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    under_way = state["under_way"]
    return len(state["history"]), 0 if under_way is None else under_way["batches"]


def the_rerun_of(trials: list[optuna.trial.FrozenTrial], number: int) -> optuna.trial.FrozenTrial:
    [rerun] = [t for t in trials if t.user_attrs.get(REQUEUED_FROM) == number]
    return rerun


def assert_resumed_at(
    cwd: Path, name: str, rerun: optuna.trial.FrozenTrial, epochs: int, batches: int
) -> None:
    """The re-run says in both stores that it went on after `epochs` and `batches` more."""
    assert (rerun.user_attrs[RESUMED_AT], rerun.user_attrs[RESUMED_AT_BATCH]) == (epochs, batches)
    client, _, _ = mlflow_runs(cwd, name)
    tags = client.get_run(rerun.user_attrs[RUN_ATTR]).data.tags
    where = f"epoch {epochs + 1} after batch {batches}" if batches else f"after epoch {epochs}"
    assert tags["sweeper.resumed"] == f"trial 0, {where}"


def assert_same_as_uninterrupted(
    cwd: Path, name: str, finished: optuna.trial.FrozenTrial, args: list[str | Path]
) -> None:
    """The same trial run without a stop, as a study of its own: the same value and curves,
    to the last bit on CPU, in Optuna and in MLflow."""
    sweeper(*args, "--study-name", "uninterrupted", cwd=cwd)
    [clean] = trials_of(cwd, "uninterrupted")
    assert clean.params == finished.params
    assert clean.value == finished.value
    assert clean.intermediate_values == finished.intermediate_values
    client, _, _ = mlflow_runs(cwd, name)
    for metric in ("val_acc", "train_loss", "train_acc", "val_loss"):
        curves = [
            [(m.step, m.value) for m in client.get_metric_history(t.user_attrs[RUN_ATTR], metric)]
            for t in (finished, clean)
        ]
        assert sorted(curves[0]) == sorted(curves[1]), metric


def test_a_time_budget_stops_a_trial_at_its_batch_and_the_next_run_resumes_there(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    epochs = 4  # 12 s of training on an idle machine: more than start-up leaves of the budget
    (tmp_path / "budget.py").write_text(STUDY.format(epochs=epochs))
    args: list[str | Path] = ["run", "budget.py", "--trials", "1", "--data", tiny_corpus]
    launched = time.time()
    first = sweeper(*args, "--time-budget", f"{BUDGET_S}s", cwd=tmp_path, timeout=BUDGET_S + 120)
    [stopped] = trials_of(tmp_path, "budget")
    assert stopped.state.name == "FAIL", stopped.user_attrs
    # it ran until the budget was spent, then stopped at once, not at the end of its epoch
    assert stopped.datetime_complete is not None
    assert launched + BUDGET_S <= stopped.datetime_complete.timestamp()
    assert stopped.datetime_complete.timestamp() <= launched + BUDGET_S + STOP_SLACK_S
    done, batches = checkpoint_position(tmp_path, "budget", stopped.number)
    total = stopped.user_attrs[PROGRESS]["total"]
    assert 0 < batches < total, "no mid-epoch checkpoint"
    assert stopped.user_attrs[FAIL_REASON] == (
        f"time budget: stopped in epoch {done + 1} after batch {batches} of {total}, "
        "resumes there when the study is run again"
    )
    assert stopped.user_attrs[EPOCHS_RUN] == done
    output = first.stdout + first.stderr
    assert f"--time-budget 0m{BUDGET_S}s spent: run again to continue the study." in output
    assert "time budget: stopped in epoch" in output  # the trial's line says why
    _, [parent], [run] = mlflow_runs(tmp_path, "budget")
    assert (parent.info.status, run.info.status) == ("FINISHED", "FAILED")
    assert run.data.tags["sweeper.failure"] == stopped.user_attrs[FAIL_REASON]

    # the same command again, with a budget that leaves time for the rest of the trial
    sweeper(*args, "--time-budget", "10m", cwd=tmp_path)
    trials = trials_of(tmp_path, "budget")
    rerun = the_rerun_of(trials, stopped.number)
    assert_resumed_at(tmp_path, "budget", rerun, done, batches)
    assert rerun.state.name == "COMPLETE", [(t.number, t.state.name) for t in trials]
    assert {t.user_attrs[BASELINE] for t in trials} == {0}  # the second baseline waits
    assert rerun.user_attrs[EPOCHS_RUN] == epochs
    assert sorted(rerun.intermediate_values) == list(range(1, epochs + 1))


def test_sigterm_inside_an_epoch_keeps_its_batch_and_the_resumed_trial_ends_as_uninterrupted(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    (tmp_path / "stopped.py").write_text(STUDY.format(epochs=1))  # resumed inside its one epoch
    args: list[str | Path] = ["run", "stopped.py", "--trials", "1", "--data", tiny_corpus]
    proc = start_sweeper(*args, cwd=tmp_path)
    began = wait_for_running_trial(
        tmp_path, "stopped", proc, lambda t: PROGRESS in t.user_attrs, "began an epoch"
    )
    progress = began.user_attrs[PROGRESS]
    assert progress["epoch"] == 1 and progress["done"] >= 1
    proc.send_signal(signal.SIGTERM)
    _, stderr = wait_for_exit(proc, 60)
    assert proc.returncode == 143, stderr
    [stopped] = trials_of(tmp_path, "stopped")
    assert stopped.user_attrs[FAIL_REASON] == "interrupted (SIGTERM)"
    epochs, batches = checkpoint_position(tmp_path, "stopped", stopped.number)
    assert epochs == 0 and progress["done"] <= batches < progress["total"], "not mid-epoch"

    sweeper(*args, cwd=tmp_path)
    trials = trials_of(tmp_path, "stopped")
    rerun = the_rerun_of(trials, stopped.number)
    assert rerun.state.name == "COMPLETE"
    assert {t.user_attrs[BASELINE] for t in trials} == {0}  # the second baseline waits
    assert_resumed_at(tmp_path, "stopped", rerun, epochs, batches)
    assert_same_as_uninterrupted(tmp_path, "stopped", rerun, args)
