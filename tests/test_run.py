"""`sweeper run` end to end on the tiny embedded corpus: real SQLite, MLflow and processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from sweeper.study.record import (
    BEST_EPOCH,
    EPOCHS_RUN,
    FAIL_REASON,
    N_PARAMS,
    RETRY_OF,
    RUN_ATTR,
    SECONDS,
)
from tests.cli import start_sweeper, sweeper
from tests.fixtures.services import free_port

STUDY = """
import optuna
from sweeper import StudySpec

study = StudySpec(
    train_frames={train_frames}, val_frames=1_000, epochs={epochs}, sampler="random",
    pruner="{pruner}", pruner_startup_trials=2, pruner_warmup_epochs=0,
)


def search_space(trial: optuna.Trial) -> dict:
    hidden = trial.suggest_categorical("hidden", {hidden})
    return {{"family": "mlp", "n": trial.suggest_int("n", 1, 5, step=2), "layers": 1,
            "hidden": hidden, "lr": {lr}, "batch_size": 256}}
"""


def write_study(
    path: Path,
    *,
    epochs: int = 2,
    pruner: str = "none",
    lr: str = "3e-3",
    hidden: str = "[16, 32]",
    train_frames: int = 4_000,
) -> Path:
    path.write_text(
        STUDY.format(epochs=epochs, pruner=pruner, lr=lr, hidden=hidden, train_frames=train_frames)
    )
    return path


def trials_of(cwd: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{cwd / 'sweeps.db'}")
    return study.get_trials(deepcopy=False)


def states(trials: list[optuna.trial.FrozenTrial]) -> list[str]:
    return sorted(t.state.name for t in trials)


def mlflow_runs(cwd: Path, name: str) -> tuple[MlflowClient, list, list]:
    """(client, parent runs, child runs) of a study's experiment."""
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("sweeper.role") == "parent"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A directory after `sweeper run tiny.py --trials 4` (each test copies what it changes)."""
    cwd = tmp_path_factory.mktemp("swept")
    write_study(cwd / "tiny.py")
    result = sweeper("run", "tiny.py", "--trials", "4", "--data", tiny_corpus, cwd=cwd)
    assert "Top 4 trials" in result.stderr + result.stdout
    return cwd


def test_sweep_records_trials_in_optuna_and_mlflow(swept: Path) -> None:
    trials = trials_of(swept, "tiny")
    assert states(trials) == ["COMPLETE"] * 4
    for trial in trials:
        assert 0.0 < trial.value <= 1.0
        assert trial.user_attrs[N_PARAMS] > 0
        assert trial.user_attrs[EPOCHS_RUN] == 2
        assert trial.user_attrs[BEST_EPOCH] in (1, 2)
        assert trial.user_attrs[SECONDS] > 0
        assert sorted(trial.intermediate_values) == [1, 2]

    client, parents, children = mlflow_runs(swept, "tiny")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert parent.data.tags["sweeper.dataset_fingerprint"]
    assert parent.data.params["epochs"] == "2"
    assert sorted(r.info.run_name for r in children) == [f"trial-{i}" for i in range(4)]
    by_trial = {int(r.data.tags["sweeper.trial"]): r for r in children}
    for trial in trials:
        run = by_trial[trial.number]
        assert run.info.run_id == trial.user_attrs[RUN_ATTR]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED" and run.data.tags["sweeper.state"] == "COMPLETE"
        assert run.data.params["hidden"] == str(trial.params["hidden"])
        assert int(run.data.params[N_PARAMS]) == trial.user_attrs[N_PARAMS]
        for tag in ("sweeper.version", "sweeper.torch_version", "sweeper.device"):
            assert run.data.tags[tag]
        history = client.get_metric_history(run.info.run_id, "val_acc")
        assert sorted(m.step for m in history) == [1, 2]
        assert max(m.value for m in history) == pytest.approx(trial.value)
        for metric in ("train_loss", "train_acc", "val_loss", "epoch_seconds"):
            assert len(client.get_metric_history(run.info.run_id, metric)) == 2
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"model.pt", "config.json"} <= artifacts
        config = json.loads(
            Path(client.download_artifacts(run.info.run_id, "config.json")).read_text()
        )
        assert config["hidden"] == trial.params["hidden"] and config["family"] == "mlp"
    # Both stores' files let `mlflow ui` and other workers read while a worker writes.
    for store in ("sweeps.db", "mlflow.db"):
        with closing(sqlite3.connect(swept / store)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_optuna_cli_reads_the_study(swept: Path) -> None:
    optuna_cli = Path(sys.executable).with_name("optuna")
    out = subprocess.run(
        [
            optuna_cli,
            "trials",
            "--study-name",
            "tiny",
            "--storage",
            "sqlite:///sweeps.db",
            "-f",
            "json",
        ],
        cwd=swept,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(out.stdout)
    assert len(rows) == 4 and {row["state"] for row in rows} == {"COMPLETE"}


def test_optuna_dashboard_serves_the_study(swept: Path) -> None:
    # as the README says: from the sweep's directory, given the storage URL; its plain WSGI
    # server, as gunicorn (its default when installed) keeps a control socket in $HOME
    dashboard = Path(sys.executable).with_name("optuna-dashboard")
    port = free_port()
    address = ["--host=127.0.0.1", f"--port={port}", "--server=wsgiref"]
    process = subprocess.Popen(
        [dashboard, "sqlite:///sweeps.db", *address],
        cwd=swept,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        studies = wait_for_json(f"http://127.0.0.1:{port}/api/studies", process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    [summary] = studies["study_summaries"]
    assert summary["study_name"] == "tiny" and summary["directions"] == ["maximize"]


def wait_for_json(url: str, process: subprocess.Popen[bytes]) -> dict:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"{url}: {exc}; {process.communicate()[1]!r}") from exc
            time.sleep(0.5)


def running_best(trials: list[optuna.trial.FrozenTrial]) -> dict[int, float]:
    """Trial number -> the best COMPLETE value up to it (from the first COMPLETE trial on)."""
    best, curve = None, {}
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state.name == "COMPLETE":
            best = trial.value if best is None else max(best, trial.value)
        if best is not None:
            curve[trial.number] = best
    return curve


def assert_best_so_far_curve(client: MlflowClient, parent_id: str, trials: list) -> None:
    """The parent's best_val_acc: a point per trial number, each the best up to it (workers
    racing may log a point twice, with the same value)."""
    history = client.get_metric_history(parent_id, "best_val_acc")
    expected = running_best(trials)
    assert {m.step for m in history} == set(expected)
    for point in history:
        assert point.value == pytest.approx(expected[point.step]), point


def test_the_parent_run_tells_the_study_story(swept: Path) -> None:
    client, [parent], children = mlflow_runs(swept, "tiny")
    experiment = client.get_experiment_by_name("tiny")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    trials = trials_of(swept, "tiny")
    assert_best_so_far_curve(client, parent.info.run_id, trials)
    counts = {k: v for k, v in parent.data.metrics.items() if k.startswith("trials_")}
    assert counts == {"trials_complete": 4, "trials_pruned": 0, "trials_failed": 0}
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    for plot in ("optimization_history", "param_importances", "parallel_coordinate"):
        assert f"report/{plot}.png" in logged and f"report/{plot}.html" in logged
    assert "report/intermediate_values.png" in logged
    digest = parent.data.tags["sweeper.study_file_sha256"]
    study_file = client.download_artifacts(parent.info.run_id, f"study/{digest[:12]}/tiny.py")
    assert Path(study_file).read_text() == (swept / "tiny.py").read_text()
    # each trial's run carries what the runs table sorts and filters on
    by_name = {r.info.run_name: r for r in children}
    for trial in trials:
        run = by_name[f"trial-{trial.number}"]
        assert run.data.metrics["best_val_acc"] == pytest.approx(trial.value)
    ranked = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`sweeper.state` = 'COMPLETE'",
        order_by=["metrics.best_val_acc DESC"],
    )
    best = sorted(trials, key=lambda t: t.value, reverse=True)
    assert [r.data.metrics["best_val_acc"] for r in ranked] == pytest.approx(
        [t.value for t in best]
    )


def test_resume_continues_to_the_new_target_under_one_parent(
    swept: Path, tmp_path: Path, tiny_corpus: Path
) -> None:
    for name in ("sweeps.db", "mlflow.db", "tiny.py"):
        shutil.copy(swept / name, tmp_path / name)
    shutil.copytree(swept / "mlruns", tmp_path / "mlruns", dirs_exist_ok=True)
    sweeper("run", "tiny.py", "--trials", "6", "--data", tiny_corpus, cwd=tmp_path)
    assert states(trials_of(tmp_path, "tiny")) == ["COMPLETE"] * 6
    client, parents, children = mlflow_runs(tmp_path, "tiny")
    assert len(parents) == 1 and len(children) == 6
    # the parent's curve, counts and plots now include the resumed trials
    assert_best_so_far_curve(client, parents[0].info.run_id, trials_of(tmp_path, "tiny"))
    assert parents[0].data.metrics["trials_complete"] == 6
    board = client.download_artifacts(parents[0].info.run_id, "report/leaderboard.csv")
    assert len(Path(board).read_text().splitlines()) == 1 + 6
    # the target is reached: running again adds nothing
    sweeper("run", "tiny.py", "--trials", "6", "--data", tiny_corpus, cwd=tmp_path)
    assert len(trials_of(tmp_path, "tiny")) == 6


def test_studies_and_report(swept: Path, tmp_path: Path) -> None:
    listing = sweeper("studies", cwd=swept)
    assert "tiny" in listing.stdout
    out = tmp_path / "report"
    result = sweeper("report", "tiny", "--out", out, cwd=swept)
    assert "Top 4 trials" in result.stdout
    for plot in ("optimization_history", "intermediate_values", "parallel_coordinate"):
        assert (out / f"{plot}.png").stat().st_size > 1000
        assert (out / f"{plot}.html").is_file()
    client, parents, _ = mlflow_runs(swept, "tiny")
    logged = {a.path for a in client.list_artifacts(parents[0].info.run_id, "report")}
    assert "report/optimization_history.png" in logged and "report/leaderboard.csv" in logged


# Runs a sweeper command in this process, then names the heavy modules it imported.
IMPORT_AUDIT = """
import sys
from sweeper.cli import main
try:
    main()
