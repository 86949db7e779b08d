"""On a CUDA GPU (skipped elsewhere): cuDNN's path matches the CPU one, checkpoints cross
devices, a real out-of-memory error is named and released, `--gpus` pins and tags workers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from sweeper.models import build_model
from sweeper.models.families import SequenceRNN
from sweeper.training import GPUOutOfMemoryError, predict, train
from tests.cli import sweeper
from tests.test_run import mlflow_runs, states, trials_of, write_study
from tests.test_train import clustered_split

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")

SEQ = {"family": "rnn-seq", "n": 3, "hidden": 32, "layers": 2, "dropout": 0.0, "batch_size": 4}


def test_cudnn_path_on_the_gpu_matches_the_cpu_path() -> None:
    torch.manual_seed(0)
    cpu_model = build_model(SEQ)
    gpu_model = build_model(SEQ)
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.cuda()
    lengths = torch.tensor([40, 7, 23, 1])
    x = torch.randn(4, 40, 39 * 3)
    previous = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # compare full float32 with full float32
    try:
        outputs = []
        for model, inputs in ((cpu_model, x), (gpu_model, x.cuda())):
            logits = model(inputs, lengths)
            logits.square().mean().backward()
            grads = {name: p.grad.cpu() for name, p in model.named_parameters()}
            outputs.append((logits.detach().cpu(), grads))
    finally:
        torch.backends.cudnn.allow_tf32 = previous
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=1e-4, atol=1e-5)
    for name, grad in outputs[0][1].items():
        torch.testing.assert_close(outputs[1][1][name], grad, rtol=1e-3, atol=1e-5)


def test_under_bf16_autocast_cudnns_rnn_stays_float32() -> None:
    # autocast would hand cuDNN's RNN float16, and a bf16 run scales no loss to protect it
    model = build_model(SEQ).cuda()
    seen: list[torch.dtype] = []
    model.head.register_forward_pre_hook(lambda _, args: seen.append(args[0].dtype))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        model(torch.randn(4, 40, 39 * 3, device="cuda"), torch.tensor([40, 7, 23, 1]))
    assert seen == [torch.float32]


def test_a_model_trained_on_the_gpu_loads_and_predicts_on_the_cpu() -> None:
    train_split, val_split = clustered_split("train", 24, seed=1), clustered_split("val", 6, seed=2)
    config = {**SEQ, "epochs": 2}
    trained = train(config, train_split, val_split, device="cuda").model
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)
    on_cpu = build_model(config)
    on_cpu.load_state_dict(torch.load(buffer, map_location="cpu", weights_only=True))
    assert isinstance(on_cpu, SequenceRNN)
    agree = predict(on_cpu, config, val_split, device="cpu") == predict(
        trained, config, val_split, device="cuda"
    )
    assert agree.float().mean() >= 0.99


def test_default_precision_is_bf16_with_tf32_for_the_run_only() -> None:
    train_split, val_split = clustered_split("train", 24, seed=1), clustered_split("val", 6, seed=2)
    before = torch.get_float32_matmul_precision()
    run = train({**SEQ, "epochs": 1}, train_split, val_split, device="cuda")
    assert torch.get_float32_matmul_precision() == before
    assert run.history[0].gpu_memory_peak_mb is not None and run.history[0].gpu_memory_peak_mb > 0


def test_a_real_out_of_memory_error_names_the_batch_size_and_frees_the_cache() -> None:
    train_split, val_split = clustered_split("train", 24, seed=1), clustered_split("val", 6, seed=2)
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(2**30 / total)  # a 1 GiB GPU
    try:
        # a 3 x 8192 MLP needs more than 2 GiB for its weights, gradients and Adam's state
        huge = {"family": "mlp", "n": 1, "layers": 3, "hidden": 8192, "batch_size": 512}
        with pytest.raises(GPUOutOfMemoryError, match="CUDA out of memory at batch size 512"):
            train({**huge, "epochs": 1}, train_split, val_split, device="cuda")
        assert torch.cuda.memory_allocated() < 2**20
        assert torch.cuda.memory_reserved() < 2**25  # the cache was handed back
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    run = train({**SEQ, "epochs": 1}, train_split, val_split, device="cuda")
    assert run.epochs_run == 1  # the next run has its memory back


def test_two_workers_on_gpu_0_are_pinned_and_every_trial_tagged(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    write_study(tmp_path / "gpus.py")
    result = sweeper(
        "run",
        "gpus.py",
        "--trials",
        "4",
        "--gpus",
        "0",
        "--per-gpu",
        "2",
        "--data",
        tiny_corpus,
        cwd=tmp_path,
    )
    assert "2 worker(s)" in result.stderr and "2 per GPU on GPU(s) 0" in result.stderr
    assert states(trials_of(tmp_path, "gpus")) == ["COMPLETE"] * 4
    _, _, children = mlflow_runs(tmp_path, "gpus")
    devices = {r.data.tags["sweeper.device"] for r in children}
    name = torch.cuda.get_device_name(0)
    assert all(d.startswith(f"cuda:0 {name} (CUDA_VISIBLE_DEVICES=0)") for d in devices), devices
    for run in children:
        assert run.data.metrics["gpu_memory_peak_mb"] > 0


def test_a_gpu_beyond_the_machines_is_refused(tmp_path: Path, tiny_corpus: Path) -> None:
    write_study(tmp_path / "gpus.py")
    count = torch.cuda.device_count()
    result = sweeper(
        "run", "gpus.py", "--gpus", str(count), "--data", tiny_corpus, cwd=tmp_path, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: --gpus {count}: no GPU {count} on this machine "
        f"({count} GPU{'s' if count > 1 else ''}: 0..{count - 1})"
    )
