"""`sweeper promote` end to end on the tiny corpus: real SQLite, MLflow, registry and processes."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import platformdirs
import pytest
from mlflow.models import Model
from mlflow.tracking import MlflowClient
from rich.console import Console

from sweeper.data import course_split, load_corpus
from sweeper.errors import SweeperError
from sweeper.promote.promotion import PromoteRequest, promote
from sweeper.study.record import RUN_ATTR
from tests.cli import start_sweeper, sweeper
from tests.test_run import mlflow_runs, trials_of, write_study

STUDY = "promo"


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    cwd = tmp_path_factory.mktemp("promote")
    write_study(cwd / f"{STUDY}.py")
    sweeper("run", f"{STUDY}.py", "--trials", "3", "--data", tiny_corpus, cwd=cwd)
    return cwd


@pytest.fixture(scope="module")
def first(swept: Path) -> subprocess.CompletedProcess[str]:
    """The first promotion: the top two trials re-ranked, two seeds each, on a subset twice the
    study's."""
    return sweeper(
        "promote", STUDY, "--top", "2", "--seeds", "2", "--top-scale", "2", "--epochs", "3",
        "--out", "first.csv", cwd=swept,
    )  # fmt: skip


def promote_runs(cwd: Path) -> list:
    _, _, children = mlflow_runs(cwd, STUDY)
    return [r for r in children if r.data.tags.get("sweeper.role") == "promote"]


def registry(cwd: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")


def champion_val_acc(cwd: Path) -> tuple[str, float]:
    version = registry(cwd).get_model_version_by_alias(STUDY, "champion")
    return version.version, float(version.tags["val_acc"])


def promoted_trial(cwd: Path) -> str:
    """The trial the first promotion picked (each later one promotes it again)."""
    return next(r for r in promote_runs(cwd) if r.data.params["epochs"] == "3").data.tags[
        "sweeper.source_trial"
    ]


def test_promote_retrains_the_best_rechecked_trial_on_the_full_split(
    swept: Path, first: subprocess.CompletedProcess[str], tiny_corpus: Path
) -> None:
    client, parents, _ = mlflow_runs(swept, STUDY)
    [run] = promote_runs(swept)
    assert run.info.status == "FINISHED" and run.info.run_name.startswith("promote-trial-")
    assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
    assert "Top trials re-ranked on the larger subset" in first.stdout
    assert "is the first @champion" in first.stdout

    complete = [t for t in trials_of(swept, STUDY) if t.state.name == "COMPLETE"]
    top_two = sorted(complete, key=lambda t: t.value, reverse=True)[:2]
    table = list(csv.DictReader(io.StringIO(download(client, run.info.run_id, "top_k.csv"))))
    assert sorted(int(row["trial"]) for row in table) == sorted(t.number for t in top_two)
    winner = max(table, key=lambda row: float(row["mean_val_acc"]))["trial"]
    source = next(t for t in complete if str(t.number) == winner)
    assert run.data.tags["sweeper.source_trial"] == winner
    assert run.data.tags["sweeper.source_run_id"] == source.user_attrs[RUN_ATTR]

    corpus = load_corpus(tiny_corpus)
    train, val = course_split(corpus.train)  # the study file keeps the course's seed and ratio
    assert run.data.params["train_frames"] == str(train.num_frames)
    assert run.data.params["val_frames"] == str(val.num_frames)
    assert run.data.params["epochs"] == "3"
    assert run.data.params["hidden"] == str(source.params["hidden"])
    history = client.get_metric_history(run.info.run_id, "val_acc")
    assert sorted(m.step for m in history) == [1, 2, 3]
    assert run.data.metrics["best_val_acc"] == max(m.value for m in history)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"predictions.csv", "config.json", "top_k.csv"} <= artifacts

    # the registered model: a pickle-free PyTorch program with a signature and an input example
    assert run.data.tags["sweeper.model_version"] == f"{STUDY}/1"
    assert run.data.tags["sweeper.champion"] == "True"
    logged = client.get_logged_model(
        client.get_model_version(STUDY, "1").source.removeprefix("models:/")
    )
    assert logged.experiment_id == run.info.experiment_id
    assert logged.source_run_id == run.info.run_id
    model = Model.load(logged.artifact_location)
    assert {"pytorch", "python_function"} <= set(model.flavors)
    [features] = model.signature.inputs.inputs
    [logits] = model.signature.outputs.inputs
    assert (features.shape, features.type, logits.shape) == ((-1, 39), np.float32, (-1, 41))
    assert model.saved_input_example_info is not None


