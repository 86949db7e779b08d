#!/usr/bin/env bash
# sweeper on the lent GPU machine in one go (docs/gpu.md): install the GPU kit, make the embedded
# corpus, then the GPU tests, benchmarks/gpu.py and the headline (`sweeper run studies/lstm.py
# --gpus 0 --per-gpu K` under a short --time-budget), in about 8 minutes. Run from the
# repository root, with gpu-kit/ (`make gpu-kit`) beside it:
#
#   bash benchmarks/gpu_device.sh                     # there: its Python, torch and a GPU
#   GPU_MODE=cpu PYTHON=.../python bash benchmarks/gpu_device.sh   # here: `make gpu-rehearsal`
#
# The machine has no network: everything sweeper needs beyond what it has comes from the kit,
# installed with no index into $SITE and put on PYTHONPATH with the working tree. In CPU mode
# the same steps run on the CPU, sized for 2 cores: the GPU tests skip, the benchmark and the
# headline run small. Results, 7 files (the run tool brings back at most 8), go to $OUT:
#   machine.txt setup.txt tests.txt benchmark.txt headline.txt  each step's whole output
#   figures.json  the benchmark's and the headline's figures, each step's exit and seconds
#   log.txt       the steps' one-line outcomes
# Exit 0 when every step passed. Each step has a time limit (seconds, overridable below), and
# all together end within $DEADLINE seconds (9 minutes on the GPU: the run tool allows 10), a
# step that would run past it being cut short, so that figures.json is always written.
set -u -o pipefail
ROOT=$(pwd)
MODE=${GPU_MODE:-gpu}
PYTHON=${PYTHON:-/opt/torch/.venv/bin/python3}
case $PYTHON in */*) PYTHON=$(realpath -s "$PYTHON") ;; esac  # the headline runs elsewhere
OUT=${OUT:-$ROOT/gpu-out}
SITE=${SITE:-/tmp/sweeper-site}
WORK=${WORK:-/tmp/sweeper-gpu-work}
if [ "$MODE" = cpu ]; then  # 2 loaded cores here: roomier limits
    DEADLINE=${DEADLINE:-1500}
    LIMIT_SETUP=${LIMIT_SETUP:-240}
    LIMIT_TESTS=${LIMIT_TESTS:-300}
    LIMIT_BENCHMARK=${LIMIT_BENCHMARK:-480}
    BUDGET=${BUDGET:-1m}
    PER_GPU=${PER_GPU:-2}
    TEST_WORKERS=${TEST_WORKERS:-2}
    BENCHMARK_ARGS=(--device cpu --frames 2000 --repeats 1 --levels 1,2 --studies quick --trials 2)
    HEADLINE_ARGS=(--device cpu --workers "$PER_GPU")
else
    DEADLINE=${DEADLINE:-540}
    LIMIT_SETUP=${LIMIT_SETUP:-90}
    LIMIT_TESTS=${LIMIT_TESTS:-120}
    LIMIT_BENCHMARK=${LIMIT_BENCHMARK:-210}
    BUDGET=${BUDGET:-2m}
    PER_GPU=${PER_GPU:-4}
    TEST_WORKERS=${TEST_WORKERS:-4}
    BENCHMARK_ARGS=(--device cuda:0 --repeats 2 --studies quick --trials 8)
    HEADLINE_ARGS=(--gpus 0 --per-gpu "$PER_GPU")
fi
# the budget (in minutes) stops the sweep at the next epoch's end: some grace for that epoch
LIMIT_HEADLINE=${LIMIT_HEADLINE:-$((${BUDGET%m} * 60 + 45))}

mkdir -p "$OUT"
rm -rf "$WORK" && mkdir -p "$WORK/headline"
# the corpus cache stays out of $OUT (30 MB); MLflow sends nothing anywhere
export XDG_CACHE_HOME=$WORK/cache MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
export COLUMNS=200 PYTHONUNBUFFERED=1 PYTHONPATH=$SITE:$ROOT
: > "$OUT/log.txt"
: > "$WORK/steps.tsv"
failed=0

# step NAME LIMIT FILE COMMAND...: COMMAND's output into $OUT/FILE, its outcome into log.txt
step() {
    local name=$1 limit=$2 file=$3 started=$SECONDS rc
    shift 3
    local left=$((DEADLINE - SECONDS - 15))  # 15 s for the last words and figures.json
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -le 0 ]; then
        echo "$name: SKIPPED, the deadline has passed" | tee -a "$OUT/log.txt"
        failed=1
        return 1
    fi
    echo "== $name (at most $limit s)" >> "$OUT/$file"
    timeout --kill-after=15 "$limit" "$@" >> "$OUT/$file" 2>&1
    rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - started))" >> "$WORK/steps.tsv"
    local outcome="exit $rc"
    [ "$rc" = 124 ] && outcome="TIMED OUT"
    echo "$name: $outcome after $((SECONDS - started)) s" | tee -a "$OUT/log.txt"
    [ "$rc" = 0 ] || failed=1
    return "$rc"
}

{ date; nproc; nvidia-smi; } > "$OUT/machine.txt" 2>&1
step torch 60 machine.txt "$PYTHON" - "$MODE" <<'PY' || { cat "$OUT/machine.txt"; exit 1; }
import sys

import torch

print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)
if sys.argv[1] == "gpu":
    if not torch.cuda.is_available():
        sys.exit("torch sees no CUDA GPU: on a machine without one, run with GPU_MODE=cpu")
    print(torch.cuda.get_device_name(0), "bf16", torch.cuda.is_bf16_supported(False))
PY

# The kit with no index and no dependency resolution: it was resolved when it was built.
rm -rf "$SITE"
step kit "$LIMIT_SETUP" setup.txt "$PYTHON" -m pip install --quiet --no-index --no-deps \
    --no-compile --no-cache-dir --target "$SITE" gpu-kit/*.whl || { cat "$OUT/setup.txt"; exit 1; }
# The kit was resolved against a list of the machine's packages, not the machine itself: a
# version there that a kit package refuses shows here (not fatal by itself).
{ echo "== pip check"; "$PYTHON" -m pip check; } >> "$OUT/setup.txt" 2>&1
step imports 60 setup.txt "$PYTHON" -c "import optuna, mlflow, sweeper.cli
print('optuna', optuna.__version__, 'mlflow', mlflow.__version__)" || { cat "$OUT/setup.txt"; exit 1; }
step corpus "$LIMIT_SETUP" setup.txt "$PYTHON" -c \
    "from sweeper.data.defaults import resolve_data_dir; print(resolve_data_dir(None))" ||
    { cat "$OUT/setup.txt"; exit 1; }

# The GPU tests, and the CPU tests of what the GPU path relies on.
step tests "$LIMIT_TESTS" tests.txt "$PYTHON" -m pytest -q -p no:cacheprovider -rs \
    -n "$TEST_WORKERS" --dist loadfile tests/test_gpu.py tests/test_sequence_paths.py \
    tests/test_placement.py tests/test_data_buckets.py
tail -n 3 "$OUT/tests.txt"

# rnn-seq and MLP epochs against their floors, the quick study's trials per hour at 1, 2 and 4
# per GPU, peak memory (the LSTM study's figures come from the headline).
step benchmark "$LIMIT_BENCHMARK" benchmark.txt "$PYTHON" -m benchmarks.gpu \
    "${BENCHMARK_ARGS[@]}" --json "$WORK/benchmark.json"
tail -n 25 "$OUT/benchmark.txt"

# The headline: the LSTM study on the GPU, K trials at once, under a short budget. On the CPU,
# the same search space over a small subset, so that an epoch ends within the budget.
study="$ROOT/studies/lstm.py"
if [ "$MODE" = cpu ]; then
    study="$WORK/lstm.py"
    cat > "$study" <<PY
"""The headline's rehearsal: studies/lstm.py's search space, sized for 2 CPU cores."""

import runpy

from sweeper import StudySpec

LSTM = runpy.run_path("$ROOT/studies/lstm.py")
study = StudySpec(train_frames=2_000, val_frames=1_000, epochs=2, pruner="none")


def search_space(trial):
    config = LSTM["search_space"](trial)
    small = {"layers": min(config["layers"], 2), "hidden": min(config["hidden"], 64)}
    return {**config, **small, "n": min(config["n"], 7)}
PY
fi
step headline "$LIMIT_HEADLINE" headline.txt env -C "$WORK/headline" "$PYTHON" -m sweeper run \
    "$study" "${HEADLINE_ARGS[@]}" --time-budget "$BUDGET" --seed 0
# what ran before the budget, or a time limit, ended the sweep
[ -f "$WORK/headline/sweeps.db" ] &&
    step projection 60 headline.txt "$PYTHON" -m benchmarks.gpu_headline lstm \
        --workdir "$WORK/headline" --per-gpu "$PER_GPU" --json "$WORK/headline.json"
tail -n 12 "$OUT/headline.txt"

"$PYTHON" - "$WORK" "$OUT/figures.json" "$MODE" <<'PY'
import json
import sys
from pathlib import Path

work, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
figures = {"mode": mode, "steps": {}}
for line in (work / "steps.tsv").read_text().splitlines():
    name, code, seconds = line.split("\t")
    figures["steps"][name] = {"exit": int(code), "seconds": int(seconds)}
for part in ("benchmark", "headline"):
    path = work / f"{part}.json"
    figures[part] = json.loads(path.read_text()) if path.exists() else None
out.write_text(json.dumps(figures, indent=2) + "\n")
PY
echo "results in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
exit "$failed"
