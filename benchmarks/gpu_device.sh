#!/usr/bin/env bash
# Issue 18's GPU checks, in one go. Run from the repository root on a CUDA
# machine (written for 1 x H200, 16 cores), with no network: everything comes from the working
# tree and its .venv, which must hold a CUDA build of torch (the CPU wheel sees no GPU; the
# script stops at once, saying so). All output goes under $OUT (default ./gpu-out).
#
#   OUT=/some/dir bash benchmarks/gpu_device.sh      # about 8 minutes
set -u
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
# the corpus cache stays out of $OUT (tens of MB); MLflow sends nothing anywhere
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/sweeper-gpu-cache}
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true COLUMNS=200 PYTHONUNBUFFERED=1

{ date; nvidia-smi; nproc; } > "$OUT/machine.txt" 2>&1
if ! .venv/bin/python - > "$OUT/torch.txt" 2>&1 <<'PY'
import sys

import torch

print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if not torch.cuda.is_available():
    sys.exit("this .venv's torch sees no CUDA GPU: install a CUDA build of torch into it")
print(torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported(including_emulation=False))
PY
then
    cat "$OUT/torch.txt"
    exit 1
fi
cat "$OUT/torch.txt"

# 1. the GPU tests, and the CPU tests of what the GPU path relies on (about 2 minutes)
timeout 300 .venv/bin/pytest -q -p no:cacheprovider -rs \
    tests/test_gpu.py tests/test_sequence_paths.py tests/test_placement.py \
    tests/test_data_buckets.py > "$OUT/tests.txt" 2>&1
echo "pytest exit $?" >> "$OUT/tests.txt"
tail -5 "$OUT/tests.txt"

# 2. the benchmark on GPU 0: (a) rnn-seq and (b) MLP against their floors, (c) trials per hour
#    at 1, 2 and 4 trials per GPU, (d) peak memory (about 5 minutes)
timeout 480 .venv/bin/python -m benchmarks.gpu --device cuda:0 > "$OUT/gpu_benchmark.txt" 2>&1
echo "benchmark exit $?" >> "$OUT/gpu_benchmark.txt"
cat "$OUT/gpu_benchmark.txt"
