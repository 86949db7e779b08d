"""`sweeper promote`: a study's best config retrained on the full data, registered, submitted.

In order: pick the trial (with --top, the best of the top K by their mean val_acc over several
seeds on a larger subset), retrain its config on the full course train split with early stopping
on val, as an MLflow run nested under the study's parent; export the model, register it and move
the `champion` alias when it wins; write the Kaggle CSV of the test split.

Every training run checkpoints each epoch in a directory of the user cache keyed by everything
that decides what it trains (stores, study, trials, epochs, data), and the promote run's MLflow
id is kept beside it: the same command after an interruption continues the same run.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sweeper.data import Split, course_split, load_corpus, subset
from sweeper.data.corpus import Corpus
from sweeper.errors import DataError, StudyError
from sweeper.masking import mask_text, mask_url
from sweeper.models import count_parameters, resolve_config
from sweeper.process.log_levels import quiet_libraries
from sweeper.process.placement import describe_device
from sweeper.promote.predictions import accuracy, predict_utterances, write_predictions
from sweeper.promote.registration import log_outcome, register
from sweeper.promote.request import PromoteRequest, Promotion, Recheck
from sweeper.promote.resume import ResumeState, lock_file
from sweeper.promote.servable import export_classifier
from sweeper.storage.rdb import LockHeld, load_existing_study, storage_lock
from sweeper.study.record import CONFIG, FINISHED, N_PARAMS, RUN_ATTR, ranked
from sweeper.study.settings import settings_of
from sweeper.sweep.parent import parent_run
from sweeper.tracking.context import context_tags
from sweeper.tracking.registry import ModelRegistry
from sweeper.tracking.tracker import Tracker
from sweeper.training.loop import EpochStats, train


def promote(request: PromoteRequest, console: Console) -> Promotion:
    """Run a promotion end to end, narrating on `console`; see the module docstring.

    One promotion of a study at a time: a second one, on any machine sharing its PostgreSQL
    storage or on this machine, is refused while the first runs (it would adopt the first's
    run and checkpoints, which the first deletes when it ends).
    """
    study = load_existing_study(request.study_name, request.storage_url)
    if settings_of(study) is None:
        raise StudyError(
            f"study {request.study_name!r} was not made by `sweeper run` (no sweeper settings)"
        )
    name = request.study_name
    try:
        with storage_lock(
            request.storage_url,
            f"sweeper promote of {name}",
            wait=False,
            lock_file=lock_file("promote", request.storage_url, name),
        ):
            return _promote(study, request, console)
    except LockHeld:
        raise StudyError(
            f"another `sweeper promote` of study {name!r} is running: "
            "wait for it to end, then run this again"
        ) from None


def _promote(study: optuna.Study, request: PromoteRequest, console: Console) -> Promotion:
    candidates = _candidates(study, request)
    # the data and budget the best candidate ran with, even if the study's settings moved on
    settings = settings_of(study, candidates[0]) or {}
    corpus = _load_data(request.data, settings, console)
    train_all, val_all = course_split(
        corpus.train, seed=settings["split_seed"], ratio=settings["train_ratio"]
    )
    epochs = request.epochs or 2 * settings["epochs"]
    state = ResumeState.for_promotion(request, corpus.fingerprint, candidates, epochs)
    quiet_libraries()
    # exported programs log a warning per unused shape symbol when loaded
    logging.getLogger("torch._export.serde.serialize").setLevel(logging.ERROR)

    rechecks: list[Recheck] = []
    chosen = candidates[0]
    if len(candidates) > 1:
        rechecks = _recheck(candidates, train_all, val_all, settings, request, state, console)
        best = max(rechecks, key=lambda r: r.mean)
        chosen = next(t for t in candidates if t.number == best.trial)
    config = {**chosen.user_attrs[CONFIG], "epochs": epochs, "patience": request.patience}

    tracker = Tracker(request.tracking_uri, request.study_name)
    registry = ModelRegistry(tracker)
    device = describe_device(request.device, torch.get_num_threads())
    tags = context_tags(corpus.fingerprint, settings["subset_seed"], device)
    tags["sweeper.storage"] = mask_url(request.storage_url)
    run_id, resumed = _open_run(state, registry, study, chosen, config, train_all, val_all, tags)
    console.print(
        f"{'continuing' if resumed else 'started'} MLflow run {run_id} "
        f"(promote-trial-{chosen.number}): {train_all.num_frames:,} train / "
        f"{val_all.num_frames:,} val frames, epoch budget {epochs}, patience {request.patience}",
        highlight=False,
    )
    try:
        with _progress(console) as progress:
            task = progress.add_task(f"trial {chosen.number} full data", total=epochs, status="")
            result = train(
                config,
                train_all,
                val_all,
                on_epoch=_epoch_logger(tracker, run_id, progress, task),
                checkpoint_dir=state.full_run,
                device=request.device,
            )
            progress.update(task, total=result.epochs_run, completed=result.epochs_run)
        program = export_classifier(result.model, config)
        with _progress(console) as progress:
            task = progress.add_task("predicting test", total=corpus.test.num_utterances, status="")
            classes = predict_utterances(program, corpus.test, lambda: progress.advance(task))
        write_predictions(request.out, classes)
        test_acc = None if corpus.test.labels is None else accuracy(classes, corpus.test.labels)
        log_outcome(tracker, run_id, request, config, result, test_acc, rechecks)
        # last: a version in the registry is what others see, so only a complete run makes one
        champion = register(registry, run_id, program, request, chosen, result, test_acc, corpus)
    except KeyboardInterrupt:
        tracker.interrupt(run_id)
        raise
    except BaseException as exc:
        secrets = [request.storage_url, request.tracking_uri]
        tracker.finish(run_id, "FAIL", mask_text(f"{type(exc).__name__}: {exc}", secrets))
        raise
    tracker.finish(run_id, "COMPLETE")
    state.clear()
    return Promotion(
        trial=chosen.number,
        run_id=run_id,
        resumed=resumed,
        result=result,
        train_frames=train_all.num_frames,
        val_frames=val_all.num_frames,
        test_acc=test_acc,
        test_frames=corpus.test.num_frames,
        predictions=request.out,
        champion=champion,
        rechecks=rechecks,
        experiment_id=tracker.experiment_id,
    )


def _candidates(study: optuna.Study, request: PromoteRequest) -> list[FrozenTrial]:
    """[trial N] for --trial, else the best `top` COMPLETE trials, best first."""
    name, trials = request.study_name, study.get_trials(deepcopy=False)
    if request.top > 1 and request.seeds < 2:
        raise StudyError(
            f"--seeds {request.seeds}: --top needs at least 2 seeds per candidate, so that "
            "a lucky seed does not pick the winner"
        )
    if request.trial is not None:
        if request.top > 1:
            raise StudyError("--trial and --top exclude each other: pick one trial or re-rank K")
        found = next((t for t in trials if t.number == request.trial), None)
        if found is None:
            numbers = f"0..{len(trials) - 1}" if trials else "none yet"
            raise StudyError(
                f"--trial {request.trial}: study {name!r} has no such trial (trials: {numbers})"
            )
        if found.state not in FINISHED or CONFIG not in found.user_attrs:
            raise StudyError(
                f"--trial {request.trial}: the trial is {found.state.name}; "
                "only a COMPLETE or PRUNED trial has a config to retrain"
            )
        return [found]
    complete = [t for t in ranked(trials) if CONFIG in t.user_attrs]
    if not complete:
        counts = ", ".join(
            f"{state.name.lower()} {n}"
            for state in TrialState
            if (n := sum(t.state == state for t in trials))
        )
        raise StudyError(
            f"study {name!r} has no COMPLETE trial to promote ({counts or 'no trials'}); "
            "run more trials, or pass --trial N"
        )
    return complete[: request.top]


def _load_data(data: Path | None, settings: dict[str, Any], console: Console) -> Corpus:
    """The directory given, else the one the study was swept on (the embedded corpus is
    regenerated if its cache was cleared); a different dataset gets a warning, not a refusal."""
    from sweeper.data.defaults import embedded_corpus_dir, resolve_data_dir

    directory = data
    if directory is None:
        swept = Path(settings["data_dir"])
        if swept.is_dir():
            directory = swept
        elif swept == embedded_corpus_dir():
            directory = resolve_data_dir(None)
        else:
            raise DataError(f"{swept}: the study's data directory is gone; pass --data DIR")
    corpus = load_corpus(directory)
    if corpus.fingerprint != settings["dataset_fingerprint"]:
        console.print(
            f"[yellow]warning:[/] {directory} holds different data (fingerprint "
            f"{corpus.fingerprint}) from the data the study was swept on "
            f"({settings['dataset_fingerprint']}): its ranking of trials may not carry over",
            highlight=False,
        )
    return corpus


def _recheck(
    candidates: list[FrozenTrial],
    train_all: Split,
    val_all: Split,
    settings: dict[str, Any],
    request: PromoteRequest,
    state: ResumeState,
    console: Console,
) -> list[Recheck]:
    """Each candidate's exact config retrained on subsets `top_scale` times the study's, with
    its own seed and the `request.seeds - 1` after it."""
    subset_seed, scale = settings["subset_seed"], request.top_scale
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_part = subset(train_all, round(settings["train_frames"] * scale), subset_seed)
        val_part = (
            val_all
            if settings["val_frames"] is None
            else subset(val_all, round(settings["val_frames"] * scale), subset_seed)
        )
    for warning in caught:
        console.print(f"[yellow]warning:[/] {warning.message}", highlight=False)
    console.print(
        f"re-ranking the top {len(candidates)} trials on {train_part.num_frames:,} train / "
        f"{val_part.num_frames:,} val frames ({request.top_scale:g}x the study's subset), "
        f"{request.seeds} seeds each",
        highlight=False,
    )
    rechecks = []
    with _progress(console) as progress:
        for trial in candidates:
            config = trial.user_attrs[CONFIG]
            first_seed = resolve_config(config).seed
            val_acc: dict[int, float] = {}
            for seed in range(first_seed, first_seed + request.seeds):
                task = progress.add_task(
                    f"trial {trial.number} seed {seed} recheck", total=config["epochs"], status=""
                )
                result = train(
                    {**config, "seed": seed},
                    train_part,
                    val_part,
                    on_epoch=_epoch_logger(None, None, progress, task),
                    checkpoint_dir=state.recheck(trial.number, seed),
                    device=request.device,
                )
                progress.update(task, total=result.epochs_run, completed=result.epochs_run)
                val_acc[seed] = result.best_val_acc
            rechecks.append(Recheck(trial.number, trial.value or 0.0, val_acc))
    return rechecks


def _open_run(
    state: ResumeState,
    registry: ModelRegistry,
    study: optuna.Study,
    trial: FrozenTrial,
    config: dict[str, Any],
    train_all: Split,
    val_all: Split,
    tags: dict[str, str],
) -> tuple[str, bool]:
    """(run id, resumed): the interrupted run of this very promotion, else a new one."""
    tracker = registry.tracker
    known = state.run_id()
    if known is not None and tracker.run_status(known) not in (None, "FINISHED"):
        tracker.reopen(known)
        tracker.set_tags(known, {"sweeper.state": "RUNNING"})
        return known, True
    state.forget_full_run()  # its run is gone: epochs without their metrics are no resume
    parent = parent_run(study, tracker, tags, {})
    params = {
        **config,
        N_PARAMS: count_parameters(config),
        "train_frames": train_all.num_frames,
        "val_frames": val_all.num_frames,
    }
    run_id = registry.start_promotion(
        parent, trial.number, trial.user_attrs.get(RUN_ATTR), params, tags
    )
    state.remember(run_id)
    return run_id, False


def _epoch_logger(
    tracker: Tracker | None, run_id: str | None, progress: Progress, task: Any
) -> Callable[[EpochStats], None]:
    best = 0.0

    def on_epoch(stats: EpochStats) -> None:
        nonlocal best
        best = max(best, stats.val_acc)
        if tracker is not None and run_id is not None:
            tracker.log_epoch(run_id, stats.epoch, stats.metrics())
        progress.update(
            task, completed=stats.epoch, status=f"val_acc {stats.val_acc:.4f} best {best:.4f}"
        )

    return on_epoch


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    """Bars for epochs and utterances; each task carries a `status` text (empty at first)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        yield progress