except SystemExit as stop:
    print("exit", stop.code or 0)
heavy = ("torch", "sweeper.sweep.worker", "sweeper.sweep.objective", "sweeper.sweep.runner",
         "sweeper.training")
print("imported", sorted(name for name in heavy if name in sys.modules))
"""


@pytest.mark.parametrize(
    ("args", "status"), [(["report", "tiny"], 0), (["studies"], 0), (["compare", "tiny"], 2)]
)
def test_reading_a_study_imports_neither_torch_nor_the_sweep_layer(
    swept: Path, tmp_path: Path, args: list[str], status: int
) -> None:
    # `compare` refuses this study (no comparison grid), once it has opened both stores
    out = ["--out", str(tmp_path / "out")] if args[0] != "studies" else []
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_AUDIT, *args, *out],
        cwd=swept,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines[-2:] == [f"exit {status}", "imported []"], result.stdout + result.stderr


# Runs a sweeper command in this process, then says whether MLflow's usage telemetry is on.
TELEMETRY_AUDIT = """
from sweeper.cli import main
try:
    main()
except SystemExit as stop:
    print("exit", stop.code or 0)
from mlflow.telemetry import get_telemetry_client
print("telemetry", "off" if get_telemetry_client() is None else "on")
"""
# What turns MLflow's telemetry off besides sweeper: the user's setting, and signs of a CI or a
# test run, which this test must not lean on.
TELEMETRY_OFF = ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "PYTEST_CURRENT_TEST", "CI")


def test_a_sweep_leaves_mlflow_telemetry_off(
    swept: Path, tmp_path: Path, tiny_corpus: Path
) -> None:
    cwd = tmp_path / "again"
    shutil.copytree(swept, cwd)
    env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_OFF}
    args = ["run", "tiny.py", "--trials", "4", "--data", str(tiny_corpus)]  # done already
    result = subprocess.run(
        [sys.executable, "-c", TELEMETRY_AUDIT, *args],
        cwd=cwd,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines[-2:] == ["exit 0", "telemetry off"], result.stdout + result.stderr


def test_the_pruner_prunes_hopeless_trials(tmp_path: Path, tiny_corpus: Path) -> None:
    # the first two trials learn; later ones have a learning rate too small to move
    write_study(
        tmp_path / "prune.py", epochs=3, pruner="median", lr="3e-3 if trial.number < 2 else 1e-7"
    )
    sweeper("run", "prune.py", "--trials", "4", "--data", tiny_corpus, cwd=tmp_path)
    trials = trials_of(tmp_path, "prune")
    assert states(trials) == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    client, [parent], children = mlflow_runs(tmp_path, "prune")
    pruned = [r for r in children if r.data.tags["sweeper.state"] == "PRUNED"]
    assert len(pruned) == 2 and {r.info.status for r in pruned} == {"KILLED"}
    for run in pruned:  # sortable with the COMPLETE ones: their best epoch's val_acc
        history = client.get_metric_history(run.info.run_id, "val_acc")
        assert run.data.metrics["best_val_acc"] == max(m.value for m in history)
    assert parent.data.metrics["trials_pruned"] == 2
    assert parent.data.metrics["trials_complete"] == 2
    assert all(t.user_attrs[EPOCHS_RUN] < 3 for t in trials if t.state.name == "PRUNED")


def test_a_failing_trial_does_not_stop_the_sweep(tmp_path: Path, tiny_corpus: Path) -> None:
    # trial 1 asks for an even window, which the model config refuses
    path = write_study(tmp_path / "failing.py")
    path.write_text(
        path.read_text().replace("step=2)", "step=2) + (1 if trial.number == 1 else 0)")
    )
    sweeper("run", "failing.py", "--trials", "3", "--data", tiny_corpus, cwd=tmp_path)
    trials = trials_of(tmp_path, "failing")
    assert states(trials) == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL"]
    failed = next(t for t in trials if t.state.name == "FAIL")
    assert failed.number == 1 and "must be odd" in failed.user_attrs[FAIL_REASON]
    _, _, children = mlflow_runs(tmp_path, "failing")
    run = next(r for r in children if r.data.tags["sweeper.trial"] == "1")
    assert run.info.status == "FAILED" and "must be odd" in run.data.tags["sweeper.failure"]


def study_exists(database: Path, name: str) -> bool:
    """Looked up read-only, so the test never races the sweep to create Optuna's tables."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            query = "SELECT count(*) FROM studies WHERE study_name = ?"
            return connection.execute(query, (name,)).fetchone()[0] > 0
    except sqlite3.Error:
        return False


