"""Outages and full disks: a tracking server that is down or goes down, a store that is not one,
a disk that fills up. Real servers, real files, real (small) filesystems."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
import torch
from mlflow.tracking import MlflowClient

from sweeper.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.cli import start_sweeper, sweeper, wait_for_exit
from tests.fixtures.services import MlflowServer
from tests.test_run import mlflow_runs, states, trials_of, wait_for_running_epoch, write_study

SECRET = "hunter2-secret"


@contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (a real filesystem that fills up), or a skip."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        print(f"skipped: {reason}")
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of `directory`'s filesystem; returns the filler file."""
    filler = directory / "filler"
    try:
        with filler.open("wb") as stream:
            while True:
                stream.write(b"\0" * 65536)
                stream.flush()
    except OSError:
        pass
    return filler


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:9", "the tracking server does not answer"),
        (f"http://sweeper:{SECRET}@127.0.0.1:9", "the tracking server does not answer"),
        ("foo://bar", "not a tracking store MLflow knows"),
        ("sqlite:///mlflow.db", "mlflow.db is not a SQLite database"),
    ],
    ids=["server-down", "server-down-with-password", "unknown-scheme", "not-sqlite"],
)
def test_an_unusable_tracking_store_fails_fast_and_nothing_is_created(
    tmp_path: Path, tiny_corpus: Path, uri: str, expected: str
) -> None:
    write_study(tmp_path / "tiny.py")
    if uri == "sqlite:///mlflow.db":
        (tmp_path / "mlflow.db").write_text("these are my notes, not a database\n")
    started = time.monotonic()
    result = sweeper(
        *("run", "tiny.py", "--data", tiny_corpus, "--tracking-uri", uri),
        cwd=tmp_path,
        # MLflow's own retries would take minutes: what the command ran with
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
        check=False,
        timeout=120,
    )
    assert time.monotonic() - started < 60
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --tracking-uri") and expected in line
    assert SECRET not in result.stdout + result.stderr
    assert not (tmp_path / "sweeps.db").exists()


@pytest.mark.heavy
def test_a_tracking_outage_mid_sweep_loses_no_trial(
    tmp_path: Path, tiny_corpus: Path, own_mlflow_server: MlflowServer
) -> None:
    write_study(tmp_path / "outage.py", epochs=30, hidden="[256]", train_frames=8_000)
    uri = own_mlflow_server.url.replace("http://", f"http://sweeper:{SECRET}@")
    args = ["run", "outage.py", "--trials", "2", "--data", tiny_corpus, "--tracking-uri", uri]
    proc = start_sweeper(*args, cwd=tmp_path)
    number = wait_for_running_epoch(tmp_path, "outage", proc)
    own_mlflow_server.stop()
    stopped = time.monotonic()
    stdout, stderr = wait_for_exit(proc, 300)
    # each trial waits out MLflow's bounded retries twice at most (sweeper.tracking.trial_log)
    assert time.monotonic() - stopped < 200
    assert proc.returncode == 0, stderr
    trials = trials_of(tmp_path, "outage")
    assert states(trials) == ["COMPLETE", "COMPLETE"]
    assert f"trial {number}: not logged in MLflow" in stderr
    assert f"trial {number + 1}: not logged in MLflow" in stderr and "its run" in stderr
    assert "Traceback" not in stderr
    assert SECRET not in stdout + stderr
    # what the server recorded before it went down: the trial's run and its first epochs
    client = MlflowClient(tracking_uri=own_mlflow_server.backend)
    runs = client.search_runs([client.get_experiment_by_name("outage").experiment_id])
    (run,) = [r for r in runs if r.data.tags.get("sweeper.trial") == str(number)]
    assert client.get_metric_history(run.info.run_id, "val_acc")
    assert not [r for r in runs if SECRET in str(r.data.tags) + str(r.data.params)]


