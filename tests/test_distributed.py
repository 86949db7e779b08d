"""Many machines, one study: separate `sweeper run` processes sharing a real PostgreSQL
database and a real `mlflow server`, as on a cluster (here all on loopback), with faults.

The storage and tracking URLs carry passwords (trust authentication and the unauthenticated
MLflow server ignore them) that must never show in any output, run or study record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import optuna
import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import make_url

from sweeper.masking import mask_url
from sweeper.study.record import FAIL_REASON, RETRY_OF, RUN_ATTR, SURPLUS
from tests.cli import sweeper
from tests.fixtures.services import PostgresCluster, fresh_database
from tests.test_run import assert_best_so_far_curve

T = TypeVar("T")

DB_PASSWORD = "Db-pw-7f3kq"
TRACKING_PASSWORD = "Ml-pw-2x9vz"
HEARTBEAT = ["--heartbeat", "1", "--grace", "4"]

STUDY = """
import optuna
from sweeper import StudySpec

study = StudySpec(train_frames=4_000, val_frames=1_000, epochs=6, sampler="random", pruner="none")


def search_space(trial: optuna.Trial) -> dict:
    return {"family": "mlp", "n": 3, "layers": 1, "hidden": 64, "batch_size": 256,
            "lr": trial.suggest_float("lr", 1e-3, 1e-2, log=True),
            # the workers' first trials last long enough to be caught mid-way; the rest are quick
            "epochs": 6 if trial.number < 3 else 2}
"""


LEAKY_STUDY = """
import os

import optuna
from sweeper import StudySpec

study = StudySpec(train_frames=4_000, val_frames=1_000, epochs=1, sampler="random")


def search_space(trial: optuna.Trial) -> dict:
    # An error quoting the storage URL, as a database driver's message might.
    raise ConnectionError(f"cannot reach {os.environ['SWEEPER_STORAGE']}")
"""


def with_password(url: str, password: str) -> str:
    """`url` (PostgreSQL or http) with a user and `password` in its userinfo."""
    if url.startswith("http"):
        return f"http://sweeper:{password}@{urlsplit(url).netloc}"
    return make_url(url).set(password=password).render_as_string(hide_password=False)


@dataclass
class Workers:
    """`sweeper run` processes started at the same moment, as if on separate machines."""

    procs: list[subprocess.Popen[bytes]]
    logs: list[Path]

    @classmethod
    def start(cls, count: int, args: list[str], cwd: Path) -> Workers:
        # One thread each: the "machines" share this host's cores.
        env = {**os.environ, "COLUMNS": "200", "SWEEPER_THREADS": "1"}
        logs = [cwd / f"worker-{index}.log" for index in range(count)]
        procs = []
        for log in logs:
            with log.open("wb") as out:
                command = [sys.executable, "-m", "sweeper", "run", *args]
                procs.append(subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out))
        return cls(procs, logs)

    def output(self) -> str:
        return "\n".join(log.read_text() for log in self.logs)

    def check_alive(self) -> None:
        for proc, log in zip(self.procs, self.logs, strict=True):
            assert proc.poll() is None, f"a worker exited early:\n{log.read_text()}"

    def wait(self, timeout: float = 240) -> list[int]:
        return [proc.wait(timeout=timeout) for proc in self.procs]

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def started_workers() -> Iterator[list[Workers]]:
    """Workers a failed test leaves running are killed, never left behind."""
    started: list[Workers] = []
    yield started
    for workers in started:
        workers.kill_all()


def wait_for(what: str, probe: Callable[[], T], workers: Workers, timeout: float = 180) -> T:
    """The first truthy value of `probe()`, polled while every worker stays alive."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        workers.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{workers.output()}")
        time.sleep(0.2)
    return found