def test_top_k_ranks_each_candidate_by_its_mean_over_seeds(
    swept: Path, first: subprocess.CompletedProcess[str]
) -> None:
    client, _, _ = mlflow_runs(swept, STUDY)
    [run] = promote_runs(swept)
    table = list(csv.DictReader(io.StringIO(download(client, run.info.run_id, "top_k.csv"))))
    # the study file leaves the config's seed at its default, 0: the rechecks ran seeds 0 and 1
    assert list(table[0]) == [
        "trial", "sweep_val_acc", "mean_val_acc", "sd_val_acc", "val_acc_seed_0", "val_acc_seed_1"
    ]  # fmt: skip
    printed = first.stdout.split("Top trials re-ranked on the larger subset", 1)[1]
    for row in table:
        by_seed = [float(row["val_acc_seed_0"]), float(row["val_acc_seed_1"])]
        assert float(row["mean_val_acc"]) == pytest.approx(statistics.mean(by_seed), abs=1e-6)
        assert float(row["sd_val_acc"]) == pytest.approx(statistics.stdev(by_seed), abs=1e-6)
        # the printed row: trial, study value, mean, spread and each seed's value
        shown = [f"{float(row[key]):.4f}" for key in list(row)[1:]]
        assert re.search(rf"\b{row['trial']}( \*)? *│ *" + " *│ *".join(shown), printed), printed
    assert "sd" in printed and "seed 0" in printed and "seed 1" in printed
    winner = max(table, key=lambda row: float(row["mean_val_acc"]))
    assert run.data.tags["sweeper.source_trial"] == winner["trial"]
    assert re.search(rf"\b{winner['trial']} \*", printed)


