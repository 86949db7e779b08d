"""`sweeper run`'s plan: the study file and the flags, resolved and checked once.

Every later step takes what it needs from the plan (the sweep its sampler, pruner, budget and
storage; the objective its device and threads; the tracker its URI), and nothing here writes to
a store: a mistake in the flags fails before the first write.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from dataclasses import dataclass

from rich.console import Console

from sweeper.errors import StudyError
from sweeper.process.placement import Placement
from sweeper.study.spec import StudyFile, StudySpec, load_study_file
from sweeper.sweep.options import RunOptions

WORKER_INDEX_ENV = "SWEEPER_WORKER_INDEX"  # a spawned worker's, from its placement; 0: none
THREADS_ENV = "SWEEPER_THREADS"  # a spawned worker's torch threads, from its placement
# When a spawned worker's --time-budget ends (epoch seconds): the first worker's, so that all
# the workers of a command stop together however long each took to start.
BUDGET_ENV = "SWEEPER_BUDGET_ENDS"

# Workers past the core count only share the cores (and each holds torch, the subset and its
# database connections); a few per core still pay off when trials wait on a GPU or the database.
# Past this many per core, the number is a typo.
MAX_WORKERS_PER_CORE = 4


@dataclass(frozen=True)
class RunPlan:
    """The options as options, and what they resolve to: the study file's defaults applied, the
    stores' URLs, the time budget in seconds, this machine's workers."""

    options: RunOptions
    study_file: StudyFile  # its name is the study's (--study-name applied)
    # the study's target of finished trials, all workers and machines together; None: as many
    # as the time budget allows
    trials: int | None
    sampler: str
    pruner: str
    seed: int
    time_budget: float | None  # seconds, this command's (its workers on this machine)
    budget_ends: float | None  # time.time() when the budget is spent
    storage_url: str
    tracking_uri: str
    placements: tuple[Placement, ...]  # the workers of this machine; none in a spawned worker
    threads: int  # torch threads of this worker's trials
    worker_index: int  # 0: the process the user started
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

    @property
    def target(self) -> str:
        """What ends the sweep: `20 trials`, `20 trials or 1h30m`, `trials for 1h30m`."""
        if self.time_budget is None:
            return f"{self.trials} trials"
        budget = self.budget_text
        return (
            f"trials for {budget}" if self.trials is None else f"{self.trials} trials or {budget}"
        )

    @property
    def budget_text(self) -> str:
        """The time budget as the board shows durations (`1h30m`); empty without one."""
        from sweeper.sweep.live import format_duration

        return "" if self.time_budget is None else format_duration(self.time_budget)

    def spawned_env(self) -> dict[str, str]:
        """What the workers this process spawns take from its plan besides their placement."""
        return {} if self.budget_ends is None else {BUDGET_ENV: repr(self.budget_ends)}


def plan_run(options: RunOptions, console: Console) -> RunPlan:
    """The plan of `sweeper run`'s flags; a StudyError (one line) for anything they cannot mean.

    The tracking store is asked once whether it can work; nothing is written anywhere, and
    from here on libraries' log records mask the stores' passwords."""
    from sweeper.masking import mask_logging
    from sweeper.process.placement import plan_this_machine
    from sweeper.process.wait_policy import choose_here
    from sweeper.storage.rdb import check_heartbeat, resolve_storage_url, resolve_tracking_uri
    from sweeper.tracking.health import check_tracking_store

    worker_index = int(os.environ.get(WORKER_INDEX_ENV, "0"))
    budget = (
        None
        if options.time_budget is None
        else parse_duration(options.time_budget, "--time-budget")
    )
    if budget is not None and options.timeout is not None:
        raise StudyError(
            "--timeout and --time-budget: give one (--time-budget also ends running trials)"
        )
    sf = load_study_file(options.study_file)
    if options.study_name:
        sf = dataclasses.replace(sf, name=options.study_name)
    if options.warm_start == sf.name:
        raise StudyError(
            f"--warm-start {options.warm_start}: that is this study; name another study of the "
            "storage"
        )
    sampler = options.sampler or sf.spec.sampler
    try:
        sf.spec.check_sampler(sampler)
    except ValueError as exc:
        raise StudyError(f"--sampler {sampler}: {options.study_file} {exc}") from None
    check_heartbeat(options.heartbeat, options.grace)
    check_workers(options.workers, console if worker_index == 0 else None)
    storage_url = resolve_storage_url(options.storage)
    tracking = resolve_tracking_uri(options.tracking_uri)
    mask_logging([storage_url, tracking])
    check_tracking_store(tracking)
    placements: tuple[Placement, ...] = ()
    if worker_index == 0:  # the workers it spawns were placed by it
        placements = tuple(
            plan_this_machine(
                workers=options.workers,
                gpus=options.gpus,
                per_gpu=options.per_gpu,
                device=options.device,
            )
        )
        threads = placements[0].threads
        # before torch loads OpenMP here; the workers it spawns inherit the choice
        choose_here(sum(placement.threads for placement in placements))
    else:
        threads = int(os.environ.get(THREADS_ENV, 0)) or max(
            1, (os.cpu_count() or 1) // options.workers
        )
    budget_ends = None
    if budget is not None:
        inherited = os.environ.get(BUDGET_ENV) if worker_index else None
        budget_ends = float(inherited) if inherited else time.time() + budget
    return RunPlan(
        options=options,
        study_file=sf,
        # a time budget alone ends the sweep by itself; with --trials, whichever comes first
        trials=options.trials or (None if budget is not None else sf.spec.default_trials),
        sampler=sampler,
        pruner=options.pruner or sf.spec.pruner,
        seed=sf.spec.seed if options.seed is None else options.seed,
        time_budget=budget,
        budget_ends=budget_ends,
        storage_url=storage_url,
        tracking_uri=tracking,
        placements=placements,
        threads=threads,
        worker_index=worker_index,
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


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_duration(text: str, flag: str) -> float:
    """Seconds in `90m`, `2h`, `1h30m`, `45s` or `45`; a StudyError naming `flag` otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or match is None:
        raise StudyError(f"{flag} {text}: not a duration (such as 90m, 2h, 1h30m or 45s)")
    hours, minutes, seconds = (float(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise StudyError(f"{flag} {text}: must be more than 0")
    return total
