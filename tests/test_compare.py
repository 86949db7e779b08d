"""`sweeper compare` and the shipped comparison grids: matched sizes, outputs, refusals."""

from __future__ import annotations

import csv
import itertools
import statistics
from pathlib import Path

import optuna
import pytest

from sweeper.analysis.compare import AXES, Cell, Comparison, Stat, findings, summary_markdown
from sweeper.models import count_parameters
from sweeper.study.record import CONFIG
from sweeper.study.spec import call_search_space, load_study_file
from tests.cli import sweeper
from tests.test_run import mlflow_runs, trials_of, write_study

STUDIES = Path(__file__).parent.parent / "studies"
TINY_GRID = """
import optuna
from sweeper.models import match_width
from sweeper import StudySpec

GRID = {"budget": [4_000, 16_000], "layers": [1, 3], "seed": [0, 1]}
FIXED = {"family": "mlp", "n": 1, "lr": 3e-3, "batch_size": 256}
study = StudySpec(
    train_frames=2_000, val_frames=500, epochs=2, sampler="grid", pruner="none", grid=GRID
)


def search_space(trial: optuna.Trial) -> dict:
    config = {
        **FIXED,
        "layers": trial.suggest_categorical("layers", GRID["layers"]),
        "seed": trial.suggest_categorical("seed", GRID["seed"]),
    }
    budget = trial.suggest_categorical("budget", GRID["budget"])
    return {**config, "hidden": match_width(config, budget)}
"""


def test_shipped_deep_vs_shallow_grid_matches_parameter_counts_within_1_percent() -> None:
    study_file = load_study_file(STUDIES / "deep_vs_shallow.py")
    grid = study_file.spec.grid
    assert study_file.spec.sampler == "grid" and study_file.spec.pruner == "none"
    assert grid is not None and len(grid["seed"]) >= 3 and len(grid["layers"]) >= 4
    for budget in grid["budget"]:
        widths = []
        for layers in grid["layers"]:
            params = {"budget": budget, "layers": layers, "seed": grid["seed"][0]}
            config = call_search_space(study_file, optuna.trial.FixedTrial(params))
            assert abs(count_parameters(config) - budget) <= 0.01 * budget, config
            widths.append(config["hidden"])
        assert widths == sorted(widths, reverse=True)  # deeper means narrower at a budget


