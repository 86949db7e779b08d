"""The LibriPhone directory layout: validated reading, and writing the same layout.

    train_split.txt, test_split.txt   one utterance id per line
    train_labels.txt                  "<utt_id> <label> <label> ..." (test_labels.txt optional)
    feat/{train,test}/<utt_id>.pt     torch.save'd float tensor (frames, 39)
    corpus.json                       optional: how a generated corpus was made

Every problem is a DataError naming the file, so a bad download fails with one readable line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sweeper.data.split import Split
from sweeper.errors import DataError
from sweeper.phones import FEATURE_DIM, NUM_CLASSES

SPLITS = ("train", "test")
METADATA_FILE = "corpus.json"
_UNSAFE_ID = re.compile(r"[/\\\x00]|\.\.")


def split_file(split: str) -> str:
    return f"{split}_split.txt"


def labels_file(split: str) -> str:
    return f"{split}_labels.txt"


@dataclass(frozen=True)
class Layout:
    """A LibriPhone directory whose file lists have been read; features are read on demand."""

    root: Path
    utt_ids: dict[str, tuple[str, ...]]
    labelled: dict[str, bool]
    metadata: dict[str, Any] | None

    @classmethod
    def open(cls, root: str | Path) -> Layout:
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{root}: no such directory (expected a LibriPhone data directory)")
        for name in (split_file("train"), split_file("test"), labels_file("train")):
            if not (root / name).is_file():
                raise DataError(f"{root / name}: missing (every LibriPhone directory has one)")
        return cls(
            root=root,
            utt_ids={split: _read_id_list(root / split_file(split)) for split in SPLITS},
            labelled={split: (root / labels_file(split)).is_file() for split in SPLITS},
            metadata=_read_metadata(root / METADATA_FILE),
        )

    def feature_path(self, split: str, utt_id: str) -> Path:
        return self.root / "feat" / split / f"{utt_id}.pt"

    def feature_stat(self, split: str, utt_id: str) -> os.stat_result:
        path = self.feature_path(split, utt_id)
        try:
            return path.stat()
        except FileNotFoundError:
            raise _missing_features(path, split) from None

    def text_files(self) -> list[Path]:
        """The small files whose content defines the corpus besides the features."""
        names = [split_file(s) for s in SPLITS] + [
            labels_file(s) for s in SPLITS if self.labelled[s]
        ]
        return [self.root / name for name in names]

    def read_split(self, split: str) -> Split:
        ids = self.utt_ids[split]
        features = [_read_features(self.feature_path(split, utt), split) for utt in ids]
        labels = None
        if self.labelled[split]:
            path = self.root / labels_file(split)
            by_id = _read_labels(path)
            labels = []
            for utt, frames in zip(ids, features, strict=True):
                if utt not in by_id:
                    raise DataError(
                        f"{path}: no labels for utterance {utt!r} (listed in {split_file(split)})"
                    )
                values = by_id[utt]
                if len(values) != len(frames):
                    raise DataError(
                        f"{path}: utterance {utt!r} has {len(values)} labels but "
                        f"{self.feature_path(split, utt)} has {len(frames)} frames"
                    )
                labels.append(values)
        return Split.from_utterances(split, ids, features, labels)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_id_list(path: Path) -> tuple[str, ...]:
    ids: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        utt = line.strip()
        if not utt:  # blank lines (e.g. a trailing one) carry nothing
            continue
        if _UNSAFE_ID.search(utt):
            # ids become file names under feat/: a path in one would read a file from elsewhere
            raise DataError(
                f"{path}: line {number}: utterance id {utt!r} holds a path separator, '..' or "
                "NUL; ids name files in feat/ and must be plain names"
            )
        if utt in first_line:
            raise DataError(
                f"{path}: line {number}: duplicate utterance id {utt!r} "
                f"(first on line {first_line[utt]})"
            )
        first_line[utt] = number
        ids.append(utt)
    if not ids:
        raise DataError(f"{path}: lists no utterances (the split is empty)")
    return tuple(ids)


def _read_labels(path: Path) -> dict[str, torch.Tensor]:
    labels: dict[str, torch.Tensor] = {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        utt, values = parts[0], parts[1:]
        if utt in labels:
            raise DataError(f"{path}: line {number}: duplicate utterance id {utt!r}")
        try:
            array = np.array(values, dtype=np.int64)
        except ValueError:
            raise DataError(
                f"{path}: line {number}: labels must be integers 0..{NUM_CLASSES - 1}"
            ) from None
        outside = (array < 0) | (array >= NUM_CLASSES)
        if outside.any():
            raise DataError(
                f"{path}: line {number}: label {array[outside][0]} is outside 0..{NUM_CLASSES - 1}"
            )
        labels[utt] = torch.from_numpy(array)
    return labels


def _missing_features(path: Path, split: str) -> DataError:
    return DataError(f"{path}: missing (the utterance is listed in {split_file(split)})")


def _read_features(path: Path, split: str) -> torch.Tensor:
    try:
        # a file torch cannot read safely becomes one DataError, so its warnings are noise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # weights_only: a .pt is a pickle, and an untrusted pickle can run arbitrary code
            value = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise _missing_features(path, split) from None
    except Exception as exc:  # torch raises anything from KeyError to EOFError on a bad file
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if refused:
            raise DataError(
                f"{path}: holds a pickled {refused[1]}, which safe loading (weights_only) "
                "refuses; expected a tensor"
            ) from None
        raise DataError(f"{path}: not a file written by torch.save") from None
    if not isinstance(value, torch.Tensor):
        raise DataError(f"{path}: holds a {type(value).__name__}, expected a tensor")
    if value.ndim != 2 or value.shape[1] != FEATURE_DIM or not value.is_floating_point():
        raise DataError(
            f"{path}: expected a float tensor of shape (frames, {FEATURE_DIM}), "
            f"got {str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}"
        )
    if value.shape[0] == 0:
        raise DataError(f"{path}: has no frames")
    features = value.detach().to(torch.float32)
    # numpy: thousands of tiny torch ops stall on thread hand-offs when cores are busy
    if not np.isfinite(features.numpy()).all():
        raise DataError(f"{path}: contains NaN or infinite values")
    return features


def _read_metadata(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        metadata = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(metadata, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(metadata).__name__}")
    return metadata


def write_libriphone(
    root: str | Path, train: Split, test: Split, metadata: dict[str, Any] | None = None
) -> Path:
    """Write `train` and `test` as a LibriPhone directory at `root` (which must not exist).

    Labels of `test` go to test_labels.txt when it has them. The directory appears complete or
    not at all: it is written under a temporary name and renamed.
    """
    root = Path(root)
    if root.exists():
        raise FileExistsError(f"{root}: already exists")
    if train.labels is None:
        raise ValueError("the train split must be labelled")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for name, split in (("train", train), ("test", test)):
            _write_split(staging, split, name)
        if metadata is not None:
            (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        os.rename(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def _write_split(root: Path, split: Split, name: str) -> None:
    feat_dir = root / "feat" / name
    feat_dir.mkdir(parents=True)
    (root / split_file(name)).write_text("".join(f"{utt}\n" for utt in split.utt_ids))
    label_lines = []
    for utt, start, length in zip(
        split.utt_ids, split.offsets.tolist(), split.lengths.tolist(), strict=True
    ):
        # clone: saving a slice would save the whole split's storage into every file
        torch.save(split.features[start : start + length].clone(), feat_dir / f"{utt}.pt")
        if split.labels is not None:
            values = " ".join(map(str, split.labels[start : start + length].tolist()))
            label_lines.append(f"{utt} {values}\n")
    if split.labels is not None:
        (root / labels_file(name)).write_text("".join(label_lines))
