"""What `sweeper run` does, in order: validate everything, then touch the stores, then sweep."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console

from sweeper.errors import StudyError, first_line
from sweeper.signals import STOPPING, signal_of
from sweeper.study_settings import file_digest, record, refuse_drift
from sweeper.studyfile import StudyFile, load_study_file
from sweeper.trial_record import SPEC_ATTR


def execute(
    *,
    study_file: Path,
    trials: int | None,
    timeout: float | None,
    data: Path | None,
    storage: str | None,
    tracking_uri: str | None,
    study_name: str | None,
    workers: int,
    gpus: str | None,
    per_gpu: int,
    sampler: str | None,
    pruner: str | None,
    seed: int | None,
    device: str,
    heartbeat: int,
    grace: int,
    worker_index: int,
    accept_changes: bool,
    argv: list[str],
    console: Console,
) -> int:
    from sweeper.data import course_split, load_corpus, subset
    from sweeper.data.defaults import resolve_data_dir
    from sweeper.placement import describe_device, plan_this_machine
    from sweeper.secrets import mask_logging, mask_text, mask_url
    from sweeper.storage import resolve_storage_url, resolve_tracking_uri, storage_lock

    # 1. Everything the user typed is checked before any store is touched.
    sf = load_study_file(study_file)
    if study_name:
        sf = dataclasses.replace(sf, name=study_name)
    spec = sf.spec
    sampler = sampler or spec.sampler
    if sampler == "grid" and not spec.grid:
        raise StudyError(f"--sampler grid: {study_file} defines no `grid` in its StudySpec")
    if heartbeat >= grace:
        raise StudyError(f"--grace ({grace}s) must be longer than --heartbeat ({heartbeat}s)")
    check_workers(workers, console if worker_index == 0 else None)
    target = trials or spec.default_trials
    storage_url = resolve_storage_url(storage)
    tracking = resolve_tracking_uri(tracking_uri)
    mask_logging([storage_url, tracking])
    from sweeper.tracking import check_tracking_store

    check_tracking_store(tracking)

    placements = []
    if worker_index == 0:  # the workers it spawns were placed by it
        placements = plan_this_machine(workers=workers, gpus=gpus, per_gpu=per_gpu, device=device)
        workers = len(placements)
        os.environ.update(placements[0].env())  # pinned before anything here touches CUDA
    threads = int(os.environ.get("SWEEPER_THREADS", 0)) or max(1, (os.cpu_count() or 1) // workers)
    device_tag = describe_device(device, threads)
    corpus = load_corpus(resolve_data_dir(data))

    # 2. The study's fixed subset: every trial of every worker trains on exactly these frames.
    train_all, val_all = course_split(corpus.train, seed=spec.split_seed, ratio=spec.train_ratio)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = subset(train_all, spec.train_frames, seed=spec.subset_seed)
        val = subset(val_all, spec.val_frames, seed=spec.subset_seed)
    if worker_index == 0:
        for warning in caught:
            console.print(f"[yellow]warning:[/] {warning.message}")

    from sweeper.live import Board, leaderboard
    from sweeper.objective import TrialContext
    from sweeper.report import refresh_parent_run
    from sweeper.sweep import SweepOptions, Worker, parent_run, spawn_workers
    from sweeper.tracking import context_tags
    from sweeper.trial_checkpoints import checkpoint_store

    quiet_libraries()  # after the imports: importing mlflow sets its own log levels

    opts = SweepOptions(
        study_file=sf,
        trials=target,
        storage_url=storage_url,
        tracking_uri=tracking,
        data_dir=corpus.root,
        sampler=sampler,
        pruner=pruner or spec.pruner,
        seed=spec.seed if seed is None else seed,
        device=device,
        timeout=timeout,
        workers=workers,
        worker_index=worker_index,
        heartbeat_interval=heartbeat,
        grace_period=grace,
    )
    worker = Worker(opts)
    study = worker.study
    settings = study_settings(sf, opts, corpus.fingerprint, train.num_frames, val.num_frames)
    stored = study.user_attrs.get(SPEC_ATTR)
    if stored is not None and not accept_changes:
        refuse_drift(sf.name, stored, settings)
    version = record(study, settings)
    tags = context_tags(corpus.fingerprint, spec.subset_seed, device_tag)
    tags["sweeper.storage"] = mask_url(storage_url)
    # Settings a resume may change (paths, the target) are tags; the rest are the parent's params.
    mutable = {"study_file", "data_dir", "target"}
    # Locked: workers starting together on several machines must create one parent between them.
    with storage_lock(storage_url, f"sweeper parent run of {sf.name}"):
        parent = parent_run(
            study, worker.tracker, tags, {k: v for k, v in settings.items() if k not in mutable}
        )
    worker.tracker.reopen(parent)
    if worker_index == 0:
        worker.tracker.set_tags(
            parent, {**tags, **{f"sweeper.{k}": str(settings[k]) for k in mutable}}
        )
        worker.tracker.log_study_file(parent, sf.path, settings["study_file_sha256"])

    context = TrialContext(
        study_file=sf,
        train=train,
        val=val,
        tracker=worker.tracker,
        parent_run_id=parent,
        # the process, with sweeper.host, tells which machine's worker ran (or lost) a trial
        tags={
            **tags,
            "sweeper.worker": str(worker_index),
            "sweeper.pid": str(os.getpid()),
        },
        target=target,
        device=device,
        threads=threads,
        settings_version=version,
        checkpoints=checkpoint_store(storage_url, sf.name, worker.tracker, parent),
    )
    if worker_index != 0:
        outcome = "interrupted"
        try:
            outcome = worker.run(context)
        finally:
            worker.close_parent(outcome)
        return 0

    console.print(
        f"study [bold]{sf.name}[/]: {target} trials on {train.num_frames:,} train / "
        f"{val.num_frames:,} val frames, {spec.epochs} epochs each, sampler {opts.sampler}, "
        f"pruner {opts.pruner}, {workers} worker(s) x {threads} thread(s)"
        + (f", {per_gpu} per GPU on GPU(s) {gpus}" if gpus else ""),
        highlight=False,
    )
    console.print(
        f"storage {mask_url(storage_url)} · tracking {mask_url(tracking)}", highlight=False
    )
    outcome = "interrupted"
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(1, workers)]
        procs = spawn_workers(argv, placements, logs)
        stop: int | None = None
        try:
            with Board(study, target, spec.epochs, workers, console):
                outcome = worker.run(context)
                for proc in procs:
                    proc.wait()
        except BaseException as exc:
            # The workers stop with this one: on its signal, or as on `kill` when it failed.
            stop = signal_of(exc) if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
            raise
        finally:
            _reap(procs, logs, console, stop)
            worker.close_parent(outcome)
    try:
        refresh_parent_run(study, worker.tracker, parent)
    except Exception as exc:  # a tracking outage costs the parent's plots, not the sweep
        shown = mask_text(first_line(exc), [tracking])
        console.print(f"[yellow]warning:[/] the parent run's report was not logged: {shown}")
    console.print(leaderboard(study.get_trials(deepcopy=False)))
    if outcome == "timeout":
        console.print(f"[yellow]--timeout reached[/]: run again to continue towards {target}.")
    console.print(
        next_steps(sf.name, storage_url, tracking, worker.tracker.experiment_id), soft_wrap=True
    )
    return 0


# Workers past the core count only share the cores (and each holds torch, the subset and its
# database connections); a few per core still pay off when trials wait on a GPU or the database.
# Past this many per core, the number is a typo.
MAX_WORKERS_PER_CORE = 4


def check_workers(workers: int, console: Console | None) -> None:
    """Refuse --workers past MAX_WORKERS_PER_CORE per core; warn past one per core."""
    try:
        # the cores this process may run on: a container's or `taskset`'s share of the machine
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on macOS
        cores = os.cpu_count() or 1
    if workers > MAX_WORKERS_PER_CORE * cores:
        raise StudyError(
            f"--workers {workers}: at most {MAX_WORKERS_PER_CORE * cores} here "
            f"({MAX_WORKERS_PER_CORE} per CPU core, {cores} cores)"
        )
    if workers > cores and console is not None:
        console.print(
            f"[yellow]warning:[/] --workers {workers} is more than the {cores} CPU core(s) "
            "sweeper may use here: the workers share them, so each trial runs slower",
            highlight=False,
        )


def quiet_libraries() -> None:
    """Optuna and MLflow narrate at INFO (study created, tables migrated); sweeper prints
    its own lines, so only their warnings and errors get through."""
    import logging

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def study_settings(
    sf: StudyFile, opts: Any, fingerprint: str, train_frames: int, val_frames: int
) -> dict[str, Any]:
    """What `promote`, `report` and `compare` need to know about how the study's trials ran."""
    spec = sf.spec
    return {
        "study_file": str(sf.path.resolve()),
        "study_file_sha256": file_digest(sf.path.read_bytes()),
        "data_dir": str(opts.data_dir),
        "dataset_fingerprint": fingerprint,
        "train_frames": spec.train_frames,
        "val_frames": spec.val_frames,
        "subset_train_frames": train_frames,
        "subset_val_frames": val_frames,
        "epochs": spec.epochs,
        "split_seed": spec.split_seed,
        "train_ratio": spec.train_ratio,
        "subset_seed": spec.subset_seed,
        "sampler": opts.sampler,
        "pruner": opts.pruner,
        "seed": opts.seed,
        "target": opts.trials,
    }


