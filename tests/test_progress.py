"""The parent run's best-so-far curve and counts when workers' trials end out of order.

Real stores: an Optuna study in a SQLite file and an MLflow SQLite store; the listings are what
workers would read from the storage at the moments a trial ends.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from sweeper.study.progress import study_progress
from sweeper.sweep.parent import parent_run
from sweeper.tracking.tracker import Tracker


def curve(client: MlflowClient, run_id: str) -> list[tuple[int, float]]:
    history = client.get_metric_history(run_id, "best_val_acc")
    return sorted((m.step, m.value) for m in history)


def counts(client: MlflowClient, run_id: str) -> dict[str, float]:
    metrics = client.get_run(run_id).data.metrics
    return {k.removeprefix("trials_"): v for k, v in metrics.items() if k.startswith("trials_")}


def test_late_trials_and_stale_listings_leave_a_correct_curve(tmp_path: Path) -> None:
    study = optuna.create_study(
        study_name="race", storage=f"sqlite:///{tmp_path / 'sweeps.db'}", direction="maximize"
    )
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "race")
    parent = parent_run(study, tracker, {}, {})
    client = tracker.client

    def trial_ends() -> None:  # what a worker does when one of its trials has ended
        tracker.log_progress(parent, study_progress(study.get_trials(deepcopy=False)))

    first, slow, fast = study.ask(), study.ask(), study.ask()
    study.tell(first, 0.5)
    trial_ends()
    study.tell(fast, 0.7)  # trial 2 ends while trial 1 still runs: its point must wait
    trial_ends()
    assert curve(client, parent) == [(0, 0.5)]
    assert counts(client, parent) == {"complete": 2, "pruned": 0, "failed": 0}

    stale = study_progress(study.get_trials(deepcopy=False))
    study.tell(slow, 0.4)  # worse than the best so far: the curve keeps the best
    trial_ends()
    assert curve(client, parent) == [(0, 0.5), (1, 0.5), (2, 0.7)]
    pruned = study.ask()
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)
    trial_ends()
    tracker.log_progress(parent, stale)  # a slow worker's listing from before the last two
    assert curve(client, parent) == [(0, 0.5), (1, 0.5), (2, 0.7), (3, 0.7)]
    assert counts(client, parent) == {"complete": 3, "pruned": 1, "failed": 0}
    assert client.get_run(parent).data.metrics["best_val_acc"] == pytest.approx(0.7)
