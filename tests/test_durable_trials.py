"""Trials that lose no work: checkpoints every epoch, resumption on any worker after kill -9 or
Ctrl-C, refusal of a resumed study whose experiment changed, and what the parent run records.

Real processes, real signals, real SQLite / PostgreSQL studies and MLflow stores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
import torch
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial, TrialState

from sweeper.study.record import (
    EPOCHS_RUN,
    EPOCHS_TRAINED,
    REQUEUED_FROM,
    RESUMED_AT,
    RETRY_OF,
    RUN_ATTR,
    VERSION_ATTR,
    VERSIONS_ATTR,
)
from tests.cli import start_sweeper, sweeper
from tests.fixtures.services import fresh_database

EPOCHS = 10

STUDY = """
import optuna
from sweeper import StudySpec

study = StudySpec(
    train_frames=8_000, val_frames=1_000, epochs={epochs}, sampler="random", pruner="{pruner}",
    pruner_startup_trials=1, keep_checkpoints={keep},
)


def search_space(trial: optuna.Trial) -> dict:
    return {{"family": "mlp", "n": trial.suggest_int("n", {n_low}, 5, step=2), "layers": 1,
            "hidden": 256, "dropout": 0.2, "lr": 3e-3, "batch_size": 256}}
"""


def write_study(
    path: Path, *, epochs: int = EPOCHS, pruner: str = "none", keep: int = 3, n_low: int = 5
) -> Path:
    """A study whose trials take about half a second an epoch; `n_low=5` fixes the config."""
    path.write_text(STUDY.format(epochs=epochs, pruner=pruner, keep=keep, n_low=n_low))
    return path


def trials_of(storage: str, name: str) -> list[FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def sqlite(cwd: Path) -> str:
    return f"sqlite:///{cwd / 'sweeps.db'}"


def wait_for_epochs(storage: str, name: str, proc: subprocess.Popen, epochs: int) -> FrozenTrial:
    """The RUNNING trial once it has reported at least `epochs` epochs."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            running = [t for t in trials_of(storage, name) if t.state == TrialState.RUNNING]
        except (KeyError, optuna.exceptions.StorageInternalError):
            running = []  # the study is not created yet
        for trial in running:
            if len(trial.intermediate_values) >= epochs:
                return trial
        time.sleep(0.1)
    raise AssertionError(f"no trial reached epoch {epochs} in time")


def checkpointed_epochs(directory: Path) -> int:
    state = torch.load(directory / "checkpoint.pt", weights_only=True)
    return len(state["history"])


def val_acc_steps(tracking: str, run_id: str) -> list[int]:
    history = MlflowClient(tracking_uri=tracking).get_metric_history(run_id, "val_acc")
    return sorted(m.step for m in history)


