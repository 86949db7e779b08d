"""Stopping on a signal the way Ctrl-C stops: SIGTERM and SIGHUP become KeyboardInterrupt.

`docker stop`, Kubernetes, batch schedulers and a closed terminal send SIGTERM or SIGHUP, whose
default action kills the process mid-trial (leaving the trial and its runs RUNNING), and which a
container's PID 1 ignores altogether. Raising `Interrupted`, a KeyboardInterrupt, in the main
thread sends every signal down the one path Ctrl-C takes: the running trial is recorded in both
stores, the runs are closed and the command exits with 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM, 129 for SIGHUP, as a shell reports a process the signal killed).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PARENT_ENV = "SWEEPER_PARENT_PID"
_PR_SET_PDEATHSIG = 1
# The kernel sends a worker its parent-death signal again each time it hands the worker on to
# another thread of the dying parent (torch gives it dozens): a signal of its own, whose repeats
# are ignored, keeps them from killing the worker while it records its trial (as a second
# SIGTERM would, by design).
_PARENT_DIED = signal.SIGUSR2


class Interrupted(KeyboardInterrupt):
    """The user, or whatever runs sweeper, asked it to stop with `signum`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_on_signals() -> None:
    """From now on SIGINT, SIGTERM and SIGHUP raise `Interrupted` in the main thread."""
    for signum in STOPPING:
        signal.signal(signum, _interrupt)


_deferring = 0
_pending: int | None = None
_stopping = False


@contextmanager
def deferred() -> Iterator[None]:
    """A stop signal arriving inside the block takes effect at its end. For writes to a SQLite
    store: one cut off mid-transaction left MLflow's database locked for the rest of the process,
    so the interrupted trial's run could not be closed (seen in a full test run)."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            _stop(signum)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    global _pending
    if _deferring:
        _pending = signum
        return
    _stop(signum)


def _parent_died(_signum: int, frame: FrameType | None) -> None:
    signal.signal(_PARENT_DIED, signal.SIG_IGN)
    if not _stopping:  # a worker already stopping goes on recording its trial
        _interrupt(signal.SIGTERM, frame)


def _stop(signum: int) -> None:
    global _stopping
    _stopping = True
    # While the trial is being recorded a second signal must still stop the process: back to
    # the default action (which a PID 1 ignores; there SIGKILL, as `docker stop` sends after
    # its grace period, ends it).
    for other in STOPPING:
        signal.signal(other, signal.SIG_DFL)
    raise Interrupted(signum)


def signal_of(exc: KeyboardInterrupt) -> int:
    """The signal behind an interruption: a bare KeyboardInterrupt is Ctrl-C's SIGINT."""
    return exc.signum if isinstance(exc, Interrupted) else signal.SIGINT


def exit_status(exc: KeyboardInterrupt) -> int:
    return 128 + signal_of(exc)


def describe(exc: KeyboardInterrupt) -> str:
    signum = signal_of(exc)
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def die_with_parent() -> None:
    """In a worker process that `sweeper run --workers K` started: stop as on SIGTERM (and so as
    on Ctrl-C) when the parent dies, however it dies, even by SIGKILL, which it cannot forward.

    The kernel's parent-death signal is used rather than polling the parent's pid: it needs no
    thread, and it fires at once. Linux only; elsewhere the parent's forwarding must suffice.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    signal.signal(_PARENT_DIED, _parent_died)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, _PARENT_DIED, 0, 0, 0) != 0:
        return
    if os.getppid() != int(parent):  # it died before the signal was asked for: nothing ran yet
        sys.exit(128 + signal.SIGTERM)
