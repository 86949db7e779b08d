"""Writing a synthetic corpus in the LibriPhone layout: parallel rendering and resumption.

Every utterance draws its randomness from (seed, split, index) alone, and eSpeak NG is reloaded
for every sentence (see `espeak`), so the bytes do not depend on --jobs or on interruptions.
While it works, the generator holds a lock on the output directory and keeps a hidden `.synth/`
directory in it: the plan, and each finished utterance's label line. An utterance is done once
its label line exists; its .pt file is always written (atomically) before that. The final step
writes the split and label files, then `corpus.json`, and removes `.synth/`.
"""

from __future__ import annotations

import fcntl
import io
import json
import multiprocessing
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sweeper.data.layout import METADATA_FILE, SPLITS, labels_file, split_file
from sweeper.data.synth import utterance
from sweeper.data.synth.features import FRAME_LENGTH, FRAME_SHIFT, SAMPLE_RATE
from sweeper.data.synth.plan import Plan
from sweeper.data.synth.speakers import speakers
from sweeper.data.synth.status import WORK_DIR, is_complete, recorded_settings
from sweeper.data.synth.text import COVERAGE_WORDS
from sweeper.errors import DataError
from sweeper.phones import PHONES

_UTTERANCE_STREAM = 0
_CORPUS_FILES = (
    *(f"feat/{split}" for split in SPLITS),
    *(split_file(split) for split in SPLITS),
    *(labels_file(split) for split in SPLITS),
    METADATA_FILE,
    WORK_DIR,
)

Progress = Callable[[int, int], None]  # (utterances done, total)


@dataclass(frozen=True)
class Outcome:
    generated: int  # utterances rendered by this call
    resumed: int  # utterances an earlier, interrupted call had finished
    frames: dict[str, int]  # per split


def _write_atomically(path: Path, data: bytes) -> None:
    # Not sweeper.atomic: one generator holds the directory, and a fixed temporary name means a
    # write killed half-way is overwritten when its utterance is rendered again on resume, so the
    # finished corpus holds no stray file and matches an uninterrupted one byte for byte.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _label_record(out: Path, split: str, utt_id: str) -> Path:
    return out / WORK_DIR / split / f"{utt_id}.txt"


def render_utterance(out: Path, plan: Plan, split: str, index: int) -> None:
    """Render one utterance and write its features, then its label record (the 'done' mark)."""
    voices = speakers(plan.seed, split)
    rng = np.random.default_rng([plan.seed, _UTTERANCE_STREAM, SPLITS.index(split), index])
    include = COVERAGE_WORDS[index] if split == "train" and index < len(COVERAGE_WORDS) else None
    result = utterance.render(voices[index % len(voices)], rng, plan.seed, include)
    utt_id = plan.utterance_id(split, index)
    buffer = io.BytesIO()  # saving to a path would embed the (temporary) file name in the archive
    torch.save(torch.from_numpy(result.features), buffer)
    _write_atomically(out / "feat" / split / f"{utt_id}.pt", buffer.getvalue())
    line = " ".join([utt_id, *map(str, result.labels.tolist())]) + "\n"
    _write_atomically(_label_record(out, split, utt_id), line.encode())


