"""Storage URLs and Optuna storage for many workers: real SQLite files, real PostgreSQL."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import optuna
import psycopg
import pytest
import sqlalchemy
from optuna.distributions import FloatDistribution
from optuna.testing.pytest_storages import StorageTestCase
from sqlalchemy.engine import make_url

from sweeper.errors import StudyError
from sweeper.storage.rdb import (
    DEFAULT_STORAGE,
    DEFAULT_TRACKING_URI,
    LockHeld,
    open_storage,
    resolve_storage_url,
    resolve_tracking_uri,
    storage_lock,
)
from sweeper.storage.resilient import REPEATABLE, ResilientRDBStorage
from sweeper.study.record import CONFIG, FAIL_REASON, RETRY_OF
from tests.fixtures.services import PostgresCluster, free_port

T = TypeVar("T")

HEARTBEAT = {"heartbeat_interval": 1, "grace_period": 3, "max_retry": 2}


def test_storage_url_comes_from_flag_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_storage_url(None) == DEFAULT_STORAGE
    monkeypatch.setenv("SWEEPER_STORAGE", "sqlite:///from-env.db")
    assert resolve_storage_url(None) == "sqlite:///from-env.db"
    assert resolve_storage_url("sqlite:///from-flag.db") == "sqlite:///from-flag.db"


def test_tracking_uri_comes_from_flag_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_tracking_uri(None) == DEFAULT_TRACKING_URI
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri(None) == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("sqlite:///other.db") == "sqlite:///other.db"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("postgresql://alice:hunter2@db:port/optuna", "is not a database URL"),
        ("postgresql:/alice:hunter2@db/optuna", "is not a database URL"),
        ("postgres://alice:hunter2@db/optuna", "unknown database 'postgres'"),
        ("mysql+nodriver://alice:hunter2@db/optuna", "unknown database"),
        ("sqlite:///no/such/dir/sweeps.db", "directory no/such/dir does not exist"),
    ],
)
def test_bad_storage_url_is_one_masked_line_naming_the_flag(url: str, complaint: str) -> None:
    with pytest.raises(StudyError) as raised:
        resolve_storage_url(url)
    message = str(raised.value)
    assert message.startswith("--storage ")
    assert complaint in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_bad_storage_url_from_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWEEPER_STORAGE", "postgresql://alice:hunter2@db:port/optuna")
    with pytest.raises(StudyError, match=r"from \$SWEEPER_STORAGE.*alice:\*\*\*@db"):
        resolve_storage_url(None)


def test_unreachable_database_is_one_masked_line() -> None:
    url = f"postgresql+psycopg://alice:hunter2@127.0.0.1:{free_port()}/optuna"
    with pytest.raises(StudyError) as raised:
        open_storage(url, **HEARTBEAT)
    message = str(raised.value)
    assert "hunter2" not in message and "alice:***@127.0.0.1" in message
    assert "cannot open the database" in message and "\n" not in message


def test_grace_period_must_exceed_heartbeat_interval(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="below the grace period"):
        open_storage(
            f"sqlite:///{tmp_path}/s.db", heartbeat_interval=5, grace_period=5, max_retry=1
        )


def test_the_storage_calls_sweeper_wraps_exist_and_go_through_its_wrapper(tmp_path: Path) -> None:
    # storage.resilient overrides RDBStorage methods by name, private ones included: an Optuna
    # release that renamed one would silently drop the retry after a dropped connection
    overridden = [*REPEATABLE, "set_trial_state_values", "check_trial_is_updatable"]
    for name in [*overridden, "record_heartbeat"]:
        assert callable(getattr(optuna.storages.RDBStorage, name, None)), name
    storage = open_storage(f"sqlite:///{tmp_path}/s.db", **HEARTBEAT)
    wrapper = ResilientRDBStorage.get_trial.__code__  # every wrapped method shares it
    through: set[str] = set()

    def watch(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code is wrapper:
            through.add(frame.f_locals["method"].__name__)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr(CONFIG, {"x": x})
        trial.report(x, 1)
        trial.should_prune()
        return x

    sys.setprofile(watch)
    try:
        study = optuna.create_study(storage=storage, study_name="wrapped", direction="maximize")
        study.set_user_attr("note", "kept")
        study.optimize(objective, n_trials=2)
        loaded = optuna.load_study(study_name="wrapped", storage=storage)
        assert len(loaded.get_trials(deepcopy=False)) == 2
    finally:
        sys.setprofile(None)
    # what a sweep asks of its storage: listing and loading, a trial's params, reports,
    # attributes and end, the study's attributes and the stale-trial check
    assert {
        "get_study_id_from_name",
        "_get_trials",
        "_set_trial_param",
        "set_trial_intermediate_value",
        "set_trial_user_attr",
        "set_trial_state_values",
        "set_study_user_attr",
        "_get_stale_trial_ids",
    } <= through


def test_password_with_braces_reaches_the_database(postgres_url: str) -> None:
    # Trust authentication ignores the password; what matters is that the URL survives intact.
    url = postgres_url.replace(
        "postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:{x}@"
    )
    storage = open_storage(url, **HEARTBEAT)
    assert optuna.create_study(storage=storage, study_name="braces").study_name == "braces"


def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/sweeps.db"
    return str(request.getfixturevalue("postgres_url"))


class TestOptunasStoragePromises(StorageTestCase):
    """Optuna's own tests of a storage (pickling included), run on the storage sweeper opens:
    its wrapper must keep every promise Optuna's RDB storage makes."""

    @pytest.fixture(params=["sqlite", "postgresql"])
    def storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> ResilientRDBStorage:
        return open_storage(database_url(request.param, tmp_path, request), **HEARTBEAT)


