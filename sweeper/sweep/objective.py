"""The Optuna objective: one trial = one training run on the study's fixed subset, tracked.

The trainer knows nothing of Optuna or MLflow; this layer turns its per-epoch callback into
pruner reports and MLflow metrics, and records every outcome in both stores.
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
    CONFIG,
    EPOCHS_RUN,
    EPOCHS_TRAINED,
    FAIL_REASON,
    FINISHED,
    N_PARAMS,
    PRUNE_REASON,
    RESUMED_AT,
    RETRY_OF,
    RUN_ATTR,
    SECONDS,
    STOPPED_EARLY,
    SURPLUS,
    TIME_BUDGET,
    TRIAL_LIMIT,
    UNDER_WAY,
    VAL_ACC_SE,
    VERSION_ATTR,
    WARM_START_FROM,
    baseline_of,
)
from sweeper.study.spec import StudyFile, call_search_space
from sweeper.sweep.checkpoints import CheckpointStore, lineage
from sweeper.tracking.context import config_json
from sweeper.tracking.tracker import Tracker
from sweeper.tracking.trial_log import TrialLog
from sweeper.training.loop import EpochStats, resumable_history, train


class SurplusTrial(Exception):
    """Another worker started the study's last trial at the same moment; this one stands down."""


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


def make_objective(
    ctx: TrialContext, hold_signals: Callable[[], None]
) -> Callable[[optuna.Trial], float]:
    """The trial function for `study.optimize`. `hold_signals()` is called as the trial's MLflow
    run is closed: a stop signal from then on must wait until Optuna has recorded the same end,
    or a run closed FINISHED would belong to a trial recorded FAIL (interrupted)."""

    def objective(trial: optuna.Trial) -> float:
        started = time.perf_counter()
        peak = PeakMemory()
        run_id: str | None = None  # until the trial's MLflow run exists
        epochs_run = 0
        trained = 0  # epochs this attempt trained (a resumed trial ran the others before)
        best_yet: dict[str, float] = {}  # a pruned trial's run shows its best too, as COMPLETE's do
        log = TrialLog(trial.number, (ctx.tracker.tracking_uri,))
        limits: list[tuple[float, str]] = []  # (time.time() to stop training at, which limit)
        last_epoch = 0  # of the config: a limit that strikes there stops nothing early
        stopped_by: str | None = None

        def on_epoch(stats: EpochStats) -> bool:
            nonlocal epochs_run, trained, stopped_by
            epochs_run, trained = stats.epoch, trained + 1
            _note_best(best_yet, stats)
            if run_id:
                log.epoch(
                    stats.epoch, lambda: ctx.tracker.log_epoch(run_id, stats.epoch, stats.metrics())
                )
            with deferred():  # Optuna writes here: see sweeper.process.signals
                trial.report(stats.val_acc, stats.epoch)
                prune = trial.should_prune()
            if prune:
                raise optuna.TrialPruned(
                    f"pruned at epoch {stats.epoch}: val_acc {stats.val_acc:.4f}"
                )
            if stats.epoch < last_epoch:
                stopped_by = next((name for ends, name in limits if time.time() >= ends), None)
            return stopped_by is not None

        def close(state: str, reason: str | None = None, **metrics: float) -> None:
            hold_signals()
            # the trial's end goes to MLflow even after an outage made it skip other writes
            if run_id:
                metrics = {**metrics, **peak.metrics()}
                log.write(
                    "the run's end",
                    lambda: ctx.tracker.finish(run_id, state, reason, metrics),
                    closing=True,
                )
            log.report()

        try:
            frozen = _stand_down_if_surplus(trial, ctx.trials)
            tags = dict(ctx.tags)
            retry_of = frozen.system_attrs.get(RETRY_OF)
            if retry_of is not None:
                tags["sweeper.retry_of"] = str(retry_of)
            baseline = baseline_of(frozen)
            if baseline is not None:
                tags["sweeper.baseline"] = str(baseline)
            if WARM_START_FROM in frozen.user_attrs:
                tags["sweeper.warm_start"] = str(frozen.user_attrs[WARM_START_FROM])
            run_id = log.write(
                "its run",
                lambda: ctx.tracker.start_trial(ctx.parent_run_id, trial.number, {}, tags),
            )
            if run_id:
                trial.set_user_attr(RUN_ATTR, run_id)
            trial.set_user_attr(VERSION_ATTR, ctx.settings_version)
            config = trial_config(ctx.study_file, trial)
            n_params = count_parameters(config)
            trial.set_user_attr(N_PARAMS, n_params)
            trial.set_user_attr(CONFIG, config)
            if run_id:
                log.write(
                    "params",
                    lambda: ctx.tracker.log_params(run_id, {**config, N_PARAMS: n_params}),
                )
            max_params = ctx.study_file.spec.max_params
            if max_params is not None and n_params > max_params:
                raise optuna.TrialPruned(
                    f"{n_params:,} parameters, over max_params {max_params:,}: not trained"
                )
            checkpoint_dir, publish, done = _resume(ctx, trial, frozen, run_id, config, log)
            limits = _time_limits(ctx, started, done)
            last_epoch = int(config["epochs"])
            epochs_run = len(done)
            for stats in done:
                _note_best(best_yet, stats)
            result = train(
                config,
                ctx.train,
                ctx.val,
                on_epoch=on_epoch,
                checkpoint_dir=checkpoint_dir,
                on_checkpoint=publish,
                device=ctx.device,
                threads=ctx.threads,
            )
        except SurplusTrial:
            raise  # it has said why
        except optuna.TrialPruned as exc:
            trial.set_user_attr(PRUNE_REASON, str(exc))
            _record_end(trial, started, epochs_run, trained)
            close("PRUNED", str(exc), **best_yet)
            raise
        except BaseException as exc:
            # Every failed trial says why, even one that failed before its run could start.
            # MLflow first: when the study's database is what failed, the run still closes.
            reason = _reason(exc)
            close("FAIL", reason)
            trial.set_user_attr(FAIL_REASON, reason)
            _record_end(trial, started, epochs_run, trained)
            raise
        trial.set_user_attr(BEST_EPOCH, result.best_epoch)
        last = ctx.study_file.spec.trial_value == "last"
        worth = result.history[-1] if last else result.history[result.best_epoch - 1]
        if worth.val_acc_se is not None:
            trial.set_user_attr(VAL_ACC_SE, worth.val_acc_se)
        _record_end(trial, started, result.epochs_run, trained)
        if stopped_by is not None:
            trial.set_user_attr(STOPPED_EARLY, stopped_by)
            if run_id:
                stopped = {"sweeper.stopped_early": stopped_by}
                log.write("the stopped-early tag", lambda: ctx.tracker.set_tags(run_id, stopped))
        if run_id:
            files = {"model.pt": _state_bytes(result.model), "config.json": config_json(config)}
            log.write("model.pt and config.json", lambda: ctx.tracker.log_files(run_id, files))
        close("COMPLETE", best_val_acc=result.best_val_acc, best_epoch=result.best_epoch)
        return worth.val_acc

    return objective


