"""The Optuna objective: one trial = one training run on the study's fixed subset, tracked.

The trainer knows nothing of Optuna or MLflow; this layer turns its per-epoch callback into
pruner reports and MLflow metrics, its per-batch one into the trial's progress for the live
board, and records every outcome in both stores. The sweep's time budget stops a trial at its
next batch, keeping a checkpoint there that the next run of the study resumes from.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import BaseTrial, FrozenTrial

from sweeper.data import Split
from sweeper.errors import StudyFileError
from sweeper.masking import mask_text
from sweeper.models import ConfigError, count_parameters, resolve_config
from sweeper.process.memory import PeakMemory
from sweeper.process.signals import deferred, describe
from sweeper.study.record import (
    BEST_EPOCH,
    BUDGET_SPENT,
    CONFIG,
    EPOCHS_RUN,
    EPOCHS_TRAINED,
    FAIL_REASON,
    N_PARAMS,
    PRUNE_REASON,
    RESUMED_AT,
    RESUMED_AT_BATCH,
    RETRY_OF,
    RUN_ATTR,
    SECONDS,
    STOPPED_EARLY,
    TRIAL_LIMIT,
    VAL_ACC_SE,
    VERSION_ATTR,
    WARM_START_FROM,
    baseline_of,
)
from sweeper.study.spec import StudyFile, call_search_space
from sweeper.sweep.checkpoints import CheckpointStore, lineage
from sweeper.sweep.slots import SurplusTrial, stand_down_if_surplus
from sweeper.sweep.trial_progress import progress_reporter
from sweeper.tracking.context import config_json
from sweeper.tracking.tracker import Tracker
from sweeper.tracking.trial_log import TrialLog
from sweeper.training.loop import (
    EpochStats,
    ResumePoint,
    TrainingStopped,
    TrainResult,
    resume_point,
    train,
)


class BudgetSpent(Exception):
    """The sweep's time budget stopped the trial before its last epoch; its message, the trial's
    fail reason, says where (`time budget: stopped in epoch 2 after batch 40 of 250, ...`)."""

    def __init__(self, where: str, kept: bool) -> None:
        super().__init__(
            f"{BUDGET_SPENT}: stopped {where}, "
            + ("resumes there when the study is run again" if kept else "no checkpoint kept")
        )


@dataclass
class TrialContext:
    study_file: StudyFile
    train: Split
    val: Split
    tracker: Tracker
    parent_run_id: str
    tags: dict[str, str]
    trials: int | None  # the study's target of finished trials; None: no target
    budget_ends: float | None = None  # time.time() when `sweeper run --time-budget` is spent
    device: str = "auto"
    threads: int | None = None
    settings_version: str = ""
    checkpoints: CheckpointStore | None = None


def trial_config(study_file: StudyFile, trial: BaseTrial) -> dict[str, Any]:
    """The trial's config, validated. A problem no sampled value can cure (an unknown key, a
    bad constant) is a StudyFileError, which stops the sweep; a bad value of a parameter the
    trial sampled fails this trial only."""
    config = {"epochs": study_file.spec.epochs, **call_search_space(study_file, trial)}
    try:
        resolve_config(config)
    except ConfigError as exc:
        if exc.unknown or set(exc.invalid) - set(trial.params):
            raise StudyFileError(
                f"{study_file.path}: {exc}, the same in every trial: fix the search space"
            ) from None
        raise
    return config


class Objective:
    """The trial function for `study.optimize`; each call is one TrialAttempt. `hold_signals()`
    is called as the trial's MLflow run is closed: a stop signal from then on must wait until
    Optuna has recorded the same end, or a run closed FINISHED would belong to a trial recorded
    FAIL (interrupted)."""

    def __init__(self, ctx: TrialContext, hold_signals: Callable[[], None]) -> None:
        self.ctx = ctx
        self.hold_signals = hold_signals

    def __call__(self, trial: optuna.Trial) -> float:
        return TrialAttempt(self.ctx, trial, self.hold_signals).run()


class TrialAttempt:
    """One run of a trial, from its start (or its checkpoint) to the end it records in both
    stores: COMPLETE, PRUNED or FAIL (interrupted included); a surplus trial records only why
    it stood down. The state here is what the epoch callback and the end share."""

    def __init__(
        self, ctx: TrialContext, trial: optuna.Trial, hold_signals: Callable[[], None]
    ) -> None:
        self.ctx = ctx
        self.trial = trial
        self.hold_signals = hold_signals
        self.started = time.perf_counter()
        self.peak = PeakMemory()
        self.log = TrialLog(trial.number, (ctx.tracker.tracking_uri,))
        self.run_id: str | None = None  # until the trial's MLflow run exists
        self.epochs_run = 0
        self.trained = 0  # epochs this attempt trained (a resumed trial ran the others before)
        # a pruned trial's run shows its best too, as COMPLETE's do
        self.best_yet: dict[str, float] = {}
        self.limits: list[tuple[float, str]] = []  # (time.time() to stop training at, which)
        self.last_epoch = 0  # of the config: a limit that strikes there stops nothing early
        self.stopped_by: str | None = None  # the limit that stopped training early
        self.reporter = progress_reporter(trial)

    def run(self) -> float:
        """Train the trial and record its end; its value, or the exception that ended it."""
        try:
            frozen = stand_down_if_surplus(self.trial, self.ctx.trials)
            self.start_run(frozen)
            config = self.configure()
            result = self.run_training(config, frozen)
        except SurplusTrial:
            raise  # it has said why
        except optuna.TrialPruned as exc:
            self.end_pruned(exc)
            raise
        except BaseException as exc:
            self.end_failed(exc)
            raise
        return self.end_complete(config, result)

    def start_run(self, frozen: FrozenTrial) -> None:
        """Open the trial's MLflow run, tagged with where the trial came from."""
        trial, ctx = self.trial, self.ctx
        tags = dict(ctx.tags)
        retry_of = frozen.system_attrs.get(RETRY_OF)
        if retry_of is not None:
            tags["sweeper.retry_of"] = str(retry_of)
        baseline = baseline_of(frozen)
        if baseline is not None:
            tags["sweeper.baseline"] = str(baseline)
        if WARM_START_FROM in frozen.user_attrs:
            tags["sweeper.warm_start"] = str(frozen.user_attrs[WARM_START_FROM])
        self.run_id = self.log.write(
            "its run", lambda: ctx.tracker.start_trial(ctx.parent_run_id, trial.number, {}, tags)
        )
        if self.run_id:
            trial.set_user_attr(RUN_ATTR, self.run_id)
        trial.set_user_attr(VERSION_ATTR, ctx.settings_version)

    def configure(self) -> dict[str, Any]:
        """The trial's config, recorded in both stores; a model over max_params is PRUNED."""
        config = trial_config(self.ctx.study_file, self.trial)
        n_params = count_parameters(config)
        self.trial.set_user_attr(N_PARAMS, n_params)
        self.trial.set_user_attr(CONFIG, config)
        params = {**config, N_PARAMS: n_params}
        self.write("params", lambda run_id: self.ctx.tracker.log_params(run_id, params))
        max_params = self.ctx.study_file.spec.max_params
        if max_params is not None and n_params > max_params:
            raise optuna.TrialPruned(
                f"{n_params:,} parameters, over max_params {max_params:,}: not trained"
            )
        return config

    def run_training(self, config: dict[str, Any], frozen: FrozenTrial) -> TrainResult:
        """Train on from the trial's checkpoint, if it has one, to its last epoch or until the
        pruner or a time limit stops it. Stop signals land between batches, which the
        checkpoint then keeps, as it does when the time budget stops the trial (BudgetSpent)."""
        checkpoint_dir, publish, done = self.resume(config, frozen)
        self.limits = self.time_limits(done)
        self.last_epoch = int(config["epochs"])
        self.epochs_run = len(done)
        for stats in done:
            self.note_best(stats)
            self.reporter.epoch_ended(stats)
        try:
            result = train(
                config,
                self.ctx.train,
                self.ctx.val,
                on_epoch=self.on_epoch,
                on_progress=self.reporter,
                should_stop=self.budget_spent,
                batch_guard=deferred,
                checkpoint_dir=checkpoint_dir,
                on_checkpoint=publish,
                device=self.ctx.device,
                threads=self.ctx.threads,
            )
        except TrainingStopped as exc:
            at = exc.progress
            where = f"in epoch {at.epoch} after batch {at.done} of {at.total}"
            raise BudgetSpent(where, exc.checkpointed) from None
        if self.stopped_by == BUDGET_SPENT:  # between two epochs, the last one's checkpoint kept
            raise BudgetSpent(f"after epoch {result.epochs_run}", checkpoint_dir is not None)
        return result

    def resume(
        self, config: dict[str, Any], frozen: FrozenTrial
    ) -> tuple[Path | None, Callable[[], None] | None, list[EpochStats]]:
        """The trial's checkpoint directory, how to publish each checkpoint written there, and
        the epochs it already holds. A re-run of a lineage replays those epochs, so the pruner
        and the MLflow run see the history an uninterrupted trial would have given them, then
        trains on from the checkpoint's batch. Checkpoints kept by the tracking store share its
        outages: then the trial trains on, from scratch if need be."""
        if self.ctx.checkpoints is None:
            return None, None, []
        store, root, log = self.ctx.checkpoints, lineage(frozen), self.log
        log.write("its checkpoint's download", lambda: store.fetch(root))
        directory = store.local(root)
        point = resume_point(directory, config)
        for stats in point.history:
            self.trial.report(stats.val_acc, stats.epoch)
            self.log_epoch(stats)
        if point.history or point.batches:
            self.mark_resumed(root, point)

        def publish() -> None:
            log.write("a checkpoint", lambda: store.publish(root))

        return directory, publish, point.history

    def mark_resumed(self, root: int, point: ResumePoint) -> None:
        """Say in both stores where the trial resumed its lineage's training."""
        epochs, batches = len(point.history), point.batches
        self.trial.set_user_attr(RESUMED_AT, epochs)
        self.trial.set_user_attr(RESUMED_AT_BATCH, batches)
        where = f"epoch {epochs + 1} after batch {batches}" if batches else f"after epoch {epochs}"
        resumed = {"sweeper.resumed": f"trial {root}, {where}"}
        self.write("the resume tag", lambda run_id: self.ctx.tracker.set_tags(run_id, resumed))

    def time_limits(self, replayed: list[EpochStats]) -> list[tuple[float, str]]:
        """When the trial must stop training (time.time()), at its next epoch boundary, and
        which limit says so: the study's max_trial_seconds, which counts the epochs a re-run
        found in its checkpoint as spent, and the sweep's time budget (which `budget_spent`
        also applies between batches)."""
        limits = []
        limit = self.ctx.study_file.spec.max_trial_seconds
        if limit is not None:
            spent = time.perf_counter() - self.started + sum(s.epoch_seconds for s in replayed)
            limits.append((time.time() + limit - spent, TRIAL_LIMIT))
        if self.ctx.budget_ends is not None:
            limits.append((self.ctx.budget_ends, BUDGET_SPENT))
        return limits

    def budget_spent(self) -> str | None:
        """The trainer's question after each batch: the sweep's time budget, the one limit that
        stops a trial inside an epoch (to resume there, where max_trial_seconds ends it)."""
        ends = self.ctx.budget_ends
        return BUDGET_SPENT if ends is not None and time.time() >= ends else None

    def on_epoch(self, stats: EpochStats) -> bool:
        """The trainer's callback after each epoch: log it, report it to the pruner (which may
        prune the trial), and say whether a time limit stops training here."""
        self.reporter.epoch_ended(stats)
        self.epochs_run, self.trained = stats.epoch, self.trained + 1
        self.note_best(stats)
        self.log_epoch(stats)
        self.report(stats)
        if stats.epoch < self.last_epoch:
            self.stopped_by = self.limit_struck()
        return self.stopped_by is not None

    def report(self, stats: EpochStats) -> None:
        """Report the epoch's val_acc; a TrialPruned when the pruner says so, before the last
        epoch: a trial that trained them all has nothing left to save, and is worth its value."""
        with deferred():  # Optuna writes here: see sweeper.process.signals
            self.trial.report(stats.val_acc, stats.epoch)
            prune = stats.epoch < self.last_epoch and self.trial.should_prune()
        if prune:
            raise optuna.TrialPruned(f"pruned at epoch {stats.epoch}: val_acc {stats.val_acc:.4f}")

    def limit_struck(self) -> str | None:
        """The time limit already reached, if any."""
        return next((name for ends, name in self.limits if time.time() >= ends), None)

    def note_best(self, stats: EpochStats) -> None:
        if stats.val_acc > self.best_yet.get("best_val_acc", -1.0):
            self.best_yet.update(best_val_acc=stats.val_acc, best_epoch=stats.epoch)

    def log_epoch(self, stats: EpochStats) -> None:
        if self.run_id:
            call = partial(self.ctx.tracker.log_epoch, self.run_id, stats.epoch, stats.metrics())
            self.log.epoch(stats.epoch, call)

    def write(self, what: str, call: Callable[[str], object], *, closing: bool = False) -> None:
        """`call(run_id)` on the trial's MLflow run, when it has one, through the trial log."""
        run_id = self.run_id
        if run_id:
            self.log.write(what, lambda: call(run_id), closing=closing)

    def end_complete(self, config: dict[str, Any], result: TrainResult) -> float:
        """Record a trained trial: its best epoch, what stopped it early, its model; its value."""
        trial = self.trial
        trial.set_user_attr(BEST_EPOCH, result.best_epoch)
        last = self.ctx.study_file.spec.trial_value == "last"
        worth = result.history[-1] if last else result.history[result.best_epoch - 1]
        if worth.val_acc_se is not None:
            trial.set_user_attr(VAL_ACC_SE, worth.val_acc_se)
        self.record_end(result.epochs_run)
        tracker = self.ctx.tracker
        if self.stopped_by is not None:
            trial.set_user_attr(STOPPED_EARLY, self.stopped_by)
            stopped = {"sweeper.stopped_early": self.stopped_by}
            self.write("the stopped-early tag", lambda run_id: tracker.set_tags(run_id, stopped))
        if self.run_id:  # the model is serialised only for a run to keep it
            files = {"model.pt": _state_bytes(result.model), "config.json": config_json(config)}
            self.write("model.pt and config.json", lambda run_id: tracker.log_files(run_id, files))
        self.close("COMPLETE", best_val_acc=result.best_val_acc, best_epoch=result.best_epoch)
        return worth.val_acc

    def end_pruned(self, exc: optuna.TrialPruned) -> None:
        self.trial.set_user_attr(PRUNE_REASON, str(exc))
        self.record_end(self.epochs_run)
        self.close("PRUNED", str(exc), **self.best_yet)

    def end_failed(self, exc: BaseException) -> None:
        """Every failed trial says why, even one that failed before its run could start.
        MLflow first: when the study's database is what failed, the run still closes."""
        reason = _reason(exc)
        self.close("FAIL", reason)
        self.trial.set_user_attr(FAIL_REASON, reason)
        self.record_end(self.epochs_run)

    def record_end(self, epochs_run: int) -> None:
        """What every trial that ran records in Optuna, however it ended."""
        self.trial.set_user_attr(EPOCHS_RUN, epochs_run)
        self.trial.set_user_attr(EPOCHS_TRAINED, self.trained)
        self.trial.set_user_attr(SECONDS, round(time.perf_counter() - self.started, 3))

    def close(self, state: str, reason: str | None = None, **metrics: float) -> None:
        """Close the trial's MLflow run with its end, and say what of the trial MLflow missed."""
        self.hold_signals()
        ended = {**metrics, **self.peak.metrics()}
        # the trial's end goes to MLflow even after an outage made it skip other writes
        self.write(
            "the run's end",
            lambda run_id: self.ctx.tracker.finish(run_id, state, reason, ended),
            closing=True,
        )
        self.log.report()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted ({describe(exc)})"
    if isinstance(exc, BudgetSpent):
        return str(exc)
    # Recorded in both stores and printed: a library's message may quote a URL with a password.
    if isinstance(exc, optuna.exceptions.StorageInternalError) and exc.__cause__:
        # Optuna's message guesses at invalid data; the database's first line says what broke.
        return mask_text(f"storage error: {str(exc.__cause__).strip().splitlines()[0]}")
    return mask_text(f"{type(exc).__name__}: {exc}")


def _state_bytes(model: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()
