"""Scaling out: the same trials with 1 and 2 workers, and what each trial costs the storage.

(a) Workers: one fixed grid of small trials (8 configurations, pruner off), run by
    `sweeper run --workers 1` and `--workers 2` on SQLite: wall time of each and the speed-up.
    The grid sampler gives trial k the same configuration in both runs (checked).
(b) Storage: the Optuna storage work of one sweeper trial alone (create, 3 suggests, sweeper's
    user attributes, a report and a prune check per epoch, tell; heartbeats on), timed per
    trial on a SQLite file and on PostgreSQL side by side.

    python -m benchmarks.parallel [--data DIR] [--postgres CONNINFO] [--storage-trials 50]

--postgres is an admin conninfo of a server where a throwaway database may be created
(default: postgresql://postgres@127.0.0.1:5432/postgres); without one, (b) shows SQLite alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import optuna
import psycopg

from sweeper.masking import mask_url
from sweeper.storage.rdb import open_storage
from sweeper.study.record import BEST_EPOCH, CONFIG, EPOCHS_RUN, N_PARAMS, RUN_ATTR, SECONDS
from tests.fixtures.services import fresh_database  # run as a module from the repository root

GRID_STUDY = """
import optuna
from sweeper import StudySpec

GRID = {"n": [1, 5, 9, 13], "hidden": [64, 256]}
study = StudySpec(train_frames=30_000, val_frames=2_000, epochs=4, sampler="grid", pruner="none",
                  grid=GRID)


def search_space(trial: optuna.Trial) -> dict:
    return {"family": "mlp", "layers": 2, "lr": 3e-3, "batch_size": 512,
            "n": trial.suggest_categorical("n", GRID["n"]),
            "hidden": trial.suggest_categorical("hidden", GRID["hidden"])}
"""
EPOCHS = 5  # per emulated trial in (b): one report and one prune check each


def sweep(workers: int, data: str | None) -> tuple[float, float, list[tuple[int, dict]]]:
    """`sweeper run --workers N` on the grid: wall seconds of the command, seconds from the
    first trial's start to the last one's end, and each trial's (number, params)."""
    with tempfile.TemporaryDirectory(prefix="sweeper-parallel-") as tmp:
        cwd = Path(tmp)
        (cwd / "grid.py").write_text(GRID_STUDY)
        args = [sys.executable, "-m", "sweeper", "run", "grid.py", "--workers", str(workers)]
        if data:
            args += ["--data", data]
        started = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
        wall = time.perf_counter() - started
        study = optuna.load_study(study_name="grid", storage=f"sqlite:///{cwd / 'sweeps.db'}")
        finished = [t for t in study.trials if t.state.is_finished()]
    first = min(t.datetime_start for t in finished if t.datetime_start)
    last = max(t.datetime_complete for t in finished if t.datetime_complete)
    span = (last - first).total_seconds()
    return wall, span, sorted((t.number, t.params) for t in finished)


def emulated_trial(trial: optuna.Trial) -> float:
    """What sweeper's objective asks of the storage in one trial, without the training."""
    trial.set_user_attr(RUN_ATTR, uuid.uuid4().hex)
    config = {
        "n": trial.suggest_int("n", 1, 21, step=2),
        "hidden": trial.suggest_categorical("hidden", [256, 512, 1024]),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
    }
    trial.set_user_attr(N_PARAMS, 123_456)
    trial.set_user_attr(CONFIG, config)
    for epoch in range(1, EPOCHS + 1):
        trial.set_user_attr(EPOCHS_RUN, epoch)
        trial.report(0.5 + epoch / 100, epoch)
        trial.should_prune()
    for key, value in ((BEST_EPOCH, EPOCHS), (EPOCHS_RUN, EPOCHS), (SECONDS, 1.0)):
        trial.set_user_attr(key, value)
    return 0.5


def storage_ms_per_trial(url: str, trials: int) -> float:
    storage = open_storage(url, heartbeat_interval=10, grace_period=30, max_retry=2)
    study = optuna.create_study(
        storage=storage, study_name="bench", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(emulated_trial, n_trials=3)  # warm-up: connections, caches
    started = time.perf_counter()
    study.optimize(emulated_trial, n_trials=trials)
    return 1000 * (time.perf_counter() - started) / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="default: the embedded corpus")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--storage-trials", type=int, default=50)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    one, one_span, one_trials = sweep(1, args.data)
    two, two_span, two_trials = sweep(2, args.data)
    assert one_trials == two_trials, "the two runs trained different configurations"
    print(f"(a) the same {len(one_trials)} grid trials (4 epochs, 30k frames)")
    print("                           whole command   first trial start to last trial end")
    print(f"    1 worker  x 2 threads: {one:8.1f} s      {one_span:8.1f} s")
    print(f"    2 workers x 1 thread:  {two:8.1f} s      {two_span:8.1f} s")
    print(f"    speed-up:              {one / two:8.2f}x     {one_span / two_span:8.2f}x")

    print(f"(b) storage work per trial ({EPOCHS} epochs), {args.storage_trials} trials each")
    with tempfile.TemporaryDirectory(prefix="sweeper-storage-") as tmp:
        sqlite = storage_ms_per_trial(f"sqlite:///{tmp}/sweeps.db", args.storage_trials)
    print(f"    SQLite file:  {sqlite:6.1f} ms")
    try:
        with fresh_database(args.postgres) as url:
            postgres = storage_ms_per_trial(url, args.storage_trials)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0]
        print(f"    PostgreSQL:   skipped, {mask_url(args.postgres)} unreachable: {reason}")
        return
    print(f"    PostgreSQL:   {postgres:6.1f} ms   ({postgres / sqlite:.2f}x SQLite)")


if __name__ == "__main__":
    main()