def wait_for_running_trial(
    cwd: Path,
    name: str,
    proc: subprocess.Popen[str],
    ready: Callable[[optuna.trial.FrozenTrial], bool],
    what: str,
) -> optuna.trial.FrozenTrial:
    """A RUNNING trial of which `ready` holds; `what` it waited for, to say it never came."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if study_exists(cwd / "sweeps.db", name):
            for trial in trials_of(cwd, name):
                if trial.state.name == "RUNNING" and ready(trial):
                    return trial
        time.sleep(0.2)
    raise AssertionError(f"no trial {what} in time")


def wait_for_running_epoch(cwd: Path, name: str, proc: subprocess.Popen[str]) -> int:
    """The number of a RUNNING trial that has reported at least one epoch."""
    trial = wait_for_running_trial(
        cwd, name, proc, lambda t: bool(t.intermediate_values), "got to its first epoch"
    )
    return trial.number


# Long enough that a trial is still running when a worker that `--workers` spawned (10 s and
# more of imports) starts its first: every test that uses it stops the sweep early.
SLOW_EPOCHS = "epochs=400"


def slow_study(path: Path) -> Path:
    return write_study(path, epochs=400, hidden="[256]", train_frames=8_000)


def speed_up(study: Path) -> None:
    """The slow study's trials cut to one epoch, to finish a resumed sweep quickly."""
    study.write_text(study.read_text().replace(SLOW_EPOCHS, "epochs=1"))


