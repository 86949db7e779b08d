"""Does a sweep beat hand tuning? Three answers measured in one run, on the embedded corpus.

(a) The sweep's promoted config (its best trial, what `sweeper promote` retrains) against each
    hand-made recipe (the course's sample code and the students' two MLPs), all trained with
    the same final budget (train frames, epochs; each keeps its own optimiser settings), 2
    seeds each, scored on the test split.
(b) Best val_acc against wall clock, same trial budget, `--seeds` sampler seeds each: sweeper
    (TPE + Hyperband, the recipes queued first as baselines), random search without pruning,
    and TPE with Optuna's MedianPruner defaults (the plain peer, no baselines). All through
    `sweeper run --sampler --pruner`, so only the search settings differ.
(c) What the study's pruner saves and what it would have lost: replayed on the curves of the
    random, unpruned sweeps (the same trials, every epoch trained), the epochs it would have
    trained and whether the best trial survives, with standard errors.

Every sweep is a real `sweeper run` of a study file written from STUDY below: an MLP space sized
for 2 CPU cores (a 20k-frame subset, 5 epochs, at most 6M parameters), which the recipes fit.

    python -m benchmarks.search [--trials 20] [--seeds 2] [--final-frames 60000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.table import Table

from benchmarks.corpus_ladder import spread
from sweeper.data import course_split, load_corpus, subset
from sweeper.data.defaults import resolve_data_dir
from sweeper.study.record import CONFIG, VAL_ACC_SE
from sweeper.study.spec import load_study_file
from sweeper.sweep.strategy import make_pruner
from sweeper.training.loop import predict, train

FIXED = {"family": "mlp", "optimizer": "adamw"}
# the recipes' shared settings: AdamW at the course's 1e-4 with its default weight decay
HAND = {"lr": 1e-4, "weight_decay": 1e-2, "batch_size": 512, "scheduler": "none"}
# (name, params in the study's names): the course's sample code, then the students' MLPs
RECIPES: list[tuple[str, dict[str, Any]]] = [
    ("sample code: MLP 1x256, n=1", {"n": 1, "layers": 1, "hidden": 256, "dropout": 0.0}),
    ("student: MLP 2x1750, n=17", {"n": 17, "layers": 2, "hidden": 1750, "dropout": 0.25}),
    ("student: MLP 6x1024, n=17", {"n": 17, "layers": 6, "hidden": 1024, "dropout": 0.25}),
]
STUDY = """
import optuna

from sweeper import StudySpec

study = StudySpec(
    train_frames={train_frames}, epochs={epochs}, max_params=6_000_000, baselines={baselines},
    fixed={fixed},
)


def search_space(trial: optuna.Trial) -> dict:
    return {{
        "n": trial.suggest_int("n", 1, 31, step=2),
        "layers": trial.suggest_int("layers", 1, 6),
        "hidden": trial.suggest_int("hidden", 128, 2048, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [256, 512]),
        "scheduler": trial.suggest_categorical("scheduler", ["none", "cosine"]),
    }}
