"""Signals stop `sweeper run` the way Ctrl-C does: the trial recorded in both stores, the runs
closed, a prompt exit, and the same command resumes. Real processes, real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweeper.study.record import FAIL_REASON, RUN_ATTR, SECONDS
from tests.cli import start_sweeper, sweeper, wait_for_exit
from tests.test_run import (
    mlflow_runs,
    slow_study,
    speed_up,
    states,
    study_exists,
    trials_of,
    wait_for_running_epoch,
    write_study,
)

STOP_WITHIN_S = 30
# With --workers, each worker records its trial after the parent passes the signal on: on two
# busy shared cores that can take a while; what must hold is that nothing is left RUNNING.
WORKERS_STOP_WITHIN_S = 90


def children_of(pid: int) -> list[int]:
    """The processes that `pid`'s main thread started (the worker processes of `--workers`)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting for its parent to reap it does not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def pid_in_its_namespace(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("NSpid:")[1].splitlines()[0].split()[-1])


def wait_for_running_trials(cwd: Path, name: str, proc: subprocess.Popen[str], n: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if study_exists(cwd / "sweeps.db", name):
            running = [
                t
                for t in trials_of(cwd, name)
                if t.state.name == "RUNNING" and t.intermediate_values
            ]
            if len(running) >= n:
                return
        time.sleep(0.3)
    raise AssertionError(f"{n} trials never ran at once")


def assert_stopped_cleanly(cwd: Path, name: str, how: str) -> None:
    """Nothing RUNNING in either store; the stopped trials failed saying how."""
    trials = trials_of(cwd, name)
    assert "RUNNING" not in states(trials), states(trials)
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert failed and all(t.user_attrs[FAIL_REASON] == f"interrupted ({how})" for t in failed)
    _, parents, children = mlflow_runs(cwd, name)
    assert parents[0].info.status == "KILLED"
    assert {r.info.status for r in children} == {"FAILED"}


def resume_to_completion(cwd: Path, args: list[str | Path], name: str, n: int) -> None:
    speed_up(cwd / f"{name}.py")
    sweeper(*args, "--accept-changes", cwd=cwd)
    trials = trials_of(cwd, name)
    assert [t.state.name for t in trials].count("COMPLETE") == n
    assert "RUNNING" not in states(trials)
    _, parents, children = mlflow_runs(cwd, name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {r.info.status for r in children} <= {"FINISHED", "FAILED"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_a_trial_like_ctrl_c_and_the_command_resumes(
    tmp_path: Path, tiny_corpus: Path, signum: signal.Signals
) -> None:
    slow_study(tmp_path / "slow.py")
    args: list[str | Path] = ["run", "slow.py", "--trials", "2", "--data", tiny_corpus]
    proc = start_sweeper(*args, cwd=tmp_path)
    wait_for_running_epoch(tmp_path, "slow", proc)
    proc.send_signal(signum)
    _, stderr = wait_for_exit(proc, STOP_WITHIN_S)
    assert proc.returncode == 128 + signum, stderr
    assert f"interrupted ({signum.name})" in stderr and "resume" in stderr
    assert "Traceback" not in stderr
    assert_stopped_cleanly(tmp_path, "slow", signum.name)
    resume_to_completion(tmp_path, args, "slow", 2)


@pytest.mark.heavy
def test_sigterm_to_the_parent_stops_every_worker(tmp_path: Path, tiny_corpus: Path) -> None:
    slow_study(tmp_path / "slow.py")
    args: list[str | Path] = ["run", "slow.py", "--trials", "3", "--workers", "2"]
    args += ["--data", tiny_corpus]
    proc = start_sweeper(*args, cwd=tmp_path)
    wait_for_running_trials(tmp_path, "slow", proc, 2)
    workers = children_of(proc.pid)
    assert workers
    proc.send_signal(signal.SIGTERM)
    _, stderr = wait_for_exit(proc, WORKERS_STOP_WITHIN_S)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and "worker exited" not in stderr
    assert not [pid for pid in workers if alive(pid)]
    assert_stopped_cleanly(tmp_path, "slow", "SIGTERM")
    assert len([t for t in trials_of(tmp_path, "slow") if t.state.name == "FAIL"]) == 2
    resume_to_completion(tmp_path, args, "slow", 3)


def test_workers_stop_when_their_parent_is_killed(tmp_path: Path, tiny_corpus: Path) -> None:
    slow_study(tmp_path / "slow.py")
    args = ["run", "slow.py", "--trials", "3", "--workers", "2", "--data", tiny_corpus]
    proc = start_sweeper(*args, cwd=tmp_path)
    wait_for_running_trials(tmp_path, "slow", proc, 2)
    workers = [pid for pid in children_of(proc.pid) if b"sweeper" in cmdline(pid)]
    assert len(workers) == 1, workers  # --workers 2: this process and one more
    proc.kill()  # SIGKILL: nothing to forward, the kernel tells the workers
    wait_for_exit(proc, STOP_WITHIN_S)

    def recorded() -> list[str | None]:
        return [t.user_attrs.get(FAIL_REASON) for t in trials_of(tmp_path, "slow")]

    # the worker records its trial as it stops, then exits
    deadline = time.monotonic() + WORKERS_STOP_WITHIN_S
    while time.monotonic() < deadline and (
        alive(workers[0]) or "interrupted (SIGTERM)" not in recorded()
    ):
        time.sleep(0.2)
    assert not alive(workers[0]), "a worker outlived its parent"
    trials = trials_of(tmp_path, "slow")
    states_seen = [(t.number, t.state.name, t.user_attrs.get(FAIL_REASON)) for t in trials]
    assert "interrupted (SIGTERM)" in recorded(), states_seen


# The parent's main thread starts the worker and exits first, its other threads one by one, so
# the kernel hands the worker on, signalling the parent's death each time, as it does in a
# burst when a parent with torch's many threads is killed. The worker records its stop slowly.
PARENT_THREADS_EXIT = """
import ctypes, os, subprocess, sys, threading, time
from pathlib import Path
from sweeper.process.signals import PARENT_ENV

WORKER = '''
import os, sys, time
from pathlib import Path
from sweeper.process.signals import Interrupted, die_with_parent, stop_on_signals

stop_on_signals()
die_with_parent()
Path(sys.argv[1] + ".pid").write_text(str(os.getpid()))
try:
    while True:
        sum(range(10_000))
except Interrupted as exc:
    time.sleep(2)
    Path(sys.argv[1]).write_text(str(exc))
'''
env = {**os.environ, PARENT_ENV: str(os.getpid())}
subprocess.Popen([sys.executable, "-c", WORKER, sys.argv[1]], env=env)
while not Path(sys.argv[1] + ".pid").exists():
    time.sleep(0.05)
for i in range(1, 6):
    threading.Thread(target=time.sleep, args=(0.4 * i,)).start()
ctypes.CDLL(None).pthread_exit(None)
"""


def test_a_worker_hears_its_parents_death_once_and_records_its_stop(tmp_path: Path) -> None:
    """CI saw a worker die while it recorded its trial: the repeats of the signal killed it."""
    recorded = tmp_path / "recorded"
    subprocess.run(
        [sys.executable, "-c", PARENT_THREADS_EXIT, str(recorded)], timeout=120, check=True
    )
    worker = int(Path(f"{recorded}.pid").read_text())
    deadline = time.monotonic() + STOP_WITHIN_S
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert recorded.exists(), "the worker died before it recorded its stop"
    assert recorded.read_text() == "SIGTERM"


UNSHARE = ("unshare", "--pid", "--fork", "--mount-proc")


def _unshare_works() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run([*UNSHARE, "--kill-child", "true"], capture_output=True, check=False)
    return None if probe.returncode == 0 else f"unshare --pid fails here: {probe.stderr!r}"


def test_sweeper_as_pid_1_stops_on_sigterm(tmp_path: Path, tiny_corpus: Path) -> None:
    """As a container's entrypoint: PID 1 ignores every signal it has no handler for."""
    reason = _unshare_works()
    if reason:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    slow_study(tmp_path / "slow.py")
    args = ["run", "slow.py", "--trials", "2", "--data", tiny_corpus]
    outer = start_sweeper(*args, cwd=tmp_path, prefix=(*UNSHARE, "--kill-child"))
    wait_for_running_epoch(tmp_path, "slow", outer)
    (pid_1,) = children_of(outer.pid)  # sweeper: PID 1 inside, this pid outside
    assert pid_in_its_namespace(pid_1) == 1
    os.kill(pid_1, signal.SIGTERM)
    _, stderr = wait_for_exit(outer, STOP_WITHIN_S)  # killing unshare kills its PID 1 too
    assert outer.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert_stopped_cleanly(tmp_path, "slow", "SIGTERM")


EXITS = """
import sys
from sweeper import StudySpec

study = StudySpec(train_frames=4_000, val_frames=1_000, epochs=1, sampler="random", pruner="none")


def search_space(trial):
    sys.exit(3)
"""


def test_sys_exit_in_a_study_file_fails_the_trial_and_stops_with_one_line(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    (tmp_path / "exits.py").write_text(EXITS)
    result = sweeper(
        "run", "exits.py", "--trials", "3", "--data", tiny_corpus, cwd=tmp_path, check=False
    )
    assert result.returncode not in (0, 3), result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: exits.py:9: search_space called sys.exit(3)"), lines
    assert "Traceback" not in result.stderr
    trials = trials_of(tmp_path, "exits")
    assert states(trials) == ["FAIL"]  # the first trial stops the sweep
    assert "sys.exit(3)" in trials[0].user_attrs[FAIL_REASON]
    _, parents, children = mlflow_runs(tmp_path, "exits")
    assert parents[0].info.status != "RUNNING"
    (child,) = children
    assert child.info.status == "FAILED" and "sys.exit(3)" in child.data.tags["sweeper.failure"]


def _recording_its_end(db: sqlite3.Connection) -> tuple[int, str] | None:
    """(number, MLflow run id) of a trial whose objective wrote its last study attribute
    (`seconds`) but whose end Optuna has not recorded yet."""
    row = db.execute(
        "SELECT t.number, r.value_json FROM trials t"
        " JOIN trial_user_attributes s ON s.trial_id = t.trial_id AND s.key = ?"
        " JOIN trial_user_attributes r ON r.trial_id = t.trial_id AND r.key = ?"
        " WHERE t.state = 'RUNNING'",
        (SECONDS, RUN_ATTR),
    ).fetchone()
    return None if row is None else (row[0], json.loads(row[1]))


def test_a_signal_while_a_trial_end_is_recorded_waits_for_the_record(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    """SIGTERM lands while Optuna writes a finished trial's end (held up here by a lock on the
    study's database, as another worker's write would): the end is recorded, then it stops."""
    write_study(tmp_path / "quick.py", epochs=1, hidden="[16]", train_frames=2_000)
    proc = start_sweeper("run", "quick.py", "--trials", "200", "--data", tiny_corpus, cwd=tmp_path)
    deadline = time.monotonic() + 180
    while not study_exists(tmp_path / "sweeps.db", "quick"):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    study_db = sqlite3.connect(tmp_path / "sweeps.db", timeout=30, isolation_level=None)
    mlflow_db = sqlite3.connect(tmp_path / "mlflow.db", timeout=30)
    caught = None
    while caught is None:
        assert proc.poll() is None and time.monotonic() < deadline, "no trial end was caught"
        if _recording_its_end(study_db) is None:
            time.sleep(0.002)
            continue
        study_db.execute("BEGIN EXCLUSIVE")
        caught = _recording_its_end(study_db)  # still unrecorded, now that nothing can write
        if caught is None:
            study_db.execute("ROLLBACK")
    number, run_id = caught
    # once the trial's MLflow run is closed, the objective has returned: Optuna's write waits
    while (
        mlflow_db.execute("SELECT status FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()[0]
        != "FINISHED"
    ):
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    study_db.execute("ROLLBACK")
    _, stderr = wait_for_exit(proc, STOP_WITHIN_S)
    assert proc.returncode == 143, stderr
    assert "could not record" not in stderr
    trial = next(t for t in trials_of(tmp_path, "quick") if t.number == number)
    assert trial.state.name == "COMPLETE"
    assert "RUNNING" not in states(trials_of(tmp_path, "quick"))
