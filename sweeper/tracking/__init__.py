"""Every MLflow call: a study's runs (`tracker`: the parent, its trials, what they log), a run's
artifact directories (`artifacts`: the trial checkpoint store of a shared study, the report),
promotion runs and the model registry with its champion policy (`registry`), the store's health,
and the log of trials that could not be recorded while the store was away.

Imports MLflow and torch; never Optuna (an import contract checks it): what it needs of a study
comes in as plain values.

MLflow reads some of its settings when it is first imported, so they are set here, before any
module of this package imports it.
"""

import os

# Sweeps often run on offline clusters, where MLflow's usage telemetry is wasted work and
# noise; it stays off unless the user asks for it (MLFLOW_DISABLE_TELEMETRY=false).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow prints "View run ... at <tracking URI>" to stdout, password included for http URIs.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
# A progress bar per checkpoint a resumed trial downloads would be noise in the sweep's output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# MLflow retries a failing call to a tracking server for about 4 minutes; sweeper's own
# default bounds each call to about 20 s when the server refuses connections (4 retries after
# 0, 2, 4 and 8 s, plus up to 1 s of jitter each) and about 2 minutes when it accepts them but
# never answers (5 tries of 20 s), so that an outage costs a trial seconds, not its result.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "4")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
