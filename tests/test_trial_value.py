"""What a COMPLETE trial is worth (its best or its last epoch) and the error shown beside it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sweeper.study.record import VAL_ACC_SE
from tests.cli import sweeper
from tests.test_baselines_and_limits import with_spec
from tests.test_run import trials_of, write_study


@pytest.mark.parametrize("worth", ["best", "last"])
def test_a_trial_is_worth_its_best_or_last_epoch_with_its_standard_error(
    worth: str, tmp_path: Path, tiny_corpus: Path
) -> None:
    study = write_study(tmp_path / "value.py", epochs=3, lr="3e-2")
    if worth == "last":
        with_spec(study, "trial_value='last'")
    result = sweeper("run", "value.py", "--trials", "2", "--data", tiny_corpus, cwd=tmp_path)
    trials = trials_of(tmp_path, "value")
    for trial in trials:
        curve = trial.intermediate_values
        assert trial.value == (curve[3] if worth == "last" else max(curve.values()))
        assert 0 < trial.user_attrs[VAL_ACC_SE] < 0.2
    board = (result.stdout + result.stderr).split("Top 2 trials")[1]
    assert "± se" in board, board
    for trial in trials:
        assert f"{trial.value:.4f} │ {trial.user_attrs[VAL_ACC_SE]:.4f}" in board, board
    sweeper("report", "value", "--out", tmp_path / "report", cwd=tmp_path)
    with (tmp_path / "report" / "leaderboard.csv").open() as handle:
        rows = {int(row["trial"]): float(row[VAL_ACC_SE]) for row in csv.DictReader(handle)}
    assert rows == {t.number: t.user_attrs[VAL_ACC_SE] for t in trials}
