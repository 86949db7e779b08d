"""`sweeper run` and devices: GPU flags refused in one line, out-of-memory trials, device tags."""

from __future__ import annotations

import os
from pathlib import Path

from sweeper.study.record import FAIL_REASON
from tests.cli import sweeper
from tests.test_run import mlflow_runs, states, trials_of

OOM_STUDY = """
import optuna
import torch
from sweeper import StudySpec

study = StudySpec(train_frames=4_000, val_frames=1_000, epochs=2, sampler="random", pruner="none")


def _too_big(module, args):
    # a GPU with room for 256 frames a batch: a bigger batch fails as CUDA fails
    if type(module).__name__ == "MLP" and len(args[0]) > 256:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


torch.nn.modules.module.register_module_forward_pre_hook(_too_big)


def search_space(trial: optuna.Trial) -> dict:
    return {"family": "mlp", "n": 1, "layers": 1, "hidden": 16,
            "batch_size": 512 if trial.number == 1 else 256}
"""


def test_gpus_that_do_not_exist_are_one_line_and_touch_no_store(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    (tmp_path / "oom.py").write_text(OOM_STUDY)
    result = sweeper(
        "run", "oom.py", "--gpus", "0,99", "--data", tiny_corpus, cwd=tmp_path, check=False
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --gpus 0,99: "), result.stderr
    assert not (tmp_path / "sweeps.db").exists() and not (tmp_path / "mlflow.db").exists()


def test_an_out_of_memory_trial_fails_with_its_batch_size_and_the_sweep_goes_on(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    (tmp_path / "oom.py").write_text(OOM_STUDY)
    sweeper("run", "oom.py", "--trials", "3", "--data", tiny_corpus, cwd=tmp_path)

    trials = trials_of(tmp_path, "oom")
    assert states(trials) == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL"]
    failed = next(t for t in trials if t.state.name == "FAIL")
    assert failed.number == 1
    assert "CUDA out of memory at batch size 512" in failed.user_attrs[FAIL_REASON]
    _, _, children = mlflow_runs(tmp_path, "oom")
    run = next(r for r in children if r.data.tags["sweeper.trial"] == "1")
    assert run.info.status == "FAILED"
    assert "CUDA out of memory at batch size 512" in run.data.tags["sweeper.failure"]
    # the device each trial trained on, resolved: here the CPU and this worker's threads
    threads = os.cpu_count() or 1
    (device,) = {r.data.tags["sweeper.device"] for r in children}
    assert device.startswith(f"cpu, {threads} threads, OMP "), device