def test_top_k_with_fewer_than_two_seeds_is_refused(swept: Path, tmp_path: Path) -> None:
    runs_before = len(promote_runs(swept))
    result = sweeper(
        "promote", STUDY, "--top", "2", "--seeds", "1", "--out", tmp_path / "p.csv",
        cwd=swept, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: --seeds 1:"), line
    assert not (tmp_path / "p.csv").exists()
    assert len(promote_runs(swept)) == runs_before


def test_the_model_version_links_back_to_its_trial_and_study(
    swept: Path, first: subprocess.CompletedProcess[str]
) -> None:
    client = registry(swept)
    [run] = promote_runs(swept)
    trial = run.data.tags["sweeper.source_trial"]
    source_run = run.data.tags["sweeper.source_run_id"]
    assert run.data.tags["sweeper.study"] == STUDY
    version = client.get_model_version(STUDY, "1")
    assert version.tags["sweeper.source_run_id"] == source_run
    # on the model's page: which trial of which study, and both runs
    assert f"Trial {trial} of study {STUDY!r}" in version.description
    assert source_run in version.description and run.info.run_id in version.description
    experiment = client.get_experiment_by_name(STUDY).experiment_id
    page = f"http://127.0.0.1:5000/#/experiments/{experiment}/runs?workflowType=machine_learning"
    assert page in first.stdout


def test_the_csv_has_one_row_per_test_frame_in_split_order(
    swept: Path, first: subprocess.CompletedProcess[str], tiny_corpus: Path
) -> None:
    order = (tiny_corpus / "test_split.txt").read_text().split()
    by_utterance = {
        line.split()[0]: line.split()[1:]
        for line in (tiny_corpus / "test_labels.txt").read_text().splitlines()
    }
    labels = [int(label) for utterance in order for label in by_utterance[utterance]]

    rows = list(csv.reader((swept / "first.csv").open()))
    assert rows[0] == ["Id", "Class"]
    assert [int(row[0]) for row in rows[1:]] == list(range(len(labels)))
    classes = [int(row[1]) for row in rows[1:]]
    assert all(0 <= c <= 40 for c in classes)
    # the accuracy against the labels in test_split.txt order is the one promote reports
    test_acc = sum(c == y for c, y in zip(classes, labels, strict=True)) / len(labels)
    [run] = promote_runs(swept)
    assert run.data.metrics["test_acc"] == pytest.approx(test_acc, abs=1e-12)
    assert f"{test_acc:.4f}" in first.stdout


def test_a_promotion_that_does_not_beat_the_champion_leaves_the_alias(
    swept: Path, first: subprocess.CompletedProcess[str]
) -> None:
    champion, best = champion_val_acc(swept)
    # epoch 1 of a deterministic run is epoch 1 of the champion's 3: it cannot do better
    result = sweeper(
        "promote", STUDY, "--trial", promoted_trial(swept), "--epochs", "1",
        "--out", "second.csv", cwd=swept,
    )  # fmt: skip
    assert f"version {champion} stays @champion" in result.stdout
    assert champion_val_acc(swept) == (champion, best)
    newest = max(
        registry(swept).search_model_versions(f"name = '{STUDY}'"), key=lambda v: int(v.version)
    )
    assert int(newest.version) > int(champion) and float(newest.tags["val_acc"]) <= best


def test_an_interrupted_promote_resumes_its_run_and_a_better_one_takes_the_alias(
    swept: Path, first: subprocess.CompletedProcess[str]
) -> None:
    args = promote_again(swept, epochs=8, out="third.csv")
    run_id = kill_after_first_epoch(swept, args)
    client = registry(swept)
    assert client.get_run(run_id).info.status == "RUNNING"
    _, champion_best = champion_val_acc(swept)

    result = sweeper(*args, cwd=swept)
    assert f"continuing MLflow run {run_id}" in result.stderr
    [run] = [r for r in promote_runs(swept) if r.data.params["epochs"] == "8"]
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    history = client.get_metric_history(run_id, "val_acc")
    assert sorted({m.step for m in history}) == list(range(1, 9))
    assert [m.step for m in history].count(1) == 1  # epoch 1 was not trained again
    assert not list(promote_cache().glob(f"{STUDY}-*"))  # a finished promotion leaves no state

    version, best = champion_val_acc(swept)
    assert registry(swept).get_model_version(STUDY, version).run_id == run_id
    assert best > champion_best and "is now @champion" in result.stdout


LOAD_AND_PREDICT = """
import sys
from pathlib import Path

import mlflow.pytorch
import torch

model = mlflow.pytorch.load_model("models:/promo@champion")
root = Path(sys.argv[1])
classes = []
for utterance in (root / "test_split.txt").read_text().split():
    features = torch.load(root / "feat" / "test" / f"{utterance}.pt", weights_only=True)
    with torch.no_grad():
        classes += model(features).argmax(1).tolist()
print("Id,Class", *(f"{frame},{c}" for frame, c in enumerate(classes)), sep="\\n")
assert "sweeper" not in sys.modules
"""


def test_the_champion_loads_in_a_fresh_process_and_predicts_the_same_csv(
    swept: Path, first: subprocess.CompletedProcess[str], tiny_corpus: Path
) -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(tiny_corpus)],
        cwd=swept,
        env={**os.environ, "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    client = registry(swept)
    champion = client.get_model_version_by_alias(STUDY, "champion")
    assert loaded.stdout == download(client, champion.run_id, "predictions.csv")


def test_bad_requests_fail_with_one_clear_line(swept: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{swept / 'sweeps.db'}"
    cases = {
        "nope": (None, 1, "no study named 'nope' in sqlite:///"),
        STUDY: (99, 1, f"--trial 99: study '{STUDY}' has no such trial (trials: 0..2)"),
    }
    for name, (trial, top, expected) in cases.items():
        request = PromoteRequest(name, storage, "sqlite:///unused.db", trial=trial, top=top)
        with pytest.raises(SweeperError, match=re.escape(expected)):
            promote(request, Console(file=io.StringIO()))
    with pytest.raises(SweeperError, match="--trial and --top exclude each other"):
        promote(
            PromoteRequest(STUDY, storage, "sqlite:///unused.db", trial=0, top=2),
            Console(file=io.StringIO()),
        )

    # a study whose only trial was pruned has nothing to promote
    pruned_only = f"sqlite:///{tmp_path / 'pruned.db'}"
    study = optuna.create_study(study_name="pruned-only", storage=pruned_only)
    study.set_user_attr("sweeper", {"epochs": 2})
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.PRUNED, intermediate_values={1: 0.1}
        )
    )
    with pytest.raises(SweeperError, match=r"has no COMPLETE trial to promote \(pruned 1\)"):
        promote(
            PromoteRequest("pruned-only", pruned_only, "sqlite:///unused.db"),
            Console(file=io.StringIO()),
        )

    # and the command prints such an error as one line, with no traceback and no file written
    result = sweeper("promote", "nope", "--out", tmp_path / "p.csv", cwd=swept, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: no study named 'nope' in sqlite:///sweeps.db (studies: {STUDY})"
    ]
    assert not (tmp_path / "p.csv").exists()


def promote_cache() -> Path:
    return Path(platformdirs.user_cache_dir("sweeper")) / "promote"


def promote_again(cwd: Path, epochs: int, out: str) -> tuple[str, ...]:
    """The arguments promoting the first promotion's trial again, with no early stopping."""
    trial = promoted_trial(cwd)
    return ("promote", STUDY, "--trial", trial, "--epochs", str(epochs), "--patience", "0",
            "--out", out)  # fmt: skip


