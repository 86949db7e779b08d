"""What a study is: the study file (its spec and search space), the settings a stored study ran
with and how they may drift, and the attributes a study records of its trials.

Imports: `sweeper.errors`, `sweeper.masking`, Optuna (record, progress, settings); never torch,
MLflow or the sweep layer, so that the read-only commands start quickly. `spec` imports no
Optuna at all: `sweeper run` checks a study file before the heavy imports.
"""

from sweeper.study.spec import (
    PRUNERS,
    SAMPLERS,
    TRIAL_VALUES,
    StudyFile,
    StudySpec,
    call_search_space,
    load_study_file,
)

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "TRIAL_VALUES",
    "StudyFile",
    "StudySpec",
    "call_search_space",
    "load_study_file",
]
