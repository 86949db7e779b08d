"""Which GPU and how many threads each worker of `sweeper run --gpus/--per-gpu` gets."""

from __future__ import annotations

import re

import pytest

from sweeper.process.placement import PlacementError, check_flags, place_workers, resolve_gpus


def test_per_gpu_workers_share_each_gpu_and_divide_the_cores() -> None:
    placements = place_workers(workers=1, cpus=16, gpus=["0", "1"], per_gpu=2)
    assert [p.env() for p in placements] == [
        {"SWEEPER_WORKER_INDEX": "0", "SWEEPER_THREADS": "4", "CUDA_VISIBLE_DEVICES": "0"},
        {"SWEEPER_WORKER_INDEX": "1", "SWEEPER_THREADS": "4", "CUDA_VISIBLE_DEVICES": "1"},
        {"SWEEPER_WORKER_INDEX": "2", "SWEEPER_THREADS": "4", "CUDA_VISIBLE_DEVICES": "0"},
        {"SWEEPER_WORKER_INDEX": "3", "SWEEPER_THREADS": "4", "CUDA_VISIBLE_DEVICES": "1"},
    ]


def test_cpu_workers_are_not_pinned_and_get_at_least_one_thread() -> None:
    placements = place_workers(workers=3, cpus=2)
    assert [p.env() for p in placements] == [
        {"SWEEPER_WORKER_INDEX": str(i), "SWEEPER_THREADS": "1"} for i in range(3)
    ]
    assert place_workers(workers=2, cpus=16, threads=3)[1].threads == 3  # SWEEPER_THREADS


def test_gpu_indices_count_the_gpus_this_process_sees() -> None:
    assert resolve_gpus("0,1", count=2, visible=None) == ["0", "1"]
    assert resolve_gpus("all", count=3, visible=None) == ["0", "1", "2"]
    # under CUDA_VISIBLE_DEVICES=2,3 the process's GPU 1 is the machine's GPU 3
    assert resolve_gpus("1", count=2, visible="2,3") == ["3"]
    assert resolve_gpus("0", count=1, visible="GPU-5f1c") == ["GPU-5f1c"]


@pytest.mark.parametrize(
    ("flag", "count", "message"),
    [
        ("0", 0, "--gpus 0: this machine has no CUDA GPU"),
        ("all", 0, "--gpus all: this machine has no CUDA GPU"),
        ("0,2", 2, "--gpus 0,2: no GPU 2 on this machine (2 GPUs: 0..1)"),
        ("-1", 1, "--gpus -1: no GPU -1"),
        ("0,0", 1, "a GPU is named twice"),
        ("zero", 1, "--gpus 'zero': expected GPU indices"),
    ],
)
def test_gpus_that_do_not_exist_are_refused(flag: str, count: int, message: str) -> None:
    with pytest.raises(PlacementError, match=re.escape(message)):
        resolve_gpus(flag, count=count, visible=None)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"workers": 1, "gpus": None, "per_gpu": 2, "device": "auto"}, "--per-gpu needs --gpus"),
        ({"workers": 1, "gpus": "0", "per_gpu": 1, "device": "cpu"}, "--device cpu"),
        ({"workers": 3, "gpus": "0", "per_gpu": 1, "device": "auto"}, "drop --workers"),
    ],
)
def test_flag_combinations_without_a_meaning_are_refused(flags: dict, message: str) -> None:
    with pytest.raises(PlacementError, match=message):
        check_flags(**flags)