def kill_after_first_epoch(cwd: Path, args: tuple[str, ...]) -> str:
    """Start `sweeper ARGS`, SIGKILL it once it has checkpointed; the id of its MLflow run."""
    proc = start_sweeper(*args, cwd=cwd)
    wait_for_checkpoint(proc)
    os.kill(proc.pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=30)
    started = re.search(r"started MLflow run (\w+)", stderr)
    assert started, stderr
    return started[1]


def wait_for_checkpoint(proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if list(promote_cache().glob(f"{STUDY}-*/full/checkpoint.pt")):
            return
        time.sleep(0.02)
    raise AssertionError("the promote run wrote no checkpoint in time")


def download(client: MlflowClient, run_id: str, path: str) -> str:
    return Path(client.download_artifacts(run_id, path)).read_text()


def test_a_second_promote_of_the_study_is_refused_while_one_runs(
    swept: Path, first: subprocess.CompletedProcess[str]
) -> None:
    args = promote_again(swept, epochs=5, out="fourth.csv")
    runs_before = {r.info.run_id for r in promote_runs(swept)}
    proc = start_sweeper(*args, cwd=swept)
    wait_for_checkpoint(proc)
    os.kill(proc.pid, signal.SIGSTOP)  # mid-run, for as long as the others take
    try:
        same = sweeper(*args, cwd=swept, check=False)
        other = sweeper(
            "promote", STUDY, "--epochs", "1", "--out", "other.csv", cwd=swept, check=False
        )
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    _, stderr = proc.communicate(timeout=300)

    assert proc.returncode == 0, stderr
    refusal = (
        f"error: another `sweeper promote` of study '{STUDY}' is running: "
        "wait for it to end, then run this again"
    )
    for refused in (same, other):
        assert refused.returncode == 2
        assert refused.stderr.splitlines() == [refusal], refused.stderr
    assert not (swept / "other.csv").exists()
    [run] = [r for r in promote_runs(swept) if r.info.run_id not in runs_before]
    assert run.info.status == "FINISHED"
    history = registry(swept).get_metric_history(run.info.run_id, "val_acc")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5]  # one run, each epoch once
    assert not list(promote_cache().glob(f"{STUDY}-*"))


def test_a_resumed_promote_whose_model_was_registered_registers_no_second_version(
    swept: Path, first: subprocess.CompletedProcess[str]
) -> None:
    args = promote_again(swept, epochs=4, out="fifth.csv")
    run_id = kill_after_first_epoch(swept, args)
    # the stopped promotion had got as far as registering its model, the step before its end
    client = registry(swept)
    model = client.get_logged_model(
        client.get_model_version(STUDY, "1").source.removeprefix("models:/")
    )
    registered = client.create_model_version(STUDY, model.artifact_location, run_id=run_id)

    result = sweeper(*args, cwd=swept)
    assert f"continuing MLflow run {run_id}" in result.stderr
    [version] = client.search_model_versions(f"run_id = '{run_id}'")
    assert version.version == registered.version
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["sweeper.model_version"] == f"{STUDY}/{registered.version}"
    assert float(version.tags["val_acc"]) == run.data.metrics["best_val_acc"]


def test_an_interrupted_top_k_does_not_retrain_a_finished_recheck(swept: Path) -> None:
    # registered apart, so the other tests' champion stays theirs
    args = ("promote", STUDY, "--top", "2", "--seeds", "2", "--top-scale", "2", "--epochs", "8",
            "--patience", "0", "--register-as", "promo-seeds", "--out", "sixth.csv")  # fmt: skip
    run_id = kill_after_first_epoch(swept, args)  # every recheck ran before the full run began
    [full] = promote_cache().glob(f"{STUDY}-*/full/checkpoint.pt")
    state = full.parent.parent
    rechecks = {p: p.stat().st_mtime_ns for p in state.glob("recheck-*/checkpoint.pt")}
    complete = [t for t in trials_of(swept, STUDY) if t.state.name == "COMPLETE"]
    top_two = sorted(t.number for t in sorted(complete, key=lambda t: -t.value)[:2])
    assert sorted(p.parent.name for p in rechecks) == [
        f"recheck-{trial}-seed-{seed}" for trial in top_two for seed in (0, 1)
    ]

    proc = start_sweeper(*args, cwd=swept)
    written = full.stat().st_mtime_ns
    deadline = time.monotonic() + 120
    while full.stat().st_mtime_ns == written:  # the full run's next epoch: past the rechecks
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    assert {p: p.stat().st_mtime_ns for p in rechecks} == rechecks
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"continuing MLflow run {run_id}" in stderr
