"""Riding out a database outage (a restart, a fail-over) while a sweep runs.

Three gaps in Optuna's RDB storage are closed here: a new connection waits for the database
to come back instead of failing; a call whose connection the database dropped mid-query is made
again on a fresh one when making it twice is harmless; and the heartbeat thread outlives a
missed beat.

Imports Optuna: import this module inside CLI commands, not at the top of `sweeper.cli`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import optuna
import sqlalchemy
from optuna.trial import TrialState

from sweeper.masking import mask_text

# How long a worker waits for its database to come back before the call that needs it fails.
RECONNECT_TIMEOUT_S = 300

# Calls that may run twice: reads, and writes that upsert (attributes, reports, parameters).
# Not trial creation, which Optuna itself retries; a trial's end only if it did not land (see
# below). Each is the method that opens the session (get_all_trials and set_trial_param
# delegate to _get_trials and _set_trial_param).
REPEATABLE = (
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_trial",
    "_get_trials",
    "get_trial_id_from_study_id_trial_number",
    "get_trial_param",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "_get_best_trial_id",
    "_get_stale_trial_ids",
    "_set_trial_param",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
)

_logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def connection_lost(exc: BaseException) -> bool:
    """Whether the database dropped the connection under `exc` (Optuna wraps the driver's
    error, sometimes behind a second SQLAlchemy error raised while handling it)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlalchemy.exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _once_more_if_dropped(method: F, landed: Callable[..., bool] | None = None) -> F:
    """`method`, made once more when the database dropped its connection mid-call; with
    `landed`, only when `landed(storage, *args)` says the first call did not commit already."""

    @functools.wraps(method)
    def call(self: ResilientRDBStorage, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except optuna.exceptions.StorageInternalError as exc:
            if not connection_lost(exc):
                raise
            # The dropped connection is discarded; the next one waits for the database.
            _logger.warning("storage dropped the connection (%s); trying again", method.__name__)
            if landed is not None and landed(self, *args, **kwargs):
                return True
            return method(self, *args, **kwargs)

    return call  # type: ignore[return-value]


def _trial_ended_as_asked(
    storage: optuna.storages.RDBStorage,
    trial_id: int,
    state: TrialState,
    values: Sequence[float] | None = None,
) -> bool:
    """Whether a trial's end was committed before the connection dropped: then it stands
    (ending it again would read as another worker having ended this trial)."""
    if not state.is_finished():
        return False
    stored = storage.get_trial(trial_id)
    return stored.state == state and stored.values == (None if values is None else [*values])


class ResilientRDBStorage(optuna.storages.RDBStorage):
    """RDBStorage for a sweep that must outlive a database restart.

    Optuna beats from a background thread that dies at the first storage error; the running
    trial would then look dead to the other workers and be failed although it is healthy. Here
    a missed beat is logged and the next one is tried as usual. A query cut off by the restart
    is made again (see `REPEATABLE`, and a trial's end) rather than failing the trial.
    """

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError) as exc:
            cause = exc.__cause__ or exc
            _logger.warning(
                "heartbeat of trial id %d missed, storage unreachable: %s",
                trial_id,
                mask_text(str(cause).splitlines()[0], [self.url]),
            )


for _name in REPEATABLE:
    setattr(
        ResilientRDBStorage,
        _name,
        _once_more_if_dropped(getattr(optuna.storages.RDBStorage, _name)),
    )
ResilientRDBStorage.set_trial_state_values = _once_more_if_dropped(  # type: ignore[method-assign]
    optuna.storages.RDBStorage.set_trial_state_values, landed=_trial_ended_as_asked
)


def reconnect_patiently(engine: sqlalchemy.Engine, url: str) -> None:
    """New connections of `engine` wait out a database outage instead of failing.

    A worker then rides out a database restart or fail-over: its calls block until the
    database answers again (stale pooled connections are replaced thanks to pool_pre_ping),
    and its trial carries on. Only a database gone for RECONNECT_TIMEOUT_S fails the call.
    """
    connect_errors = (engine.dialect.loaded_dbapi.OperationalError,)
    outage = threading.Event()  # set while the database is away: one warning per outage

    def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        deadline = time.monotonic() + RECONNECT_TIMEOUT_S
        delay = 0.25
        while True:
            try:
                connection = dialect.connect(*cargs, **cparams)
            except connect_errors as exc:
                if time.monotonic() + delay > deadline:
                    raise
                if not outage.is_set():
                    outage.set()
                    reason = mask_text(str(exc).strip().splitlines()[0], [url])
                    _logger.warning("storage unreachable, reconnecting: %s", reason)
                time.sleep(delay)
                delay = min(2 * delay, 5.0)
                continue
            if outage.is_set():
                outage.clear()
                _logger.warning("storage reachable again")
            return connection

    sqlalchemy.event.listen(engine, "do_connect", connect)
