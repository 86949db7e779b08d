"""What the user watches and reads at the end: the live board's progress inside epochs and its
estimate, the leaderboard on an 80-column terminal, the closing hints outside the venv.

Real studies in SQLite files; Rich consoles that record what they print."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import create_trial
from rich.console import Console

from sweeper.process.executables import command
from sweeper.study.record import BASELINE, CONFIG, EPOCHS_RUN, EPOCHS_TRAINED, N_PARAMS, SECONDS
from sweeper.sweep.estimate import estimate
from sweeper.sweep.live import Board, leaderboard
from sweeper.sweep.runner import next_steps
from sweeper.sweep.trial_progress import progress_reporter
from sweeper.training import BatchProgress, EpochStats

PARAMS = {
    "family": "rnn-window",
    "cell": "lstm",
    "layers": 3,
    "hidden": 256,
    "dropout": 0.123456,
    "lr": 0.00123,
    "weight_decay": 1.5e-5,
    "n": 21,
}
DISTRIBUTIONS = {
    "family": CategoricalDistribution(["rnn-window", "rnn-seq"]),
    "cell": CategoricalDistribution(["lstm", "gru"]),
    "layers": IntDistribution(1, 4),
    "hidden": IntDistribution(64, 512, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "lr": FloatDistribution(3e-4, 5e-3, log=True),
    "weight_decay": FloatDistribution(1e-6, 1e-3, log=True),
    "n": IntDistribution(11, 41, step=2),
}
SHOWN = ["dropout=0.123", "lr=0.00123", "weight_decay=1.5e-05", "hidden=256", "n=21"]


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    study = optuna.create_study(
        study_name="board", storage=f"sqlite:///{tmp_path / 'sweeps.db'}", direction="maximize"
    )
    for number in range(3):
        attrs = {N_PARAMS: 4_726_569, SECONDS: 1234.5, EPOCHS_RUN: 4, EPOCHS_TRAINED: 4}
        if number == 0:
            attrs[BASELINE] = 0
        study.add_trial(
            create_trial(
                value=0.5 + number / 100,
                params={**PARAMS, "layers": number + 1},
                distributions=DISTRIBUTIONS,
                user_attrs={**attrs, CONFIG: {"family": "rnn-window"}},
                intermediate_values={e: 0.4 for e in range(1, 5)},
            )
        )
    return study


def printed(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_leaderboard_keeps_params_readable_on_80_columns(study: optuna.Study) -> None:
    trials = study.get_trials()
    narrow = printed(leaderboard(trials), 80)
    assert "…" not in narrow
    assert all(len(line) <= 80 for line in narrow.splitlines())
    for layers in (1, 2, 3):
        # each trial's params, whole, on lines that name the trial
        line = next(line for line in narrow.splitlines() if f"layers={layers}" in line)
        assert f"trial {layers - 1}" in line
    assert narrow.count("baseline 0") == 2  # its row, and its params' line
    for value in SHOWN:
        assert narrow.count(value) == 3, value
    wide = printed(leaderboard(trials), 200)
    rows = [line for line in wide.splitlines() if "layers=" in line]
    assert len(rows) == 3 and all("0.5" in row and "1234.5" in row for row in rows)
    assert all(value in rows[0] for value in SHOWN)


def test_the_board_shows_progress_inside_the_epoch_and_when_the_sweep_ends(
    study: optuna.Study,
) -> None:
    trial = study.ask(DISTRIBUTIONS)
    trial.set_user_attr(CONFIG, {"family": "rnn-window"})
    reporter = progress_reporter(trial)
    reporter.epoch_ended(EpochStats(1, 1.0, 0.5, 1.0, 0.5, 412.0, 1e-3))
    reporter(BatchProgress(2, 37, 236, 70.0))
    console = Console(width=80, record=True, color_system=None)
    board = Board(study, target=10, epochs=10, workers=1, console=console)
    board.poll()
    board.poll()
    shown = console.export_text()
    # 6 trials x 4 epochs at about 320 s/epoch: 2h20m, short of the hours that warrant a warning
    assert shown.count("warning:") == 0
    trials = study.get_trials()
    live = printed(board.render(trials, None), 80)
    running = next(line for line in live.splitlines() if "37/236" in line)
    assert "━" in running and "412" in running and "1/10" in running
    assert "finished 3/10" in live

    tight = Board(study, target=10, epochs=10, workers=1, console=console, budget_ends=time.time())
    tight.poll()
    tight.poll()
    warned = console.export_text()
    assert warned.count("warning:") == 1 and "--time-budget" in warned
    ahead = estimate(trials, target=10, epochs=10, workers=1)
    assert "ends in about 2h2" in printed(tight.render(trials, ahead), 80)

    # `--time-budget 3m` alone: no target to estimate from, the budget says when it ends
    budget = Board(
        study, None, epochs=10, workers=1, console=console, budget_ends=time.time() + 150
    )
    assert "ends in about 2m" in printed(budget.render(trials, None), 80)


def test_the_closing_hints_name_commands_that_run_outside_the_venv(tmp_path: Path) -> None:
    hints = next_steps("board", "sqlite:///sweeps.db", "sqlite:///mlflow.db", "1")
    venv_bin = Path(sys.executable).parent
    path_without_venv = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != venv_bin
    )
    env = {**os.environ, "PATH": path_without_venv}
    # as printed by a `sweeper run` started as .venv/bin/sweeper, from a shell without the venv
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sweeper.process.executables import command; print(command('mlflow'))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(shown).name == "mlflow" and shown != "mlflow"
    version = subprocess.run(
        [shown, "--version"], env=env, capture_output=True, text=True, timeout=120
    )
    assert version.returncode == 0 and "mlflow" in version.stdout
    # with the venv's scripts on PATH (an activated venv), the bare name is the one that runs
    assert command("mlflow") in ("mlflow", shown)
    assert f"{command('mlflow')} ui" in hints and f"{command('sweeper')} report board" in hints
