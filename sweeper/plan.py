"""`sweeper run`'s plan: the study file and the flags, resolved and checked once.

Every later step takes what it needs from the plan (the sweep its sampler, pruner, budget and
storage; the objective its device and threads; the tracker its URI), and nothing here writes to
a store: a mistake in the flags fails before the first write.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from sweeper.errors import StudyError
from sweeper.placement import Placement
from sweeper.studyfile import StudyFile, StudySpec, load_study_file

THREADS_ENV = "SWEEPER_THREADS"  # a spawned worker's torch threads, from its placement

# Workers past the core count only share the cores (and each holds torch, the subset and its
# database connections); a few per core still pay off when trials wait on a GPU or the database.
# Past this many per core, the number is a typo.
MAX_WORKERS_PER_CORE = 4


@dataclass(frozen=True)
class RunPlan:
    study_file: StudyFile  # its name is the study's (--study-name applied)
    trials: int  # the study's target of finished trials, all workers and machines together
    sampler: str
    pruner: str
    seed: int
    timeout: float | None
    storage_url: str
    tracking_uri: str
    data: Path | None  # --data; None: the default corpus
    device: str
    gpus: str | None
    per_gpu: int
    placements: tuple[Placement, ...]  # the workers of this machine; none in a spawned worker
    threads: int  # torch threads of this worker's trials
    worker_index: int  # 0: the process the user started
    heartbeat_interval: int
    grace_period: int
    accept_changes: bool
    max_retry: int = 2

    @property
    def name(self) -> str:
        return self.study_file.name

    @property
    def spec(self) -> StudySpec:
        return self.study_file.spec

    @property
    def workers(self) -> int:
        return max(1, len(self.placements))


def plan_run(
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
    console: Console,
) -> RunPlan:
    """The plan of `sweeper run`'s flags; a StudyError (one line) for anything they cannot mean.

    The tracking store is asked once whether it can work; nothing is written anywhere, and
    from here on libraries' log records mask the stores' passwords."""
    from sweeper.placement import plan_this_machine
    from sweeper.secrets import mask_logging
    from sweeper.storage import check_heartbeat, resolve_storage_url, resolve_tracking_uri
    from sweeper.tracking import check_tracking_store
    from sweeper.wait_policy import choose_here

    sf = load_study_file(study_file)
    if study_name:
        sf = dataclasses.replace(sf, name=study_name)
    sampler = sampler or sf.spec.sampler
    try:
        sf.spec.check_sampler(sampler)
    except ValueError as exc:
        raise StudyError(f"--sampler {sampler}: {study_file} {exc}") from None
    check_heartbeat(heartbeat, grace)
    check_workers(workers, console if worker_index == 0 else None)
    storage_url = resolve_storage_url(storage)
    tracking = resolve_tracking_uri(tracking_uri)
    mask_logging([storage_url, tracking])
    check_tracking_store(tracking)
    placements: tuple[Placement, ...] = ()
    if worker_index == 0:  # the workers it spawns were placed by it
        placements = tuple(
            plan_this_machine(workers=workers, gpus=gpus, per_gpu=per_gpu, device=device)
        )
        threads = placements[0].threads
        # before torch loads OpenMP here; the workers it spawns inherit the choice
        choose_here(sum(placement.threads for placement in placements))
    else:
        threads = int(os.environ.get(THREADS_ENV, 0)) or max(1, (os.cpu_count() or 1) // workers)
    return RunPlan(
        study_file=sf,
        trials=trials or sf.spec.default_trials,
        sampler=sampler,
        pruner=pruner or sf.spec.pruner,
        seed=sf.spec.seed if seed is None else seed,
        timeout=timeout,
        storage_url=storage_url,
        tracking_uri=tracking,
        data=data,
        device=device,
        gpus=gpus,
        per_gpu=per_gpu,
        placements=placements,
        threads=threads,
        worker_index=worker_index,
        heartbeat_interval=heartbeat,
        grace_period=grace,
        accept_changes=accept_changes,
    )


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
