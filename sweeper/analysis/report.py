"""`sweeper report`: a study's leaderboard, state counts, parameter importances and plots."""

from __future__ import annotations

import csv
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from sweeper.study.progress import study_progress
from sweeper.study.record import BASELINE, N_PARAMS, SECONDS, VAL_ACC_SE, WARM_START_FROM, ranked

if TYPE_CHECKING:
    from sweeper.tracking.tracker import Tracker

PLOTS = ("optimization_history", "intermediate_values", "param_importances", "parallel_coordinate")


@dataclass(frozen=True)
class Report:
    counts: dict[str, int]
    importances: dict[str, float]
    files: list[Path]
    skipped: dict[str, str]  # plot -> why it could not be drawn


def write_report(study: optuna.Study, out: Path) -> Report:
    """Write plots (PNG via matplotlib, interactive HTML via plotly when it is installed) and a
    leaderboard CSV."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization as vis
    import optuna.visualization.matplotlib as vis_mpl

    out.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    counts = Counter(t.state.name for t in trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    importances: dict[str, float] = {}
    skipped: dict[str, str] = {}
    if len(complete) >= 2:
        try:
            importances = optuna.importance.get_param_importances(study)
        except (ValueError, RuntimeError) as exc:
            skipped["param_importances"] = str(exc)
    else:
        skipped["param_importances"] = "needs at least 2 complete trials"
    html = _plotly_installed()
    if not html:
        skipped["HTML plots"] = "plotly is not installed: pip install 'sweeper[plots]'"
    files = [_leaderboard_csv(trials, out / "leaderboard.csv")]
    for plot in PLOTS:
        if plot in skipped or not complete:
            skipped.setdefault(plot, "needs complete trials")
            continue
        try:
            with warnings.catch_warnings():
                # Optuna's matplotlib plots are "experimental", and a small figure may miss
                # tight_layout's margins: neither is news to the reader of `sweeper run`.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.filterwarnings("ignore", message="Tight layout not applied")
                axes = getattr(vis_mpl, f"plot_{plot}")(study)
                figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
                figure.set_size_inches(10, 6)
                figure.tight_layout()
            figure.savefig(out / f"{plot}.png", dpi=110)
            plt.close(figure)
            files.append(out / f"{plot}.png")
            if html:
                getattr(vis, f"plot_{plot}")(study).write_html(
                    out / f"{plot}.html", include_plotlyjs="directory"
                )
                files.append(out / f"{plot}.html")
        except (ValueError, RuntimeError) as exc:
            skipped[plot] = str(exc)
    return Report(dict(counts), importances, files, skipped)


def _plotly_installed() -> bool:
    """Whether the interactive plots can be drawn: plotly is the `plots` extra."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


def log_report(study: optuna.Study, tracker: Tracker, parent_id: str, out: Path) -> Report:
    """`write_report` into `out`, logged on the study's parent run (artifacts/report)."""
    report = write_report(study, out)
    tracker.artifacts.log_dir(parent_id, out, "report")
    return report


def refresh_parent_run(study: optuna.Study, tracker: Tracker, parent_id: str) -> None:
    """The parent run's final best-so-far curve and trial counts, and the report's plots as its
    artifacts: refreshed at the end of every run, so a resumed study's include its new trials."""
    tracker.log_progress(parent_id, study_progress(study.get_trials(deepcopy=False)))
    with tempfile.TemporaryDirectory(prefix="sweeper-report-") as folder:
        log_report(study, tracker, parent_id, Path(folder))


def _leaderboard_csv(trials: list[optuna.trial.FrozenTrial], path: Path) -> Path:
    best_first = ranked(trials)
    params = sorted({k for t in best_first for k in t.params})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        header = [
            "rank",
            "trial",
            BASELINE,
            WARM_START_FROM,
            "val_acc",
            VAL_ACC_SE,
            N_PARAMS,
            SECONDS,
        ]
        writer.writerow([*header, *params])
        for rank, t in enumerate(best_first, 1):
            writer.writerow(
                [
                    rank,
                    t.number,
                    t.user_attrs.get(BASELINE, ""),
                    t.user_attrs.get(WARM_START_FROM, ""),
                    f"{t.value:.6f}",
                    t.user_attrs.get(VAL_ACC_SE, ""),
                    t.user_attrs.get(N_PARAMS, ""),
                    t.user_attrs.get(SECONDS, ""),
                    *(t.params.get(k, "") for k in params),
                ]
            )
    return path
