"""The Optuna objective: one trial = one training run on the study's fixed subset, tracked.

The trainer knows nothing of Optuna or MLflow; this layer turns its per-epoch callback into
pruner reports and MLflow metrics, and records every outcome in both stores.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
import torch

from sweeper.data import Split
from sweeper.models import count_parameters
from sweeper.secrets import mask_text
from sweeper.signals import describe
from sweeper.studyfile import StudyFile, call_search_space
from sweeper.tracking import RUN_ATTR, Tracker, config_json
from sweeper.train import EpochStats, train
from sweeper.unlogged import TrialLog

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
# Trials holding a slot of the budget; WAITING: a dead worker's trial re-queued for retry.
UNDER_WAY = (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)
FAIL_REASON = "fail_reason"


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
    target: int
    device: str = "auto"
    threads: int | None = None


def trial_config(study_file: StudyFile, trial: optuna.Trial) -> dict[str, Any]:
    return {"epochs": study_file.spec.epochs, **call_search_space(study_file, trial)}


def make_objective(ctx: TrialContext) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        started = time.perf_counter()
        run_id: str | None = None  # until the trial's MLflow run exists
        epochs_run = 0
        log = TrialLog(trial.number, (ctx.tracker.tracking_uri,))

        def on_epoch(stats: EpochStats) -> None:
            nonlocal epochs_run
            epochs_run = stats.epoch
            if run_id:
                log.epoch(
                    stats.epoch, lambda: ctx.tracker.log_epoch(run_id, stats.epoch, stats.metrics())
                )
            trial.report(stats.val_acc, stats.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(
                    f"pruned at epoch {stats.epoch}: val_acc {stats.val_acc:.4f}"
                )

        def close(state: str, reason: str | None = None, **metrics: float) -> None:
            # the trial's end goes to MLflow even after an outage made it skip other writes
            if run_id:
                log.write(
                    "the run's end",
                    lambda: ctx.tracker.finish(run_id, state, reason, metrics),
                    closing=True,
                )
            log.report()

        try:
            retry_of = _stand_down_if_surplus(trial, ctx.target)
            tags = dict(ctx.tags)
            if retry_of is not None:
                tags["sweeper.retry_of"] = str(retry_of)
            run_id = log.write(
                "its run",
                lambda: ctx.tracker.start_trial(ctx.parent_run_id, trial.number, {}, tags),
            )
            if run_id:
                trial.set_user_attr(RUN_ATTR, run_id)
            config = trial_config(ctx.study_file, trial)
            n_params = count_parameters(config)
            trial.set_user_attr("n_params", n_params)
            trial.set_user_attr("config", config)  # what `promote` retrains, exactly
            if run_id:
                log.write(
                    "params",
                    lambda: ctx.tracker.log_params(run_id, {**config, "n_params": n_params}),
                )
            result = train(
                config,
                ctx.train,
                ctx.val,
                on_epoch=on_epoch,
                device=ctx.device,
                threads=ctx.threads,
            )
        except SurplusTrial:
            raise  # it has said why
        except optuna.TrialPruned as exc:
            _record_end(trial, started, epochs_run)
            close("PRUNED", str(exc))
            raise
        except BaseException as exc:
            # Every failed trial says why, even one that failed before its run could start.
            # MLflow first: when the study's database is what failed, the run still closes.
            reason = _reason(exc)
            close("FAIL", reason)
            trial.set_user_attr(FAIL_REASON, reason)
            _record_end(trial, started, epochs_run)
            raise
        trial.set_user_attr("best_epoch", result.best_epoch)
        _record_end(trial, started, result.epochs_run)
        if run_id:
            files = {"model.pt": _state_bytes(result.model), "config.json": config_json(config)}
            log.write("model.pt and config.json", lambda: ctx.tracker.log_files(run_id, files))
        close("COMPLETE", best_val_acc=result.best_val_acc, best_epoch=result.best_epoch)
        return result.best_val_acc

    return objective


def _stand_down_if_surplus(trial: optuna.Trial, target: int) -> int | None:
    """Never run past the study's target: finished trials and those running ahead of this one
    may already fill it when several workers asked for a trial at the same moment.

    Returns the number of the trial this one re-runs after its worker died, if any (read from
    the same listing, one query per trial)."""
    trials = trial.study.get_trials(deepcopy=False)
    mine = trial.number
    ahead = [t for t in trials if t.state in FINISHED or (t.state in UNDER_WAY and t.number < mine)]
    if len(ahead) >= target:
        trial.set_user_attr(FAIL_REASON, "surplus: the study's target was already filled")
        raise SurplusTrial(f"the study already has {target} finished or running trials")
    retry_of = next(t for t in trials if t.number == mine).system_attrs.get("failed_trial")
    return None if retry_of is None else int(retry_of)


def _record_end(trial: optuna.Trial, started: float, epochs_run: int) -> None:
    trial.set_user_attr("epochs_run", epochs_run)
    trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))


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
