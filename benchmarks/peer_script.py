"""The plain script a student writes for a sweep: the baseline of benchmarks/peer.py.

Optuna in SQLite replaying the plan's configs by index (a grid, no pruning), MLflow nested runs
logged by hand every epoch, and the course sample code's data path: each trial loads the
utterances' .pt files, materialises their windows with `concat_feat` and trains from a
DataLoader. The network and optimiser are sweeper's for the config, so both train the same;
torch is imported before sweeper, so OpenMP starts with the user's settings, not sweeper's.

    python benchmarks/peer_script.py PLAN.json   # writes optuna.db, mlflow.db, model.ckpt here
"""

import json
import sys
from pathlib import Path
from typing import Any

import mlflow
import optuna
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.data_pipeline import concat_feat  # the course sample code's
from sweeper.models import build_model, resolve_config

plan = json.loads(Path(sys.argv[1]).read_text())
root, configs = Path(plan["data"]), plan["configs"]
torch.set_num_threads(plan["threads"])
labels = {}
for line in (root / "train_labels.txt").read_text().splitlines():
    utt, *phones = line.split()
    labels[utt] = torch.LongTensor([int(p) for p in phones])


def load(ids: list[str], n: int, family: str, batch_size: int, shuffle: bool) -> DataLoader:
    xs = [concat_feat(torch.load(root / "feat" / "train" / f"{utt}.pt"), n) for utt in ids]
    ys = [labels[utt] for utt in ids]
    if family != "rnn-seq":
        return DataLoader(TensorDataset(torch.cat(xs), torch.cat(ys)), batch_size, shuffle=shuffle)

    def pad(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, ...]:
        x, y = zip(*batch, strict=True)
        lengths = torch.tensor([len(u) for u in x])
        return pad_sequence(x, batch_first=True), lengths, pad_sequence(y, True, -100)

    return DataLoader(list(zip(xs, ys, strict=True)), batch_size, shuffle=shuffle, collate_fn=pad)


def logits_of(model: nn.Module, batch: Any, family: str) -> tuple[torch.Tensor, torch.Tensor]:
    if family != "rnn-seq":
        x, y = batch
        return model(x), y
    x, lengths, y = batch
    mask = y != -100
    return model(x, lengths)[mask], y[mask]


def objective(trial: optuna.Trial) -> float:
    config = configs[trial.suggest_categorical("index", list(range(len(configs))))]
    cfg = resolve_config({**config, "epochs": plan["epochs"]})
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    train_loader = load(plan["train_ids"], cfg.n, cfg.family, cfg.batch_size, True)
    val_loader = load(plan["val_ids"], cfg.n, cfg.family, cfg.batch_size, False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    criterion, best_acc = nn.CrossEntropyLoss(), 0.0
    with mlflow.start_run(run_name=f"trial {trial.number}", nested=True):
        mlflow.log_params(cfg.model_dump())
        for epoch in range(cfg.epochs):
            model.train()
            train_loss = train_correct = train_frames = 0
            for batch in train_loader:
                logits, y = logits_of(model, batch, cfg.family)
                loss = criterion(logits, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                train_loss += loss.item() * len(y)
                train_correct += (logits.argmax(1) == y).sum().item()
                train_frames += len(y)
            model.eval()
            val_correct = val_frames = 0
            with torch.no_grad():
                for batch in val_loader:
                    logits, y = logits_of(model, batch, cfg.family)
                    val_correct += (logits.argmax(1) == y).sum().item()
                    val_frames += len(y)
            val_acc = val_correct / val_frames
            mlflow.log_metrics(
                {
                    "train_loss": train_loss / train_frames,
                    "train_acc": train_correct / train_frames,
                    "val_acc": val_acc,
                },
                step=epoch + 1,
            )
            if val_acc > best_acc:
                best_acc = val_acc
                torch.save(model.state_dict(), "model.ckpt")
        mlflow.log_metric("best_val_acc", best_acc)
    return best_acc


mlflow.set_tracking_uri("sqlite:///mlflow.db")
mlflow.set_experiment("peer")
sampler = optuna.samplers.GridSampler({"index": list(range(len(configs)))}, seed=0)
study = optuna.create_study(
    study_name="peer", storage="sqlite:///optuna.db", direction="maximize", sampler=sampler
)
with mlflow.start_run(run_name="sweep"):
    study.optimize(objective, n_trials=len(configs))
