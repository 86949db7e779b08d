"""The study file's names where study files written before sweeper 0.2 import them from.

`from sweeper import StudySpec` is the documented form; this module keeps
`from sweeper.studyfile import StudySpec` working for study files that users already have.
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