def _reap(
    procs: list[subprocess.Popen[bytes]], logs: list[Any], console: Console, stop: int | None
) -> None:
    """Wait for the workers, first passing on `stop` (a signal) to them when it is set.

    Interrupted workers record their trials within seconds; one still running after
    REAP_TIMEOUT_S is killed, and its trial is failed and retried after --grace by whichever
    worker runs the study next."""
    if stop is not None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(stop)
    deadline = time.monotonic() + REAP_TIMEOUT_S
    for proc, log in zip(procs, logs, strict=True):
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            console.print(f"[red]worker {proc.pid} did not stop in {REAP_TIMEOUT_S}s: killed[/]")
        if proc.returncode not in _STOPPED:
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-1:]
            console.print(f"[red]worker exited with {proc.returncode}[/]: {' '.join(tail)}")


REAP_TIMEOUT_S = 60
# Exit statuses of a worker that finished, or stopped on a signal as it should.
_STOPPED = {0, *(128 + signum for signum in STOPPING), *(-signum for signum in STOPPING)}


def next_steps(name: str, storage_url: str, tracking_uri: str, experiment_id: str) -> str:
    from sweeper.secrets import mask_url
    from sweeper.tracking import where_to_look

    return (
        "[bold]Next:[/]\n"
        f"  {where_to_look(tracking_uri, experiment_id)}   # the study's runs, ranked\n"
        f"  optuna-dashboard {mask_url(storage_url)}\n"
        f"  sweeper report {name}       # importances and plots\n"
        f"  sweeper promote {name}      # best trial -> full run, registry, predictions.csv"
    )