def test_shipped_dropout_grid_varies_only_dropout_and_seed() -> None:
    study_file = load_study_file(STUDIES / "dropout.py")
    grid = study_file.spec.grid
    assert grid is not None and grid["dropout"] == [0.0, 0.25, 0.5, 0.75]
    configs = [
        call_search_space(study_file, optuna.trial.FixedTrial({"dropout": p, "seed": s}))
        for p, s in itertools.product(grid["dropout"], grid["seed"])
    ]
    assert {c["dropout"] for c in configs} == set(grid["dropout"])
    fixed = [{k: v for k, v in c.items() if k not in ("dropout", "seed")} for c in configs]
    assert all(f == fixed[0] for f in fixed)


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A directory after a 2 budgets x 2 depths x 2 seeds grid and `sweeper compare` on it."""
    cwd = tmp_path_factory.mktemp("compared")
    (cwd / "grid.py").write_text(TINY_GRID)
    sweeper("run", "grid.py", "--data", tiny_corpus, cwd=cwd)
    result = sweeper("compare", "grid", cwd=cwd)
    (cwd / "stdout.txt").write_text(result.stdout)
    return cwd


def test_compare_prints_the_table_and_writes_png_csv_and_summary(compared: Path) -> None:
    out = compared / "sweeper-reports" / "grid-compare"
    stdout = (compared / "stdout.txt").read_text()
    for header in ("budget", "depth", "width", "params", "train acc", "val acc", "s/epoch"):
        assert header in stdout
    assert "4k" in stdout and "16k" in stdout and "±" in stdout

    assert (out / "comparison.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with (out / "comparison.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["budget"], r["layers"]) for r in rows] == [
        ("4000", "1"),
        ("4000", "3"),
        ("16000", "1"),
        ("16000", "3"),
    ]
    trials = trials_of(compared, "grid")
    for row in rows:
        cell = [
            t
            for t in trials
            if t.params["budget"] == int(row["budget"]) and t.params["layers"] == int(row["layers"])
        ]
        assert int(row["seeds"]) == len(cell) == 2
        assert float(row["val_acc_mean"]) == pytest.approx(
            statistics.fmean(t.value for t in cell), abs=1e-6
        )
        assert float(row["val_acc_std"]) > 0  # two seeds train two different models
        assert 0 < float(row["train_acc_mean"]) <= 1 and float(row["epoch_seconds"]) > 0
        # tiny models move in coarse steps; the shipped grid's 1% is tested above
        assert abs(int(row["n_params"]) - int(row["budget"])) <= 0.05 * int(row["budget"])
        assert int(row["width"]) == cell[0].user_attrs[CONFIG]["hidden"]

    summary = (out / "summary.md").read_text()
    assert summary.startswith("# grid: train and val accuracy against depth")
    assert "4k params: wide-shallow 1 ×" in summary and "16k params:" in summary
    assert "narrow-deep 3 ×" in summary and "| budget | depth |" in summary


def test_compare_logs_its_outputs_on_the_parent_run(compared: Path) -> None:
    client, parents, _ = mlflow_runs(compared, "grid")
    (parent,) = parents
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "compare")}
    assert logged == {"compare/comparison.png", "compare/comparison.csv", "compare/summary.md"}
    downloaded = client.download_artifacts(parent.info.run_id, "compare/comparison.csv")
    local = compared / "sweeper-reports" / "grid-compare" / "comparison.csv"
    assert Path(downloaded).read_text() == local.read_text()
    page = f"#/experiments/{parent.info.experiment_id}/runs?workflowType=machine_learning"
    assert f"then open http://127.0.0.1:5000/{page}" in (compared / "stdout.txt").read_text()


def test_compare_refuses_a_study_that_is_not_a_comparison_grid(
    compared: Path, tiny_corpus: Path
) -> None:
    write_study(compared / "tiny.py", train_frames=2_000)
    sweeper("run", "tiny.py", "--trials", "1", "--data", tiny_corpus, cwd=compared)
    result = sweeper("compare", "tiny", cwd=compared, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: study 'tiny' is not a comparison grid (sampler random, params hidden, n): "
        "compare needs a grid over `seed` and `layers` or `dropout`, as in "
        "studies/deep_vs_shallow.py and studies/dropout.py"
    ]
    assert not (compared / "sweeper-reports" / "tiny-compare").exists()


def test_compare_names_a_missing_tracking_store(compared: Path) -> None:
    result = sweeper(
        "compare", "grid", "--tracking-uri", "sqlite:///nowhere.db", cwd=compared, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --tracking-uri sqlite:///nowhere.db:")
    assert "nowhere.db does not exist" in result.stderr
    assert not (compared / "nowhere.db").exists()


def _cell(layers: int, width: int, val: list[float], train: list[float]) -> Cell:
    return Cell((100_000,), layers, width, 100_000, len(val), Stat.of(train), Stat.of(val), 1.0)


def test_findings_name_the_winner_and_weigh_it_against_the_seed_spread() -> None:
    depth = AXES[0]
    clear = Comparison(
        "dvs",
        depth,
        ("budget",),
        [
            _cell(1, 211, [0.60, 0.61, 0.62], [0.70, 0.71, 0.72]),
            _cell(8, 89, [0.65, 0.66, 0.67], [0.66, 0.67, 0.68]),
        ],
        {},
    )
    (line,) = findings(clear)
    assert line.startswith("100k params: wide-shallow 1 × 211 reaches val 0.610 ± 0.010")
    assert "narrow-deep is ahead by 0.050, more than the seeds' spread" in line
    assert "Best val: 8 × 89 (0.660 ± 0.010)" in line
    assert "gap +0.100 (wide-shallow) vs +0.010 (narrow-deep)" in line

    close = Comparison(
        "dvs",
        depth,
        ("budget",),
        [
            _cell(1, 211, [0.60, 0.64], [0.7, 0.7]),
            _cell(8, 89, [0.61, 0.62], [0.7, 0.7]),
        ],
        {},
    )
    (line,) = findings(close)
    assert "wide-shallow is ahead by 0.005, within the seeds' spread" in line


def test_findings_of_a_dropout_grid_name_models_by_probability() -> None:
    cells = [
        Cell((), p, 256, 250_000, 2, Stat.of([0.7, 0.7]), Stat.of([val, val]), 1.0)
        for p, val in ((0.0, 0.60), (0.5, 0.64), (0.75, 0.62))
    ]
    (line,) = findings(Comparison("dropout", AXES[1], (), cells, {}))
    assert line.startswith("lightest dropout p = 0.0 reaches val 0.600 ± 0.000 (train 0.700")
    assert "heaviest dropout is ahead by 0.020" in line and "Best val: p = 0.5" in line


def test_summary_warns_when_trials_repeat_a_grid_point() -> None:
    cells = [_cell(1, 211, [0.6, 0.6], [0.7, 0.7]), _cell(8, 89, [0.6, 0.6], [0.7, 0.7])]
    clean = Comparison("dvs", AXES[0], ("budget",), cells, {})
    assert "Warning" not in summary_markdown(clean)
    repeated = Comparison("dvs", AXES[0], ("budget",), cells, {}, repeated=(3, 7))
    assert "Warning: trials 3, 7 re-ran an earlier trial's params and seed" in summary_markdown(
        repeated
    )