def test_a_trial_end_on_a_full_disk_leaves_both_stores_consistent(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    with small_filesystem(tmp_path / "full", "16m") as full:
        write_study(tmp_path / "full.py", epochs=40, hidden="[256]", train_frames=8_000)
        args = ["run", "full.py", "--trials", "1", "--data", tiny_corpus]
        args += ["--storage", "sqlite:///full/sweeps.db", "--heartbeat", "1", "--grace", "3"]
        proc = start_sweeper(*args, cwd=tmp_path)
        study_db = full / "sweeps.db"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _running_epoch(study_db):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.3)
        filler = fill(full)
        _, stderr = wait_for_exit(proc, 120)
        assert proc.returncode == 2, stderr
        last = stderr.strip().splitlines()[-1]
        assert "could not record the end of trial 0" in last and "disk is full" in last, stderr
        assert "Traceback" not in stderr and "Should not reach" not in stderr
        _, parents, children = mlflow_runs(tmp_path, "full")
        assert parents[0].info.status != "RUNNING"
        (child,) = children
        assert child.info.status == "FAILED"
        assert "disk is full" in child.data.tags["sweeper.failure"]
        assert f"its MLflow run {child.info.run_id} is FAILED" in last

        # Space again: the same command fails the stuck trial, retries it and finishes.
        filler.unlink()
        study = tmp_path / "full.py"
        study.write_text(study.read_text().replace("epochs=40", "epochs=1"))
        time.sleep(3)  # --grace: the stuck trial's heartbeats stopped with the disk
        sweeper(*args, "--accept-changes", cwd=tmp_path)
        trials = optuna.load_study(study_name="full", storage=f"sqlite:///{study_db}").trials
        assert sorted(t.state.name for t in trials) == ["COMPLETE", "FAIL"]
        _, _, children = mlflow_runs(tmp_path, "full")
        assert "RUNNING" not in {r.info.status for r in children}


def _running_epoch(database: Path) -> bool:
    if not database.exists():
        return False
    try:
        study = optuna.load_study(study_name="full", storage=f"sqlite:///{database}")
    except (KeyError, RuntimeError, ValueError):
        return False
    return any(t.state.name == "RUNNING" and t.intermediate_values for t in study.trials)


def test_the_data_cache_on_a_full_disk_only_warns(tmp_path: Path, tiny_corpus: Path) -> None:
    with small_filesystem(tmp_path / "cache", "64k") as cache:
        result = sweeper(
            "data", "info", tiny_corpus, cwd=tmp_path, env={"XDG_CACHE_HOME": str(cache)}
        )
        assert "could not write the data cache" in result.stderr
        assert "No space left on device" in result.stderr
        assert "Traceback" not in result.stderr
        assert not [p for p in cache.rglob("*.tmp")]


def test_a_checkpoint_on_a_full_disk_is_one_error_and_keeps_the_last_one(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "ckpt", "256k") as directory:
        save_checkpoint(directory, {"epoch": 1, "weights": torch.zeros(1000)})
        with pytest.raises(CheckpointError, match="cannot write the checkpoint: No space left"):
            save_checkpoint(directory, {"epoch": 2, "weights": torch.zeros(1_000_000)})
        kept = load_checkpoint(directory)
        assert kept is not None and kept["epoch"] == 1
        assert [p.name for p in directory.iterdir()] == ["checkpoint.pt"]


@pytest.mark.parametrize("debug", ["", "1"], ids=["one-line", "with-traceback"])
def test_an_error_sweeper_did_not_foresee_is_told_with_the_password_masked(
    tmp_path: Path, debug: str
) -> None:
    """A library's error quoting the tracking URI (MLflow's does, password and all)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 'sweeps.db'}")
    uri = f"http://sweeper:{SECRET}@127.0.0.1:9"
    result = sweeper(
        *("compare", "s", "--tracking-uri", uri),
        cwd=tmp_path,
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "SWEEPER_DEBUG": debug},
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert SECRET not in result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: MlflowException: API request to http://sweeper:***@127.0.0.1:9")
    assert ("Traceback" in result.stderr) == bool(debug)