def _time_limits(
    ctx: TrialContext, started: float, replayed: list[EpochStats]
) -> list[tuple[float, str]]:
    """When the trial must stop training (time.time()), at its next epoch boundary, and which
    limit says so: the study's max_trial_seconds, which counts the epochs a re-run found in
    its checkpoint as spent, and the sweep's time budget."""
    limits = []
    limit = ctx.study_file.spec.max_trial_seconds
    if limit is not None:
        spent = time.perf_counter() - started + sum(stats.epoch_seconds for stats in replayed)
        limits.append((time.time() + limit - spent, TRIAL_LIMIT))
    if ctx.budget_ends is not None:
        limits.append((ctx.budget_ends, TIME_BUDGET))
    return limits


def _stand_down_if_surplus(trial: optuna.Trial, trials: int | None) -> FrozenTrial:
    """Never run past the study's target: finished trials and those running ahead of this one
    may already fill it when several workers asked for a trial at the same moment.

    Returns the trial as stored, with the attributes Optuna gave it when it re-queued a dead
    worker's trial (read from the same listing, one query per trial)."""
    listed = trial.study.get_trials(deepcopy=False)
    mine = trial.number
    ahead = [t for t in listed if t.state in FINISHED or (t.state in UNDER_WAY and t.number < mine)]
    if trials is not None and len(ahead) >= trials:
        trial.set_user_attr(FAIL_REASON, f"{SURPLUS}: the study's target was already filled")
        raise SurplusTrial(f"the study already has {trials} finished or running trials")
    return next(t for t in listed if t.number == mine)


def _resume(
    ctx: TrialContext,
    trial: optuna.Trial,
    frozen: FrozenTrial,
    run_id: str | None,
    config: dict[str, Any],
    log: TrialLog,
) -> tuple[Path | None, Callable[[], None] | None, list[EpochStats]]:
    """The trial's checkpoint directory, how to publish it after each epoch, and the epochs it
    already holds. A re-run of a lineage replays those epochs, so the pruner and the MLflow run
    see the history an uninterrupted trial would have given them. Checkpoints kept by the
    tracking store share its outages: then the trial trains on, from scratch if need be."""
    if ctx.checkpoints is None:
        return None, None, []
    store, root = ctx.checkpoints, lineage(frozen)
    log.write("its checkpoint's download", lambda: store.fetch(root))
    directory = store.local(root)
    history = resumable_history(directory, config)
    for stats in history:
        trial.report(stats.val_acc, stats.epoch)
        if run_id:
            metrics = stats.metrics()
            log.epoch(stats.epoch, partial(ctx.tracker.log_epoch, run_id, stats.epoch, metrics))
    if history:
        trial.set_user_attr(RESUMED_AT, len(history))
        resumed = {"sweeper.resumed": f"trial {root}, epoch {len(history)}"}
        if run_id:
            log.write("the resume tag", lambda: ctx.tracker.set_tags(run_id, resumed))

    def publish() -> None:
        log.write("a checkpoint", lambda: store.publish(root))

    return directory, publish, history


def _note_best(best: dict[str, float], stats: EpochStats) -> None:
    if stats.val_acc > best.get("best_val_acc", -1.0):
        best.update(best_val_acc=stats.val_acc, best_epoch=stats.epoch)


def _record_end(trial: optuna.Trial, started: float, epochs_run: int, trained: int) -> None:
    trial.set_user_attr(EPOCHS_RUN, epochs_run)
    trial.set_user_attr(EPOCHS_TRAINED, trained)
    trial.set_user_attr(SECONDS, round(time.perf_counter() - started, 3))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted ({describe(exc)})"
    # Recorded in both stores and printed: a library's message may quote a URL with a password.
    if isinstance(exc, optuna.exceptions.StorageInternalError) and exc.__cause__:
        # Optuna's message guesses at invalid data; the database's first line says what broke.
        return mask_text(f"storage error: {str(exc.__cause__).strip().splitlines()[0]}")
    return mask_text(f"{type(exc).__name__}: {exc}")


def _state_bytes(model: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()