def trials(url: str, name: str) -> list[FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def study_started(workers: Workers, name: str) -> Callable[[], bool]:
    """True once every worker has opened the study (so its tables exist) and begun."""
    return lambda: all(f"study {name}:" in log.read_text() for log in workers.logs)


def mid_trial(
    workers: Workers, storage: str, tracking: str, name: str
) -> tuple[int, subprocess.Popen[bytes]] | None:
    """A trial past its first epoch and the worker running it (from its run's sweeper.pid)."""
    client = MlflowClient(tracking_uri=tracking)
    by_pid = {proc.pid: proc for proc in workers.procs}
    for trial in trials(storage, name):
        run_id = trial.user_attrs.get(RUN_ATTR)
        if trial.state == TrialState.RUNNING and trial.intermediate_values and run_id:
            return trial.number, by_pid[int(client.get_run(run_id).data.tags["sweeper.pid"])]
    return None


def surplus(trial: FrozenTrial) -> bool:
    """A trial that stood down at once: another worker had just taken the study's last slot."""
    return str(trial.user_attrs.get(FAIL_REASON, "")).startswith(SURPLUS)


def all_runs(tracking_uri: str, name: str) -> list:
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    return client.search_runs(
        [experiment.experiment_id], run_view_type=ViewType.ALL, max_results=1000
    )


@dataclass(frozen=True)
class Sweep:
    storage: str
    tracking: str
    target: int
    output: str
    returncodes: list[int]
    killed_trial: int  # the trial its worker was running when killed


TARGET = 5


@pytest.fixture(scope="module")
def sweep(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_corpus: Path,
    postgres_server: str,
    mlflow_server: str,
) -> Iterator[Sweep]:
    """Three workers share a study of TARGET trials; once a trial is mid-way, its worker is
    killed with SIGKILL, and the other two finish the study."""
    cwd = tmp_path_factory.mktemp("distributed")
    (cwd / "dist.py").write_text(STUDY)
    with fresh_database(postgres_server) as database:
        storage = with_password(database, DB_PASSWORD)
        tracking = with_password(mlflow_server, TRACKING_PASSWORD)
        args = ["dist.py", "--trials", str(TARGET), "--data", str(tiny_corpus)]
        args += ["--storage", storage, "--tracking-uri", tracking, *HEARTBEAT]
        workers = Workers.start(3, args, cwd)
        try:
            wait_for("every worker to start", study_started(workers, "dist"), workers)
            number, victim = wait_for(
                "a trial mid-way", lambda: mid_trial(workers, database, tracking, "dist"), workers
            )
            victim.kill()
            returncodes = workers.wait()
        finally:
            workers.kill_all()
        yield Sweep(database, tracking, TARGET, workers.output(), returncodes, number)


def test_workers_reach_exactly_the_target(sweep: Sweep) -> None:
    assert sorted(sweep.returncodes) == [-signal.SIGKILL, 0, 0], sweep.output
    found = trials(sweep.storage, "dist")
    numbers = [t.number for t in found]
    assert sorted(numbers) == list(range(len(found)))  # no duplicates, no gaps
    finished = [t for t in found if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == sweep.target
    assert {t.state for t in found} <= {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}


def test_workers_on_many_machines_propose_different_parameters(sweep: Sweep) -> None:
    # Every worker has the study file's seed; each trial must still get its own draw.
    found = trials(sweep.storage, "dist")
    fresh = [t for t in found if not surplus(t) and RETRY_OF not in t.system_attrs]
    assert len({t.params["lr"] for t in fresh}) == len(fresh)


def test_one_parent_run_and_a_closed_child_run_per_trial(sweep: Sweep) -> None:
    runs = all_runs(sweep.tracking, "dist")
    parents = [r for r in runs if r.data.tags.get("sweeper.role") == "parent"]
    assert len(parents) == 1, "workers starting together must create one parent between them"
    parent = parents[0]
    assert parent.info.lifecycle_stage == "active" and parent.info.status == "FINISHED"
    children = {r.info.run_id: r for r in runs if r is not parent}
    found = trials(sweep.storage, "dist")
    ran = [t for t in found if not surplus(t)]  # a surplus trial stands down before its run
    assert len(children) == len(ran)
    for trial in ran:
        run = children[trial.user_attrs[RUN_ATTR]]
        assert run.info.run_name == f"trial-{trial.number}"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["sweeper.state"] == trial.state.name
    assert {r.info.status for r in runs} <= {"FINISHED", "KILLED", "FAILED"}
    # workers on three machines logged the parent's best-so-far curve as their trials ended
    client = MlflowClient(tracking_uri=sweep.tracking)
    assert_best_so_far_curve(client, parent.info.run_id, found)


def test_a_killed_workers_trial_fails_and_is_retried_with_the_same_params(sweep: Sweep) -> None:
    found = trials(sweep.storage, "dist")
    failed = [t for t in found if t.state == TrialState.FAIL and not surplus(t)]
    assert [t.number for t in failed] == [sweep.killed_trial]
    killed = failed[0]
    retries = [t for t in found if t.system_attrs.get(RETRY_OF) == killed.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == killed.params
    assert killed.user_attrs[FAIL_REASON].startswith(
        f"worker stopped sending heartbeats; retried as trial {retries[0].number}"
    )

    client = MlflowClient(tracking_uri=sweep.tracking)
    lost = client.get_run(killed.user_attrs[RUN_ATTR])
    assert lost.info.status in ("FAILED", "KILLED")
    assert "heartbeat" in lost.data.tags["sweeper.failure"]
    retry_run = client.get_run(retries[0].user_attrs[RUN_ATTR])
    assert retry_run.data.tags["sweeper.retry_of"] == str(killed.number)


def test_passwords_never_show_in_output_runs_or_study(sweep: Sweep) -> None:
    assert DB_PASSWORD not in sweep.output and TRACKING_PASSWORD not in sweep.output
    assert "postgres:***@127.0.0.1" in sweep.output  # the URL is shown, masked
    assert f"open {mask_url(sweep.tracking)}/#/experiments/" in sweep.output  # the runs' page

    records = []
    for run in all_runs(sweep.tracking, "dist"):
        records += [run.data.params, run.data.tags]
    study = optuna.load_study(study_name="dist", storage=sweep.storage)
    records.append(study.user_attrs)
    records += [[t.user_attrs, t.system_attrs] for t in study.trials]
    text = json.dumps(records)
    assert DB_PASSWORD not in text and TRACKING_PASSWORD not in text
    assert "postgres:***@127.0.0.1" in text  # the parent's sweeper.storage.rdb tag


def test_a_failing_trials_error_never_shows_the_password(
    tmp_path: Path, tiny_corpus: Path, postgres_url: str, mlflow_server: str
) -> None:
    (tmp_path / "leak.py").write_text(LEAKY_STUDY)
    storage = with_password(postgres_url, DB_PASSWORD)
    tracking = with_password(mlflow_server, TRACKING_PASSWORD)
    result = sweeper(
        "run", "leak.py", "--trials", "1", "--data", tiny_corpus, "--tracking-uri", tracking,
        cwd=tmp_path, env={"SWEEPER_STORAGE": storage}, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "trials failed in a row" in result.stderr and "cannot reach" in result.stderr
    output = result.stdout + result.stderr
    assert DB_PASSWORD not in output and TRACKING_PASSWORD not in output

    failed = trials(postgres_url, "leak")
    assert failed and {t.state for t in failed} == {TrialState.FAIL}
    records = [t.user_attrs for t in failed]
    records += [r.data.tags for r in all_runs(tracking, "leak")]
    assert "postgres:***@" in json.dumps(records)
    assert DB_PASSWORD not in json.dumps(records)


@pytest.mark.heavy
def test_workers_ride_out_a_database_restart_and_a_paused_worker(
    own_postgres_cluster: PostgresCluster,
    tiny_corpus: Path,
    mlflow_server: str,
    tmp_path: Path,
    started_workers: list[Workers],
) -> None:
    """Mid-trial, one worker is paused (as by a suspended VM) and the database restarts. The
    other reconnects, takes the paused worker's trial for dead and retries it; the paused one,
    resumed, drops its stale result and carries on."""
    (tmp_path / "dist.py").write_text(STUDY)
    storage = own_postgres_cluster.url
    args = ["dist.py", "--trials", "4", "--data", str(tiny_corpus), "--study-name", "restart"]
    args += ["--storage", storage, "--tracking-uri", mlflow_server, *HEARTBEAT]
    workers = Workers.start(2, args, tmp_path)
    started_workers.append(workers)
    wait_for("every worker to start", study_started(workers, "restart"), workers)

    def retry_queued() -> bool:
        return any(RETRY_OF in t.system_attrs for t in trials(storage, "restart"))

    number, paused = wait_for(
        "a trial mid-way", lambda: mid_trial(workers, storage, mlflow_server, "restart"), workers
    )
    paused.send_signal(signal.SIGSTOP)
    try:
        own_postgres_cluster.stop()
        time.sleep(3)  # several heartbeats and epoch reports fall into the outage
        own_postgres_cluster.start()
        wait_for("the paused worker's trial to be retried", retry_queued, workers)
    finally:
        paused.send_signal(signal.SIGCONT)
    assert workers.wait() == [0, 0], workers.output()
    assert "Traceback" not in workers.output()
    assert "its result is dropped" in workers.logs[workers.procs.index(paused)].read_text()

    found = trials(storage, "restart")
    finished = [t for t in found if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4
    assert not [t for t in found if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    retried = {t.system_attrs[RETRY_OF]: t for t in found if RETRY_OF in t.system_attrs}
    for trial in found:
        if trial.state == TrialState.FAIL:  # failed cleanly with its reason, or lost and retried
            assert trial.user_attrs.get(FAIL_REASON) or trial.number in retried
    taken = found[number]
    assert taken.state == TrialState.FAIL and retried[number].params == taken.params

    client = MlflowClient(tracking_uri=mlflow_server)
    assert client.get_run(taken.user_attrs[RUN_ATTR]).info.status == "FAILED"
    runs = all_runs(mlflow_server, "restart")
    assert {r.info.status for r in runs} <= {"FINISHED", "KILLED", "FAILED"}
