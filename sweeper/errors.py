"""User-facing errors: raised anywhere, printed by the CLI as one line with a non-zero exit."""


class SweeperError(Exception):
    """A mistake the user can fix (bad file, bad flag). The message is the whole story."""

    exit_code = 2


class DataError(SweeperError):
    """A LibriPhone directory (or a file in it) is missing or malformed."""


class StudyError(SweeperError):
    """A study file, study name or storage is unusable."""


class StudyFileError(StudyError):
    """A study file's search space gives a config that no sampled value can make valid: every
    trial would fail the same way, so the sweep stops at the first."""


def first_line(exc: BaseException) -> str:
    """`Type: first line of the message`: a library's error, told in one line."""
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