WORKER = textwrap.dedent(
    f"""
    import sys, optuna
    from sweeper.storage.rdb import open_storage
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url, trials = sys.argv[1], int(sys.argv[2])
    storage = open_storage(url, **{HEARTBEAT!r})
    study = optuna.load_study(study_name="s", storage=storage)
    study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=trials)
    """
)


def _run_workers(url: str, workers: int, trials_each: int) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(trials_each)], stderr=subprocess.PIPE
        )
        for _ in range(workers)
    ]
    errors = [process.communicate(timeout=120)[1].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * workers, errors


def test_local_worker_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sweeps.db"
    optuna.create_study(storage=open_storage(url, **HEARTBEAT), study_name="s")
    _run_workers(url, workers=3, trials_each=10)
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 30
    assert sorted(t.number for t in trials) == list(range(30))


def test_worker_processes_share_one_postgresql_database(postgres_url: str) -> None:
    optuna.create_study(storage=open_storage(postgres_url, **HEARTBEAT), study_name="s")
    _run_workers(postgres_url, workers=3, trials_each=5)
    trials = optuna.load_study(study_name="s", storage=postgres_url).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 15


HANGING_WORKER = textwrap.dedent(
    f"""
    import sys, time, optuna
    from sweeper.storage.rdb import open_storage
    storage = open_storage(sys.argv[1], **{HEARTBEAT!r})
    study = optuna.load_study(study_name="s", storage=storage)
    def objective(trial):
        trial.suggest_int("width", 1, 10**9)
        print("started", flush=True)
        time.sleep(600)
    study.optimize(objective, n_trials=1)
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_worker_trial_fails_and_is_retried_with_same_params(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database_url(backend, tmp_path, request)
    stale: list[int] = []
    storage = open_storage(url, **HEARTBEAT, on_stale=lambda _, trial: stale.append(trial.number))
    study = optuna.create_study(storage=storage, study_name="s")
    worker = subprocess.Popen(
        [sys.executable, "-c", HANGING_WORKER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline() == "started\n"
    finally:
        worker.kill()  # SIGKILL: no chance to mark its trial
        worker.wait()
    time.sleep(HEARTBEAT["grace_period"] + 1)

    study.optimize(lambda t: float(t.suggest_int("width", 1, 10**9)), n_trials=1)

    killed, retried = study.trials
    assert killed.state == optuna.trial.TrialState.FAIL
    assert retried.state == optuna.trial.TrialState.COMPLETE
    assert retried.params == killed.params
    assert retried.system_attrs[RETRY_OF] == killed.number
    assert stale == [killed.number]
    assert killed.user_attrs[FAIL_REASON] == (
        f"worker stopped sending heartbeats; retried as trial {retried.number} "
        f"(none for {HEARTBEAT['grace_period']}s)"
    )
    assert FAIL_REASON not in retried.user_attrs


def _state_of_trial(url: str, number: int) -> optuna.trial.TrialState:
    # A fresh storage, as another worker would see the study; it also fails stale trials.
    other_worker = optuna.load_study(study_name="s", storage=open_storage(url, **HEARTBEAT))
    optuna.storages.fail_stale_trials(other_worker)
    return other_worker.trials[number].state


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_running_trial_survives_a_database_restart(own_postgres_cluster: PostgresCluster) -> None:
    url = own_postgres_cluster.url
    study = optuna.create_study(storage=open_storage(url, **HEARTBEAT), study_name="s")

    def objective(trial: optuna.Trial) -> float:
        own_postgres_cluster.stop()
        time.sleep(HEARTBEAT["heartbeat_interval"] * 1.5)  # a heartbeat falls in the outage
        own_postgres_cluster.start()
        time.sleep(HEARTBEAT["grace_period"] + 1)
        # Heartbeats resumed, so no other worker takes this trial for dead.
        assert _state_of_trial(url, trial.number) == optuna.trial.TrialState.RUNNING
        return 1.0

    study.optimize(objective, n_trials=1)
    study.optimize(lambda t: 2.0, n_trials=1)  # pooled connections from before the restart

    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2


def _unpickled(storage: T) -> T:
    """What another process gets of `storage` (Optuna's storages pickle, as joblib and
    multiprocessing need)."""
    return pickle.loads(pickle.dumps(storage))


def _as_opened(storage: T) -> T:
    return storage


@pytest.mark.parametrize("copy", [_as_opened, _unpickled], ids=["as opened", "unpickled"])
def test_a_call_during_a_database_outage_waits_for_the_database(
    copy: Callable[[ResilientRDBStorage], ResilientRDBStorage],
    own_postgres_cluster: PostgresCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    study = optuna.create_study(
        storage=copy(open_storage(own_postgres_cluster.url, **HEARTBEAT)), study_name="s"
    )
    own_postgres_cluster.stop()
    restart = threading.Timer(2, own_postgres_cluster.start)
    restart.start()
    study.optimize(lambda t: 1.0, n_trials=1)  # a worker's next trial, mid-outage
    restart.join()
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE]
    assert "storage unreachable, reconnecting" in caplog.text
    assert "storage reachable again" in caplog.text


def _cut_off_mid_query(url: str, call: Callable[[], T], lock: str) -> T:
    """`call`'s result, with the database dropping the connection of its first query that
    waits on `lock`."""
    database = make_url(url).database
    blocker = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
    # The query waits on this lock, so it is surely mid-flight when its backend is ended.
    blocker.execute("BEGIN")
    blocker.execute(lock)
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(call)
        ended: list[tuple[bool]] = []
        while not ended and not result.done():
            ended = blocker.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND wait_event_type = 'Lock'",
                (database,),
            ).fetchall()
        blocker.execute("COMMIT")
        blocker.close()
        assert ended == [(True,)]
        return result.result(timeout=30)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # study.ask()
def test_a_query_cut_off_by_the_database_is_made_again(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A restart ends every session, mid-query too: the trial making that query carries on."""
    storage = open_storage(postgres_url, **HEARTBEAT)
    study = optuna.create_study(storage=storage, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    every_query = "LOCK TABLE trials IN ACCESS EXCLUSIVE MODE"
    trials = _cut_off_mid_query(
        postgres_url, lambda: storage.get_all_trials(study._study_id), every_query
    )
    assert [t.number for t in trials] == [0, 1]

    running = study.ask()
    # Only writes to this trial wait on its row: the reads before them go through.
    its_row = f"SELECT 1 FROM trials WHERE trial_id = {running._trial_id} FOR UPDATE"
    _cut_off_mid_query(postgres_url, lambda: running.set_user_attr(CONFIG, {"lr": 0.1}), its_row)
    assert study.trials[2].user_attrs == {CONFIG: {"lr": 0.1}}
    _cut_off_mid_query(postgres_url, lambda: study.tell(running, 0.5), its_row)
    assert (study.trials[2].state, study.trials[2].value) == (optuna.trial.TrialState.COMPLETE, 0.5)
    for call in ("_get_trials", "set_trial_user_attr", "set_trial_state_values"):
        assert f"storage dropped the connection ({call}); trying again" in caplog.text


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # study.ask()
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # fail_stale_trials
def test_an_unpickled_storage_is_set_up_alike_and_retries_a_silent_workers_trial(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/sweeps.db"
    storage = open_storage(url, **HEARTBEAT)
    study = optuna.create_study(storage=storage, study_name="s")
    silent = study.ask({"x": FloatDistribution(0.0, 1.0)})
    storage.record_heartbeat(silent._trial_id)  # its worker's last beat

    copy = _unpickled(storage)

    assert copy.url == url
    with copy.engine.connect() as connection:  # 1: NORMAL, as open_storage sets it
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    time.sleep(HEARTBEAT["grace_period"] + 1)
    seen_by_copy = optuna.load_study(study_name="s", storage=copy)
    optuna.storages.fail_stale_trials(seen_by_copy)
    failed, retried = seen_by_copy.trials
    assert (failed.state, retried.state) == (
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.WAITING,
    )
    assert retried.params == failed.params == silent.params
    assert failed.user_attrs[FAIL_REASON] == (
        f"worker stopped sending heartbeats; retried as trial 1 "
        f"(none for {HEARTBEAT['grace_period']}s)"
    )


def test_sqlite_storage_uses_write_ahead_logging(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sweeps.db"
    storage = open_storage(url, **HEARTBEAT)
    with sqlalchemy.create_engine(url).connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
    with storage.engine.connect() as connection:  # 1: NORMAL, the log synced at checkpoints
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1


LOCK_HOLDER = textwrap.dedent(
    """
    import sys, time
    from sweeper.storage.rdb import storage_lock
    url, log = sys.argv[1], sys.argv[2]
    with storage_lock(url, "parent run of s"):
        with open(log, "a") as out:
            out.write("in\\n")
        time.sleep(1)  # longer than the processes' start-up differs
        with open(log, "a") as out:
            out.write("out\\n")
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_storage_lock_admits_one_process_at_a_time(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database_url(backend, tmp_path, request)
    log = tmp_path / "log.txt"
    holders = [
        subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, url, str(log)]) for _ in range(3)
    ]
    assert [holder.wait(timeout=60) for holder in holders] == [0, 0, 0]
    assert log.read_text().split() == ["in", "out"] * 3


LONG_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sweeper.storage.rdb import storage_lock
    url, lock_file = sys.argv[1], Path(sys.argv[2])
    with storage_lock(url, "promote of s", wait=False, lock_file=lock_file):
        print("held", flush=True)
        sys.stdin.readline()
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_lock_asked_for_without_waiting_is_refused_while_another_process_holds_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database_url(backend, tmp_path, request)
    lock_file = tmp_path / "locks" / "promote.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", LONG_HOLDER, url, str(lock_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        refused = storage_lock(url, "promote of s", wait=False, lock_file=lock_file)
        with pytest.raises(LockHeld), refused:
            pass
        # the sweep's own short locks are not held up by it
        with storage_lock(url, "trial slots of s", wait=False):
            pass
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    with storage_lock(url, "promote of s", wait=False, lock_file=lock_file):
        pass
