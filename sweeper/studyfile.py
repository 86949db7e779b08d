"""The study file's names where study files written before the packages (sweeper.study) import them.

`from sweeper import StudySpec` is the documented form; this module keeps
`from sweeper.studyfile import StudySpec` working for study files that users already have.
"""

import sweeper.study
from sweeper.study import *  # noqa: F403  (the study file's names, sweeper.study's __all__)

__all__ = sweeper.study.__all__
