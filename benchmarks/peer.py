"""sweeper against the plain script a student writes (benchmarks/peer_script.py), side by side.

    .venv/bin/python -m benchmarks.peer [--rows a,b,c] [--reps 2] [--load] [--data DIR]
    .venv/bin/python -m benchmarks.peer --quick --data DIR     # a smoke test: seconds

Both tools run the same configs in one invocation, alternating (the first tool swaps each
repetition), each in a fresh directory: the plain script replays them by index with Optuna's
grid sampler, `sweeper run` with a study file of the same grid, pruner none; both train on the
same subset (the study's seeded utterances) with the same threads. Rows:
  (a) the 20 MLP configs of a quick sweep (studies/quick.py's search space, sampled with a
      seeded random sampler), 30k train / 3k val frames, 5 epochs;
  (b) MLPs at n = 41 and n = 81 on the 60k subset, 5 epochs;
  (c) rnn-window and rnn-seq configs, 30k frames, 3 epochs.
Reported per row, the median over repetitions: sweep time (first trial start to last trial end,
from each tool's Optuna storage), whole-command time, best val_acc. With --load, a busy-loop
process runs on the machine throughout (another CPU-heavy job).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from sweeper.data import course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.process.wait_policy import usable_cores, users_environ
from sweeper.study.spec import StudySpec, load_study_file

ROOT = Path(__file__).resolve().parent.parent
QUICK = ROOT / "studies" / "quick.py"
TOOLS = ("plain", "sweeper")
STUDY_FILE = """
import json

import optuna

from sweeper import StudySpec

CONFIGS = json.loads({configs!r})
study = StudySpec(train_frames={train_frames}, val_frames={val_frames}, epochs={epochs},
                  sampler="grid", grid={{"index": list(range(len(CONFIGS)))}}, pruner="none")


def search_space(trial: optuna.Trial) -> dict:
    return dict(CONFIGS[trial.suggest_categorical("index", list(range(len(CONFIGS))))])
"""


@dataclass(frozen=True)
class Row:
    name: str
    configs: list[dict[str, Any]]
    train_frames: int
    val_frames: int
    epochs: int


def quick_configs(count: int) -> list[dict[str, Any]]:
    """`count` configs of studies/quick.py's search space, as its first trials draw them."""
    space = load_study_file(QUICK).search_space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [space(study.ask()) for _ in range(count)]


def rows(quick: bool) -> dict[str, Row]:
    wide = [
        {"family": "mlp", "n": n, "layers": 2, "hidden": hidden, "lr": 1e-3, "batch_size": 512}
        for n in (41, 81)
        for hidden in (256, 512)
    ]
    rnn = [
        {"family": "rnn-window", "n": 11, "layers": 1, "hidden": 64, "lr": 3e-3},
        {"family": "rnn-window", "n": 11, "layers": 2, "hidden": 128, "lr": 2e-3},
        {"family": "rnn-seq", "n": 1, "layers": 2, "hidden": 64, "lr": 3e-3},
        {"family": "rnn-seq", "n": 3, "layers": 1, "hidden": 128, "lr": 2e-3},
    ]
    if quick:  # two small configs a row, one epoch, on a few thousand frames
        small = {"hidden": 32, "layers": 1}
        return {
            "a": Row("a: quick MLPs", quick_configs(2), 2_000, 500, 1),
            "b": Row("b: MLP n=41,81", [{**c, **small} for c in wide[::2]], 2_000, 500, 1),
            "c": Row("c: rnn", [{**c, **small} for c in rnn[1::2]], 2_000, 500, 1),
        }
    return {
        "a": Row("a: quick MLPs, 30k", quick_configs(20), 30_000, 3_000, 5),
        "b": Row("b: MLP n=41,81, 60k", wide, 60_000, 3_000, 5),
        "c": Row("c: rnn-window, rnn-seq, 30k", rnn, 30_000, 3_000, 3),
    }


@dataclass(frozen=True)
class Result:
    sweep_s: float  # first trial start to last trial end
    command_s: float
    best: float


