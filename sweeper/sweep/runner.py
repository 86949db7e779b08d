"""What `sweeper run` does once its plan is made: load the study's subset, open the study and
its parent run, and sweep, with the other workers of this machine and the live board."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console

from sweeper.data import Split
from sweeper.errors import first_line
from sweeper.process.log_levels import quiet_libraries
from sweeper.process.signals import PARENT_ENV, STOPPING, signal_of
from sweeper.study.settings import run_settings
from sweeper.sweep.plan import RunPlan

if TYPE_CHECKING:
    from sweeper.data import Split
    from sweeper.data.corpus import Corpus
    from sweeper.sweep.worker import Worker


def execute(plan: RunPlan, argv: list[str], console: Console) -> int:
    """Run (or resume) the plan's study in this process; worker 0 also starts the other workers
    of this machine, shows the live board and, at the end, the leaderboard and what next."""
    from sweeper.process.placement import describe_device

    if plan.placements:
        os.environ.update(plan.placements[0].env())  # pinned before anything here touches CUDA
    corpus, train, val = study_subset(plan, console)

    from sweeper.sweep.warm_start import load_source, warm_start
    from sweeper.sweep.worker import Worker
    from sweeper.tracking.context import context_tags

    quiet_libraries()  # after the imports: importing mlflow sets its own log levels
    # checked before the study exists: a refused warm start leaves nothing behind
    source = load_source(plan, corpus.fingerprint) if plan.options.warm_start else None
    worker = Worker(plan)
    device = describe_device(plan.options.device, plan.threads)
    tags = context_tags(corpus.fingerprint, plan.spec.subset_seed, device)
    settings = run_settings(plan, corpus.root, corpus.fingerprint, train, val)
    context = worker.open(settings, tags, train, val)
    warmed = None
    if source is not None:
        warmed = warm_start(plan, worker.study, source, settings, context.settings_version)
    if plan.worker_index != 0:
        worker.sweep(context)
        return 0
    announce(plan, train, val, console)
    if warmed is not None:
        console.print(
            f"warm start from study {warmed.source}: {warmed.copied} trial(s) copied, "
            f"{warmed.queued} queued to run first"
            + (" (done before: not repeated)" if warmed.earlier else ""),
            highlight=False,
        )
    outcome = worker.sweep(context, _alongside(worker, plan, argv, console))
    conclude(worker, outcome, console)
    return 0


def study_subset(plan: RunPlan, console: Console) -> tuple[Corpus, Split, Split]:
    """The corpus and the study's fixed subset: every trial of every worker trains on exactly
    these frames. Worker 0 passes on what the subsets warn of."""
    from sweeper.data import course_split, load_corpus, subset
    from sweeper.data.defaults import resolve_data_dir

    spec = plan.spec
    corpus = load_corpus(resolve_data_dir(plan.options.data))
    train_all, val_all = course_split(corpus.train, seed=spec.split_seed, ratio=spec.train_ratio)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = subset(train_all, spec.train_frames, seed=spec.subset_seed)
        val = (
            val_all
            if spec.val_frames is None
            else subset(val_all, spec.val_frames, seed=spec.subset_seed)
        )
    if plan.worker_index == 0:
        for warning in caught:
            console.print(f"[yellow]warning:[/] {warning.message}")
    return corpus, train, val


def announce(plan: RunPlan, train: Split, val: Split, console: Console) -> None:
    from sweeper.masking import mask_url
    from sweeper.process.wait_policy import in_effect

    gpus, per_gpu = plan.options.gpus, plan.options.per_gpu
    console.print(
        f"study [bold]{plan.name}[/]: {plan.target} on {train.num_frames:,} train / "
        f"{val.num_frames:,} val frames, {plan.spec.epochs} epochs each, sampler {plan.sampler}, "
        f"pruner {plan.pruner}, {plan.workers} worker(s) x {plan.threads} thread(s), "
        f"{in_effect()}" + (f", {per_gpu} per GPU on GPU(s) {gpus}" if gpus else ""),
        highlight=False,
    )
    console.print(
        f"storage {mask_url(plan.storage_url)} · tracking {mask_url(plan.tracking_uri)}",
        highlight=False,
    )


@contextlib.contextmanager
def _alongside(worker: Worker, plan: RunPlan, argv: list[str], console: Console) -> Iterator[None]:
    """The other workers of this machine and the live board, for as long as this worker runs
    trials; the others stop with it (on its signal, or as on `kill` when it failed)."""
    from sweeper.sweep.live import Board

    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in plan.placements[1:]]
        procs = spawn_workers(argv, plan, logs)
        stop: int | None = None
        try:
            board = Board(
                worker.study, plan.trials, plan.spec.epochs, plan.workers, console, plan.budget_ends
            )
            with board:
                yield
                for proc in procs:
                    proc.wait()
        except BaseException as exc:
            stop = signal_of(exc) if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
            raise
        finally:
            _reap(procs, logs, console, stop)


def conclude(worker: Worker, outcome: str, console: Console) -> None:
    """The parent run's report, the leaderboard and the next steps."""
    from sweeper.analysis.report import refresh_parent_run
    from sweeper.masking import mask_text
    from sweeper.sweep.live import leaderboard

    plan = worker.plan
    try:
        refresh_parent_run(worker.study, worker.tracker, worker.parent)
    except Exception as exc:  # a tracking outage costs the parent's plots, not the sweep
        shown = mask_text(first_line(exc), [plan.tracking_uri])
        console.print(f"[yellow]warning:[/] the parent run's report was not logged: {shown}")
    console.print(leaderboard(worker.study.get_trials(deepcopy=False)))
    if outcome == "timeout":
        console.print(f"[yellow]--timeout reached[/]: run again to continue towards {plan.trials}.")
    if outcome == "time budget":
        console.print(
            f"[yellow]--time-budget {plan.budget_text} spent[/]: run again to continue the study.",
            highlight=False,
        )
    console.print(
        next_steps(plan.name, plan.storage_url, plan.tracking_uri, worker.tracker.experiment_id),
        soft_wrap=True,
    )


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
    from sweeper.masking import mask_url
    from sweeper.process.executables import command
    from sweeper.tracking.tracker import where_to_look

    sweeper = command("sweeper")
    return (
        "[bold]Next:[/]\n"
        f"  {where_to_look(tracking_uri, experiment_id)}   # the study's runs, ranked\n"
        f"  {command('optuna-dashboard')} {mask_url(storage_url)}\n"
        f"  {sweeper} report {name}       # importances and plots\n"
        f"  {sweeper} promote {name}      # best trial -> full run, registry, predictions.csv"
    )


def spawn_workers(
    argv: list[str], plan: RunPlan, logs: Sequence[IO[bytes]]
) -> list[subprocess.Popen[bytes]]:
    """A process of this very command for every placement after the first (this process),
    each started with its placement's environment (its index, threads and GPU) and the
    plan's (the time budget's end)."""
    procs = []
    for placement, log in zip(plan.placements[1:], logs, strict=True):
        env = {**os.environ, **plan.spawned_env(), **placement.env()}
        env[PARENT_ENV] = str(os.getpid())  # a worker stops when this process dies
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "sweeper", *argv],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                # Its own process group: Ctrl-C in the terminal reaches only this process,
                # which passes it on, so every worker gets each signal once (a second one
                # kills a worker while it records its trial).
                process_group=0,
            )
        )
    return procs