@pytest.mark.heavy
def test_a_killed_trial_resumes_from_its_last_epoch_with_the_same_result(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    write_study(tmp_path / "durable.py")
    args = ["run", "durable.py", "--trials", "1", "--data", tiny_corpus]
    args += ["--heartbeat", "1", "--grace", "3"]
    proc = start_sweeper(*args, cwd=tmp_path)
    killed = wait_for_epochs(sqlite(tmp_path), "durable", proc, 3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    lineage_dir = tmp_path / "sweeps.checkpoints" / "durable" / f"trial-{killed.number}"
    done = checkpointed_epochs(lineage_dir)
    # an epoch is reported before its checkpoint is written, so the kill may fall in between
    assert 2 <= done < EPOCHS

    sweeper(*args, cwd=tmp_path)  # another worker: finds the dead trial and retries it
    trials = trials_of(sqlite(tmp_path), "durable")
    retried = next(t for t in trials if t.system_attrs.get(RETRY_OF) == killed.number)
    assert retried.state == TrialState.COMPLETE
    assert retried.user_attrs[RESUMED_AT] == done
    assert retried.user_attrs[EPOCHS_TRAINED] == EPOCHS - done  # not all ten again
    assert retried.user_attrs[EPOCHS_RUN] == EPOCHS
    # the pruner heard every epoch, and the new MLflow run shows one unbroken history
    assert sorted(retried.intermediate_values) == list(range(1, EPOCHS + 1))
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert val_acc_steps(tracking, retried.user_attrs[RUN_ATTR]) == list(range(1, EPOCHS + 1))

    # the same trial uninterrupted, as its own study: exactly the same value on CPU
    sweeper(*args, "--study-name", "uninterrupted", cwd=tmp_path)
    (clean,) = trials_of(sqlite(tmp_path), "uninterrupted")
    assert clean.params == retried.params
    assert clean.value == retried.value
    assert clean.intermediate_values == retried.intermediate_values


@pytest.mark.heavy
def test_ctrl_c_then_resume_reruns_the_interrupted_parameters_from_their_checkpoint(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    write_study(tmp_path / "paused.py", n_low=1)
    args = ["run", "paused.py", "--trials", "2", "--data", tiny_corpus]
    proc = start_sweeper(*args, cwd=tmp_path)
    interrupted = wait_for_epochs(sqlite(tmp_path), "paused", proc, 2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr

    sweeper(*args, cwd=tmp_path)
    trials = trials_of(sqlite(tmp_path), "paused")
    rerun = [t for t in trials if t.user_attrs.get(REQUEUED_FROM) == interrupted.number]
    assert len(rerun) == 1 and rerun[0].state == TrialState.COMPLETE
    assert rerun[0].params == interrupted.params
    assert rerun[0].user_attrs[RESUMED_AT] >= 2
    # the interrupted parameters count once: two COMPLETE trials in all for --trials 2
    assert sorted(t.state.name for t in trials) == ["COMPLETE", "COMPLETE", "FAIL"]

    sweeper(*args, cwd=tmp_path)  # resuming a finished study queues nothing more
    assert len(trials_of(sqlite(tmp_path), "paused")) == 3


def test_checkpoints_of_ended_trials_are_removed_but_the_best_ones(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    write_study(tmp_path / "tidy.py", epochs=2, pruner="median", keep=2, n_low=1)
    sweeper("run", "tidy.py", "--trials", "6", "--data", tiny_corpus, cwd=tmp_path)
    trials = trials_of(sqlite(tmp_path), "tidy")
    complete = sorted(
        (t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: -(t.value or 0)
    )
    kept = sorted(p.name for p in (tmp_path / "sweeps.checkpoints" / "tidy").iterdir())
    assert kept == sorted(f"trial-{t.number}" for t in complete[:2])


def test_a_changed_study_file_or_dataset_is_refused(tmp_path: Path, tiny_corpus: Path) -> None:
    study = write_study(tmp_path / "drift.py", epochs=1)
    args = ["run", "drift.py", "--data", tiny_corpus]
    sweeper(*args, "--trials", "1", cwd=tmp_path)

    study.write_text(study.read_text().replace("epochs=1", "epochs=2"))
    refused = sweeper(*args, "--trials", "2", cwd=tmp_path, check=False)
    assert refused.returncode == 2
    error = refused.stderr.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert "study file" in error and "epochs (1 -> 2)" in error and "--accept-changes" in error
    assert len(trials_of(sqlite(tmp_path), "drift")) == 1

    sweeper(*args, "--trials", "2", "--accept-changes", cwd=tmp_path)
    study_ = optuna.load_study(study_name="drift", storage=sqlite(tmp_path))
    first, second = study_.get_trials(deepcopy=False)
    versions = study_.user_attrs[VERSIONS_ATTR]
    assert versions[first.user_attrs[VERSION_ATTR]]["epochs"] == 1
    assert versions[second.user_attrs[VERSION_ATTR]]["epochs"] == 2

    changed = tmp_path / "changed-corpus"
    shutil.copytree(tiny_corpus, changed)
    labels = changed / "train_labels.txt"
    first_line, rest = labels.read_text().split("\n", 1)
    utterance, label, *more = first_line.split()
    labels.write_text(" ".join([utterance, str((int(label) + 1) % 41), *more]) + "\n" + rest)
    refused = sweeper(
        "run", "drift.py", "--data", changed, "--trials", "3", cwd=tmp_path, check=False
    )
    assert refused.returncode == 2 and "dataset" in refused.stderr, refused.stderr


def test_the_parent_run_holds_the_study_file_and_provenance(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    study = write_study(tmp_path / "prov.py", epochs=1)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "prov.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "study"], check=True)
    study.write_text(study.read_text() + "# edited after the commit\n")
    sweeper("run", "prov.py", "--trials", "1", "--data", tiny_corpus, cwd=tmp_path)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("prov")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("sweeper.role") == "parent")
    digest = parent.data.tags["sweeper.study_file_sha256"]
    (folder,) = client.list_artifacts(parent.info.run_id, "study")
    assert folder.path == f"study/{digest[:12]}"
    fetched = client.download_artifacts(parent.info.run_id, f"{folder.path}/prov.py", tmp_path)
    assert Path(fetched).read_text() == study.read_text()
    assert parent.data.tags["sweeper.git_dirty"] == "true"
    child = next(r for r in runs if r.data.tags.get("sweeper.role") != "parent")
    assert child.data.metrics["peak_rss_mb"] > 50  # torch alone holds more
    for run in (parent, child):  # the device that trained, not the flag's `auto`
        assert run.data.tags["sweeper.device"].startswith("cpu, ")


@pytest.mark.slow
def test_on_postgresql_a_killed_trial_resumes_on_another_machine(
    tmp_path: Path, tiny_corpus: Path, postgres_server: str, mlflow_server: str
) -> None:
    """Two "machines": separate directories sharing only the database and the MLflow server,
    where the checkpoints travel as artifacts of the study's parent run."""
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    for machine in (first, second):
        machine.mkdir()
        write_study(machine / "shared.py", keep=0)
    with fresh_database(postgres_server) as storage:
        args = ["run", "shared.py", "--trials", "1", "--data", tiny_corpus]
        args += ["--storage", storage, "--tracking-uri", mlflow_server]
        args += ["--heartbeat", "1", "--grace", "3"]
        proc = start_sweeper(*args, cwd=first)
        wait_for_epochs(storage, "shared", proc, 3)
        time.sleep(0.5)  # let the epoch's checkpoint reach the server
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)

        sweeper(*args, cwd=second)
        trials = trials_of(storage, "shared")
    (retried,) = [t for t in trials if t.system_attrs.get(RETRY_OF) is not None]
    assert retried.state == TrialState.COMPLETE
    done = retried.user_attrs[RESUMED_AT]
    assert done >= 2
    assert retried.user_attrs[EPOCHS_TRAINED] == EPOCHS - done
    assert sorted(retried.intermediate_values) == list(range(1, EPOCHS + 1))
    client = MlflowClient(tracking_uri=mlflow_server)
    parent = client.get_run(retried.user_attrs[RUN_ATTR]).data.tags["mlflow.parentRunId"]
    # the trial's end removed its checkpoint from the server (keep_checkpoints=0)
    assert client.list_artifacts(parent, "study") and not client.list_artifacts(
        parent, "checkpoints/trial-0"
    )