def run_tool(tool: str, row: Row, data: Path, threads: int, cwd: Path) -> Result:
    """One sweep of `row` by `tool` in the empty directory `cwd`."""
    env = {**users_environ(), "PYTHONPATH": str(ROOT), "SWEEPER_THREADS": str(threads)}
    if tool == "plain":
        corpus = load_corpus(data)
        spec = StudySpec(train_frames=row.train_frames, val_frames=row.val_frames)
        train_all, val_all = course_split(
            corpus.train, seed=spec.split_seed, ratio=spec.train_ratio
        )
        plan = {
            "data": str(corpus.root),
            "configs": row.configs,
            "epochs": row.epochs,
            "threads": threads,
            "train_ids": subset(train_all, row.train_frames, seed=spec.subset_seed).utt_ids,
            "val_ids": subset(val_all, row.val_frames, seed=spec.subset_seed).utt_ids,
        }
        (cwd / "plan.json").write_text(json.dumps(plan))
        command = [sys.executable, str(ROOT / "benchmarks" / "peer_script.py"), "plan.json"]
        storage, name = f"sqlite:///{cwd / 'optuna.db'}", "peer"
    else:
        study = STUDY_FILE.format(
            configs=json.dumps(row.configs),
            train_frames=row.train_frames,
            val_frames=row.val_frames,
            epochs=row.epochs,
        )
        (cwd / "peer.py").write_text(study)
        command = [sys.executable, "-m", "sweeper", "run", "peer.py", "--data", str(data)]
        storage, name = f"sqlite:///{cwd / 'sweeps.db'}", "peer"
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    command_s = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{tool} failed on row {row.name}:\n{done.stderr[-3000:]}")
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) != len(row.configs):
        sys.exit(f"{tool} on row {row.name}: {len(complete)} of {len(row.configs)} trials ended")
    first = min(t.datetime_start for t in complete if t.datetime_start)
    last = max(t.datetime_complete for t in complete if t.datetime_complete)
    return Result((last - first).total_seconds(), command_s, max(t.value or 0 for t in complete))


def measure(row: Row, data: Path, threads: int, reps: int) -> dict[str, list[Result]]:
    """`reps` sweeps by each tool, alternating; the one going first swaps every repetition."""
    results: dict[str, list[Result]] = {tool: [] for tool in TOOLS}
    for rep in range(reps):
        for tool in TOOLS if rep % 2 == 0 else TOOLS[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                result = run_tool(tool, row, data, threads, Path(tmp))
            results[tool].append(result)
            print(
                f"  {row.name}, rep {rep + 1}, {tool}: sweep {result.sweep_s:.1f} s, "
                f"command {result.command_s:.1f} s, best {result.best:.4f}",
                flush=True,
            )
    return results


def table(measured: dict[str, dict[str, list[Result]]]) -> None:
    print(
        f"\n{'row':32} {'sweep: plain':>12} {'sweeper':>8} {'ratio':>6}"
        f"  {'command: plain':>14} {'sweeper':>8} {'ratio':>6}  {'best: plain':>11} {'sweeper':>8}"
    )
    for name, results in measured.items():
        sweep = {tool: statistics.median(r.sweep_s for r in results[tool]) for tool in TOOLS}
        command = {tool: statistics.median(r.command_s for r in results[tool]) for tool in TOOLS}
        best = {tool: statistics.median(r.best for r in results[tool]) for tool in TOOLS}
        print(
            f"{name:32} {sweep['plain']:10.1f} s {sweep['sweeper']:6.1f} s "
            f"{sweep['plain'] / sweep['sweeper']:5.2f}x"
            f"  {command['plain']:12.1f} s {command['sweeper']:6.1f} s "
            f"{command['plain'] / command['sweeper']:5.2f}x"
            f"  {best['plain']:11.4f} {best['sweeper']:8.4f}"
        )
    print("ratio: plain / sweeper (above 1: sweeper is faster); medians over the repetitions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="a,b,c", help="which rows, e.g. a or a,c")
    parser.add_argument("--reps", type=int, default=2, help="sweeps by each tool, each row")
    parser.add_argument("--load", action="store_true", help="a busy-loop process alongside")
    parser.add_argument("--data", type=Path, default=None, help="default: the embedded corpus")
    parser.add_argument("--threads", type=int, default=len(usable_cores()), help="torch threads")
    parser.add_argument("--quick", action="store_true", help="tiny rows, one rep: a smoke test")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chosen = args.rows.split(",")
    available = rows(args.quick)
    if unknown := [name for name in chosen if name not in available]:
        parser.error(f"--rows: no row {unknown[0]!r} (rows: {', '.join(available)})")
    reps = 1 if args.quick else args.reps
    data = resolve_data_dir(args.data)
    load = None
    if args.load:
        load = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    print(
        f"{reps} rep(s) a tool a row, {args.threads} threads, on {len(usable_cores())} cores"
        + (", with a busy-loop process alongside" if load else ""),
        flush=True,
    )
    try:
        measured = {
            available[name].name: measure(available[name], data, args.threads, reps)
            for name in chosen
        }
    finally:
        if load is not None:
            load.kill()
            load.wait()
    table(measured)


if __name__ == "__main__":
    main()