"""
# (name, --sampler, --pruner, with the recipes as baselines)
STRATEGIES = [
    ("sweeper", "tpe", "hyperband", True),
    ("random", "random", "none", False),
    ("optuna + median", "tpe", "median", False),
]


@dataclass
class Sweep:
    strategy: str
    seed: int
    wall: float  # the command's seconds
    trials: list[FrozenTrial]
    started: float  # the first trial's start, as a timestamp

    def finished(self) -> list[FrozenTrial]:
        return [t for t in self.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]

    def best(self, within: float = float("inf")) -> FrozenTrial | None:
        done = [t for t in self.trials if t.state == TrialState.COMPLETE and self.at(t) <= within]
        return max(done, key=lambda t: t.value or 0.0, default=None)

    def at(self, trial: FrozenTrial) -> float:
        assert trial.datetime_complete is not None
        return trial.datetime_complete.timestamp() - self.started


def run_sweep(root: Path, strategy: tuple[str, str, str, bool], seed: int, args: Any) -> Sweep:
    name, sampler, pruner, with_baselines = strategy
    cwd = root / f"{name.replace(' ', '-').replace('+', 'and')}-{seed}"
    cwd.mkdir()
    baselines = [{**HAND, **params} for _, params in RECIPES] if with_baselines else []
    study_file = cwd / "search.py"
    study_file.write_text(
        STUDY.format(
            train_frames=args.train_frames, epochs=args.epochs, baselines=baselines, fixed=FIXED
        )
    )
    command = [sys.executable, "-m", "sweeper", "run", str(study_file), "--trials"]
    command += [str(args.trials), "--seed", str(seed), "--sampler", sampler, "--pruner", pruner]
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - started
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{cwd / 'sweeps.db'}")
    trials = study.get_trials()
    first = min(t.datetime_start.timestamp() for t in trials if t.datetime_start is not None)
    return Sweep(name, seed, wall, trials, first)


def value_se(trial: FrozenTrial | None) -> str:
    if trial is None:
        return "-"
    return f"{trial.value:.4f} ± {trial.user_attrs.get(VAL_ACC_SE, float('nan')):.4f}"


def replay(sweep: Sweep, spec: Any) -> tuple[int, int, FrozenTrial, FrozenTrial | None]:
    """The study's own pruner run over the unpruned sweep's curves, trial by trial in order:
    (epochs it would train, epochs trained, the best trial, the best it would keep)."""
    study = optuna.create_study(
        direction="maximize", pruner=make_pruner(spec.pruner, spec), study_name="search"
    )
    kept: list[FrozenTrial] = []
    would, did = 0, 0
    trained = [t for t in sweep.finished() if t.intermediate_values]  # not over max_params
    for original in sorted(trained, key=lambda t: t.number):
        trial = study.ask()
        curve = sorted(original.intermediate_values.items())
        did += len(curve)
        for epoch, value in curve:
            would += 1
            trial.report(value, epoch)
            if trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                break
        else:
            study.tell(trial, original.value)
            kept.append(original)
    best = max(trained, key=lambda t: t.value or 0.0)
    return would, did, best, max(kept, key=lambda t: t.value or 0.0, default=None)


def final_accuracy(config: dict[str, Any], args: Any, splits: Any) -> list[float]:
    train_part, val_part, test = splits
    accuracies = []
    for seed in range(2):
        run = {**config, "epochs": args.final_epochs, "seed": seed}
        result = train(run, train_part, val_part)
        predicted = predict(result.model, run, test)
        accuracies.append((predicted == test.labels).float().mean().item())
    return accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=2, help="sampler seeds for each strategy")
    parser.add_argument("--train-frames", type=int, default=20_000, help="the sweep's subset")
    parser.add_argument("--epochs", type=int, default=5, help="a trial's epochs")
    parser.add_argument("--final-frames", type=int, default=60_000, help="(a)'s train subset")
    parser.add_argument("--final-epochs", type=int, default=8, help="(a)'s epochs")
    args = parser.parse_args()
    console = Console(width=160)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        sweeps = []
        for seed in range(args.seeds):
            for strategy in STRATEGIES:
                sweeps.append(run_sweep(Path(tmp), strategy, seed, args))
                done = sweeps[-1]
                console.print(
                    f"{done.strategy}, seed {seed}: best {value_se(done.best())} "
                    f"in {done.wall:.0f} s"
                )
        spec = load_study_file(Path(tmp) / "sweeper-0" / "search.py").spec

    horizon = max(s.at(t) for s in sweeps for t in s.finished())
    marks = [horizon * f for f in (0.25, 0.5, 1.0)]
    table = Table(title=f"(b) best val_acc ± se against wall clock, {args.trials} trials")
    for column in ("strategy", "seed", "complete / pruned / over max_params", "epochs trained",
                   "command s",
                   *(f"best by {m:.0f} s" for m in marks)):  # fmt: skip
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for sweep in sweeps:
        states = [t.state for t in sweep.trials]
        epochs = sum(len(t.intermediate_values) for t in sweep.trials)
        untrained = sum(1 for t in sweep.trials if not t.intermediate_values)
        table.add_row(
            sweep.strategy, str(sweep.seed),
            f"{states.count(TrialState.COMPLETE)} / "
            f"{states.count(TrialState.PRUNED) - untrained} / {untrained}",
            str(epochs), f"{sweep.wall:.0f}", *(value_se(sweep.best(m)) for m in marks),
        )  # fmt: skip
    console.print(table)
    for name, *_ in STRATEGIES:
        bests = [s.best() for s in sweeps if s.strategy == name]
        values = [t.value for t in bests if t is not None and t.value is not None]
        console.print(f"  {name}: mean best {statistics.mean(values):.4f} over {len(values)} seeds")

    table = Table(title=f"(c) the study's pruner ({spec.pruner}) replayed on the random sweeps")
    for column in ("seed", "epochs it trains / all", "best trial", "best it keeps", "lost"):
        table.add_column(column, justify="right")
    for sweep in (s for s in sweeps if s.strategy == "random"):
        would, did, best, kept = replay(sweep, spec)
        lost = 0.0 if kept is None else (best.value or 0.0) - (kept.value or 0.0)
        table.add_row(
            str(sweep.seed), f"{would} / {did} = {would / did:.0%}",
            f"#{best.number} {value_se(best)}",
            f"#{kept.number} {value_se(kept)}" if kept else "-", f"{100 * lost:.2f} points",
        )  # fmt: skip
    console.print(table)

    corpus = load_corpus(resolve_data_dir(None))
    train_all, val_all = course_split(corpus.train)
    splits = (subset(train_all, args.final_frames, seed=0), val_all, corpus.test)
    promoted = next(s for s in sweeps if s.strategy == "sweeper").best()
    assert promoted is not None
    contenders = [(f"sweeper's promoted trial #{promoted.number}", promoted.user_attrs[CONFIG])]
    contenders += [(name, {**FIXED, **HAND, **params}) for name, params in RECIPES]
    table = Table(
        title=f"(a) test accuracy, {args.final_frames:,} train frames, {args.final_epochs} "
        "epochs, best val epoch, seeds 0 and 1"
    )
    for column in ("config", "test acc (mean ± half range)", "promoted minus it"):
        table.add_column(column, justify="left" if column == "config" else "right")
    results = [(name, final_accuracy(config, args, splits)) for name, config in contenders]
    top = statistics.mean(results[0][1])
    for name, accuracies in results:
        mean = statistics.mean(accuracies)
        gap = "" if name == results[0][0] else f"{100 * (top - mean):+.1f} points"
        table.add_row(name, f"{mean:.4f} ± {spread(accuracies):.4f}", gap)
        console.print(f"{name}: {accuracies}")
    console.print(table)
    console.print(f"promoted config: {promoted.user_attrs[CONFIG]}")
    console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
