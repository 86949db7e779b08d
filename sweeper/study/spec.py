"""Study files: plain Python that defines a search space and the study's settings.

A study file holds a `study = StudySpec(...)` and a `search_space(trial) -> dict` function that
returns a training config (see sweeper.models.DEFAULTS) using Optuna's define-by-run `suggest_*`.
This module is light (no torch, optuna or mlflow) so the CLI can validate a file quickly.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from sweeper.errors import StudyError, StudyFileError

# The names a study file and `sweeper run --sampler/--pruner` take, declared once: the CLI's
# choices come from these types, and sweeper.sweep.strategy checks at import that it builds
# exactly these.
Sampler = Literal["tpe", "random", "grid"]
Pruner = Literal["hyperband", "median", "percentile", "none"]
SAMPLERS: tuple[Sampler, ...] = get_args(Sampler)
PRUNERS: tuple[Pruner, ...] = get_args(Pruner)
TRIAL_VALUES = ("best", "last")


@dataclass(frozen=True)
class StudySpec:
    """The settings of a study. Every trial trains on the same seeded subset of the train split.

    train_frames / val_frames: subset sizes (whole utterances until at least that many frames);
        val_frames None (the default): the whole val split, since a trial's value is only as
        good as the utterances it is measured on (benchmarks/val_noise.py).
    epochs: the epoch budget of a trial (the pruner's max resource).
    trials: the default `--trials` target (the grid's size for the grid sampler).
    fixed: config entries shared by every trial (the search space's values win on conflicts).
    grid: for the grid sampler, the values of each parameter the search space suggests.
    split_seed / train_ratio: the course's train/val split; subset_seed picks the subset.
    pruner: hyperband (successive halving from the first epoch after the warm-up), median
        (prune a trial below the median of the complete trials at the same epoch), percentile
        (below the best `pruner_percentile` percent of them) or none. pruner_startup_trials
        complete trials come before the first pruning (median, percentile); no trial is pruned
        in its first pruner_warmup_epochs epochs.
    seed: the sampler's seed; each trial draws from (seed, trial number), so workers on any
        number of machines never repeat each other and one worker reproduces.
    keep_checkpoints: a trial checkpoints every epoch (so a retried or interrupted trial resumes
        where it stopped); once trials end, only the best `keep_checkpoints` COMPLETE trials
        keep theirs.
    baselines: known configs to try first, each as the search space's parameter values
        ({param: value}, as `study.enqueue_trial` takes them); each is queued once in the
        study's life, and counts towards `--trials` like any trial.
    max_params: a trial whose model has more parameters is PRUNED before it trains.
    max_trial_seconds: a trial stops at the first epoch boundary past this many seconds and is
        worth its best epoch so far.
    trial_value: what a COMPLETE trial is worth: "best" (its best epoch's val_acc, the weights it
        keeps and the epoch `promote`'s early stopping would pick) or "last" (its final epoch's).
    """

    name: str | None = None
    description: str = ""
    train_frames: int = 60_000
    val_frames: int | None = None
    epochs: int = 10
    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "hyperband"
    pruner_warmup_epochs: int = 0
    pruner_startup_trials: int = 5
    pruner_percentile: float = 25.0
    seed: int = 0
    subset_seed: int = 0
    split_seed: int = 1337
    train_ratio: float = 0.8
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] | None = None
    keep_checkpoints: int = 3
    baselines: list[dict[str, Any]] = field(default_factory=list)
    max_params: int | None = None
    max_trial_seconds: float | None = None
    trial_value: str = "best"

    @property
    def default_trials(self) -> int:
        if self.sampler == "grid" and self.grid:
            return math.prod(len(values) for values in self.grid.values())
        return self.trials

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, not {self.sampler!r}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner must be one of {', '.join(PRUNERS)}, not {self.pruner!r}")
        if not 0 < self.pruner_percentile <= 100:
            raise ValueError(f"pruner_percentile must be in (0, 100], not {self.pruner_percentile}")
        if min(self.train_frames, self.val_frames or 1, self.epochs, self.trials) < 1:
            raise ValueError("train_frames, val_frames, epochs and trials must be at least 1")
        if self.trial_value not in TRIAL_VALUES:
            raise ValueError(
                f"trial_value must be one of {', '.join(TRIAL_VALUES)}, not {self.trial_value!r}"
            )
        if self.keep_checkpoints < 0:
            raise ValueError(f"keep_checkpoints must be 0 or more, not {self.keep_checkpoints}")
        for key in ("max_params", "max_trial_seconds"):
            limit = getattr(self, key)
            if limit is not None and (not isinstance(limit, int | float) or not limit > 0):
                raise ValueError(
                    f"{key} must be a number above 0 (or None: no limit), not {limit!r}"
                )
        if not isinstance(self.baselines, list | tuple):
            raise ValueError(
                f"baselines must be a list of {{param: value}} dicts, not {self.baselines!r}"
            )
        for index, baseline in enumerate(self.baselines):
            if not isinstance(baseline, dict):
                raise ValueError(
                    f"baselines[{index}] must be a dict of {{param: value}}, not {baseline!r}"
                )
        self.check_sampler(self.sampler)

    def check_sampler(self, sampler: str) -> None:
        """ValueError when `sampler` cannot run this study: the grid sampler needs a grid."""
        if sampler == "grid" and not self.grid:
            raise ValueError(
                "the study defines no `grid` ({param: [values], ...}) for the grid sampler"
            )


@dataclass(frozen=True)
class StudyFile:
    path: Path
    name: str
    spec: StudySpec
    search_space: Callable[[Any], dict[str, Any]]


def load_study_file(path: Path) -> StudyFile:
    """Import a study file; any problem becomes a StudyError naming the file (and line)."""
    if not path.is_file():
        raise StudyError(f"{path}: study file not found")
    module_name = f"sweeper_study_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise StudyError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise StudyError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise StudyError(f"{_where(path, exc)}: {type(exc).__name__}: {exc}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # sys.exit() in a study file is a mistake too
        raise StudyError(f"{_where(path, exc)}: {_raised(exc)}") from None
    study = getattr(module, "study", StudySpec())
    if not isinstance(study, StudySpec):
        raise StudyError(f"{path}: `study` must be a sweeper.study.spec.StudySpec")
    search_space = getattr(module, "search_space", None)
    if not callable(search_space):
        raise StudyError(f"{path}: defines no `search_space(trial) -> dict` function")
    return StudyFile(path, study.name or path.stem, study, search_space)


class StudyFileExit(StudyFileError):
    """A study file tried to end the process (sys.exit): the sweep stops once it is recorded."""


def _raised(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    return f"failed: {type(exc).__name__}: {exc}"


def _where(path: Path, exc: BaseException) -> str:
    """`file:line` of the innermost frame inside the study file, or just the file."""
    resolved = str(path.resolve())
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == resolved]
    return f"{path}:{lines[-1]}" if lines else str(path)


def call_search_space(study_file: StudyFile, trial: Any) -> dict[str, Any]:
    """Run the search space for a trial; a broken one is a StudyError naming its line."""
    try:
        config = study_file.search_space(trial)
    except Exception as exc:
        if type(exc).__module__.startswith("optuna"):
            raise  # pruning and Optuna's own errors keep their meaning
        raise StudyError(
            f"{_where(study_file.path, exc)}: search_space failed: {type(exc).__name__}: {exc}"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        # sys.exit() and the like would end the worker with its trial RUNNING: an Exception
        # is recorded as the trial's failure, and this one then stops the sweep.
        raise StudyFileExit(
            f"{_where(study_file.path, exc)}: search_space {_raised(exc)}; a study file must "
            "return a config or raise an Exception"
        ) from None
    if not isinstance(config, dict):
        raise StudyFileError(f"{study_file.path}: search_space must return a dict, not {config!r}")
    return {**study_file.spec.fixed, **config}