def test_ctrl_c_marks_the_trial_interrupted_and_run_resumes(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    slow_study(tmp_path / "slow.py")
    proc = start_sweeper("run", "slow.py", "--trials", "2", "--data", tiny_corpus, cwd=tmp_path)
    number = wait_for_running_epoch(tmp_path, "slow", proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "resume" in stderr
    trial = next(t for t in trials_of(tmp_path, "slow") if t.number == number)
    assert trial.state.name == "FAIL" and "interrupted" in trial.user_attrs[FAIL_REASON]
    _, parents, children = mlflow_runs(tmp_path, "slow")
    assert parents[0].info.status == "KILLED"
    assert {r.info.status for r in children} == {"FAILED"}

    speed_up(tmp_path / "slow.py")
    sweeper(
        "run", "slow.py", "--trials", "2", "--data", tiny_corpus, "--accept-changes", cwd=tmp_path
    )
    assert states(trials_of(tmp_path, "slow")) == ["COMPLETE", "COMPLETE", "FAIL"]
    _, parents, children = mlflow_runs(tmp_path, "slow")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert all(r.info.status in ("FINISHED", "FAILED") for r in children)


def test_three_workers_share_one_sqlite_study(tmp_path: Path, tiny_corpus: Path) -> None:
    # a spawned worker spends about 10 s importing torch and MLflow before its first trial:
    # trials of about 4 s each, so the later-starting workers still find work left
    write_study(tmp_path / "parallel.py", epochs=14, hidden="[256]", train_frames=8_000)
    result = sweeper(
        "run", "parallel.py", "--trials", "6", "--workers", "3", "--data", tiny_corpus, cwd=tmp_path
    )
    assert "locked" not in result.stderr
    trials = trials_of(tmp_path, "parallel")
    reasons = [t.user_attrs.get(FAIL_REASON) for t in trials if t.state.name == "FAIL"]
    assert states(trials) == ["COMPLETE"] * 6, reasons
    workers = {t.user_attrs[RUN_ATTR] for t in trials}
    assert len(workers) == 6
    client, parents, children = mlflow_runs(tmp_path, "parallel")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 6 and {r.info.status for r in children} == {"FINISHED"}
    assert len({r.data.tags["sweeper.worker"] for r in children}) > 1
    # each worker process started with its share of the cores and the parent's wait policy,
    # and every trial says so
    threads = max(1, (os.cpu_count() or 1) // 3)
    (device,) = {r.data.tags["sweeper.device"] for r in children}
    assert device.startswith(f"cpu, {threads} threads, OMP "), device
    # three workers logged the parent's curve as their trials ended, in whatever order
    assert_best_so_far_curve(client, parents[0].info.run_id, trials)


def test_more_workers_than_cores_are_warned_about_and_still_sweep(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    write_study(tmp_path / "crowded.py", epochs=1)
    # pinned to one core, as a container's CPU set or a batch scheduler would
    result = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-m", "sweeper", "run", "crowded.py",
         "--trials", "1", "--workers", "2", "--data", str(tiny_corpus)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warning = "warning: --workers 2 is more than the 1 CPU core(s) sweeper may use here"
    assert result.stderr.count(warning) == 1, result.stderr
    assert states(trials_of(tmp_path, "crowded")) == ["COMPLETE"]


GRID_STUDY = """
import optuna
from sweeper import StudySpec

GRID = {"n": [1, 3, 5], "hidden": [16, 32]}
study = StudySpec(
    train_frames=8_000, val_frames=1_000, epochs=3, sampler="grid", pruner="none", grid=GRID
)


def search_space(trial: optuna.Trial) -> dict:
    return {"family": "mlp", "n": trial.suggest_categorical("n", GRID["n"]), "layers": 1,
            "hidden": trial.suggest_categorical("hidden", GRID["hidden"]), "lr": 3e-3,
            "batch_size": 256}
"""


def test_two_workers_cover_a_grid_once(tmp_path: Path, tiny_corpus: Path) -> None:
    (tmp_path / "grid.py").write_text(GRID_STUDY)
    sweeper(
        "run", "grid.py", "--trials", "6", "--workers", "2", "--data", tiny_corpus, cwd=tmp_path
    )
    trials = trials_of(tmp_path, "grid")
    assert states(trials) == ["COMPLETE"] * 6
    points = sorted((t.params["n"], t.params["hidden"]) for t in trials)
    assert points == [(n, hidden) for n in (1, 3, 5) for hidden in (16, 32)]


def test_a_killed_workers_trial_is_retried_with_the_same_params(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    slow_study(tmp_path / "killed.py")
    args = [
        "run",
        "killed.py",
        "--trials",
        "1",
        "--data",
        tiny_corpus,
        "--heartbeat",
        "1",
        "--grace",
        "3",
    ]
    proc = start_sweeper(*args, cwd=tmp_path)
    number = wait_for_running_epoch(tmp_path, "killed", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)

    speed_up(tmp_path / "killed.py")
    sweeper(*args, "--accept-changes", cwd=tmp_path)
    trials = trials_of(tmp_path, "killed")
    killed = next(t for t in trials if t.number == number)
    assert killed.state.name == "FAIL"
    retried = [t for t in trials if t.system_attrs.get(RETRY_OF) == number]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    assert retried[0].params == killed.params
    assert not [t for t in trials if t.state.name == "RUNNING"]
    client, parents, children = mlflow_runs(tmp_path, "killed")
    lost = client.get_run(killed.user_attrs[RUN_ATTR])
    assert lost.info.status == "FAILED" and "heartbeat" in lost.data.tags["sweeper.failure"]
    # both stores say why, and where the work went
    reason = f"worker stopped sending heartbeats; retried as trial {retried[0].number}"
    assert killed.user_attrs[FAIL_REASON].startswith(reason)
    assert lost.data.tags["sweeper.failure"] == killed.user_attrs[FAIL_REASON]
    assert FAIL_REASON not in retried[0].user_attrs
    assert {r.info.status for r in [*parents, *children]} <= {"FINISHED", "FAILED"}