def _check_target(out: Path, plan: Plan, force: bool) -> None:
    recorded = recorded_settings(out)
    if recorded is not None and recorded != plan.settings() and not force:
        described = ", ".join(f"{key} {value}" for key, value in recorded.items())
        raise DataError(
            f"--out {out} holds a synthetic corpus with other settings ({described}); "
            "pass --force to replace it"
        )
    foreign = out.is_dir() and any(entry.name != WORK_DIR for entry in out.iterdir())
    if recorded is None and foreign and not force:
        raise DataError(
            f"--out {out} is not empty and is not a synthetic corpus; "
            "pass --force to write one there anyway"
        )


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold `out`'s generator lock (on the directory itself, so no lock file is left behind):
    a second generator for the same directory waits."""
    out.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _remove_corpus_files(out: Path) -> None:
    for name in _CORPUS_FILES:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _prepare(out: Path, plan: Plan, force: bool) -> None:
    """Under the lock: clear what --force replaces, record the plan, drop half-written files."""
    if force and recorded_settings(out) != plan.settings():
        _remove_corpus_files(out)
    for split in SPLITS:
        for directory in (out / "feat" / split, out / WORK_DIR / split):
            directory.mkdir(parents=True, exist_ok=True)
            for temporary in directory.glob(".*.tmp"):
                temporary.unlink()
    _write_atomically(out / WORK_DIR / "plan.json", json.dumps(plan.settings()).encode())


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the parent alone decides what to do with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _render_all(out: Path, plan: Plan, todo: list[tuple[str, int]], jobs: int) -> Iterator[None]:
    """Render `todo`, yielding once per finished utterance."""
    if jobs == 1:
        for split, index in todo:
            render_utterance(out, plan, split, index)
            yield
        return
    # spawn, not fork: the parent may hold torch's threads, which fork does not survive
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_ignore_interrupts)
    try:
        futures = [executor.submit(render_utterance, out, plan, s, i) for s, i in todo]
        for future in as_completed(futures):
            future.result()
            yield
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _finish(out: Path, plan: Plan) -> dict[str, int]:
    frames = {}
    for split in SPLITS:
        ids = [plan.utterance_id(split, index) for index in range(plan.count(split))]
        lines = [_label_record(out, split, utt_id).read_text() for utt_id in ids]
        frames[split] = sum(line.count(" ") for line in lines)
        _write_atomically(out / split_file(split), "".join(f"{i}\n" for i in ids).encode())
        _write_atomically(out / labels_file(split), "".join(lines).encode())
    metadata = {
        **plan.settings(),
        "generator": "sweeper data synth",
        "frames": frames,
        "features": {
            "sample_rate": SAMPLE_RATE,
            "frame_length": FRAME_LENGTH,
            "frame_shift": FRAME_SHIFT,
            "layout": "13 MFCC + delta + delta-delta, per-utterance mean and variance normalised",
        },
        "voices": {split: [s.describe() for s in speakers(plan.seed, split)] for split in SPLITS},
        "snr_db": utterance.SNR_DB,
        "difficulty": utterance.knobs(),
        "phones": PHONES,
    }
    _write_atomically(out / METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode())
    return frames


def generate_corpus(
    out: Path, plan: Plan, *, jobs: int = 1, force: bool = False, progress: Progress | None = None
) -> Outcome:
    """Write (or finish writing) the corpus of `plan` into `out`.

    `out` may be missing, empty, or hold the unfinished or finished corpus of the same plan;
    anything else needs `force`, which replaces the corpus files there and leaves others alone.
    """
    if jobs < 1:
        raise DataError(f"--jobs must be at least 1, not {jobs}")
    out = Path(out)
    try:
        if is_complete(out, plan):
            return Outcome(0, plan.train_utterances + plan.test_utterances, _frames(out))
        if out.exists() and not out.is_dir():
            raise DataError(f"--out {out} is a file, not a directory")
        with _locked(out):
            if is_complete(out, plan):  # another process finished it while we waited
                shutil.rmtree(out / WORK_DIR, ignore_errors=True)  # it may have cleaned up too
                return Outcome(0, plan.train_utterances + plan.test_utterances, _frames(out))
            # under the lock: unlocked, a corpus another process was writing looked foreign
            _check_target(out, plan, force)
            _prepare(out, plan, force)
            everything = [(s, i) for s in SPLITS for i in range(plan.count(s))]
            todo = [
                (s, i)
                for s, i in everything
                if not _label_record(out, s, plan.utterance_id(s, i)).is_file()
            ]
            report = progress or (lambda done, total: None)
            report(len(everything) - len(todo), len(everything))
            for done, _ in enumerate(
                _render_all(out, plan, todo, jobs), len(everything) - len(todo) + 1
            ):
                report(done, len(everything))
            frames = _finish(out, plan)
            shutil.rmtree(out / WORK_DIR)
    except OSError as exc:
        raise DataError(f"cannot write the corpus to {out}: {exc.strerror or exc}") from exc
    return Outcome(len(todo), len(everything) - len(todo), frames)


def _frames(out: Path) -> dict[str, int]:
    return json.loads((out / METADATA_FILE).read_text())["frames"]
