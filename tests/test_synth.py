"""`sweeper data synth` and the embedded corpus: layout, determinism, resumption, bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sweeper.data import load_corpus
from sweeper.data.synth.generate import generate_corpus
from sweeper.data.synth.plan import GENERATOR_VERSION, Plan
from sweeper.errors import DataError
from sweeper.phones import FEATURE_DIM, NUM_CLASSES
from tests.cli import start_sweeper, sweeper

SMALL = ("--train-utterances", "6", "--test-utterances", "2")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (hidden ones included) by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_tiny_corpus_has_the_libriphone_layout_and_reads_back(tiny_corpus: Path) -> None:
    assert sorted(p.name for p in tiny_corpus.iterdir()) == [
        "corpus.json",
        "feat",
        "test_labels.txt",
        "test_split.txt",
        "train_labels.txt",
        "train_split.txt",
    ]
    corpus = load_corpus(tiny_corpus)
    assert (corpus.train.num_utterances, corpus.test.num_utterances) == (48, 12)
    assert corpus.test.labels is not None
    assert corpus.train.features.shape[1] == FEATURE_DIM
    # per-utterance CMVN: every utterance's features have mean 0 and unit variance per dim
    first = corpus.train.features[: int(corpus.train.lengths[0])]
    assert torch.allclose(first.mean(0), torch.zeros(FEATURE_DIM), atol=1e-3)
    assert torch.allclose(first.std(0, unbiased=False), torch.ones(FEATURE_DIM), atol=1e-3)
    metadata = corpus.metadata
    assert metadata is not None
    assert metadata["seed"] == 1337 and len(metadata["phones"]) == NUM_CLASSES
    assert metadata["frames"] == {"train": corpus.train.num_frames, "test": corpus.test.num_frames}
    # what made it hard is on record: the knobs, and each speaker's own formant factors
    assert metadata["difficulty"]["fluctuation_db"] > 0
    assert all(len(voice["formants"]) == 3 for voice in metadata["voices"]["train"])


def test_test_speakers_never_speak_in_train(tiny_corpus: Path) -> None:
    corpus = load_corpus(tiny_corpus)
    speaker = lambda utt: utt.split("-")[0]  # noqa: E731
    train_speakers = {speaker(u) for u in corpus.train.utt_ids}
    test_speakers = {speaker(u) for u in corpus.test.utt_ids}
    assert len(train_speakers) >= 8 and len(test_speakers) >= 2
    assert not train_speakers & test_speakers
    voices = corpus.metadata["voices"]
    variant = lambda voice: voice["voice"].split("+")[1]  # noqa: E731
    assert not {variant(v) for v in voices["train"]} & {variant(v) for v in voices["test"]}


def test_the_same_seed_gives_identical_bytes_with_any_number_of_jobs(tmp_path: Path) -> None:
    sweeper("data", "synth", "--out", tmp_path / "two", *SMALL, "--jobs", "2", cwd=tmp_path)
    generate_corpus(tmp_path / "one", Plan(1337, 6, 2), jobs=1)
    generate_corpus(tmp_path / "other-seed", Plan(7, 6, 2), jobs=1)
    two, one = snapshot(tmp_path / "two"), snapshot(tmp_path / "one")
    assert two == one
    other = snapshot(tmp_path / "other-seed")
    assert other["train_labels.txt"] != one["train_labels.txt"]


def test_an_interrupted_run_resumes_to_the_same_bytes(tmp_path: Path, tiny_corpus: Path) -> None:
    out = tmp_path / "corpus"
    process = start_sweeper(
        "data", "synth", "--out", out, "--size", "tiny", "--jobs", "1", cwd=tmp_path
    )
    deadline = time.monotonic() + 120
    while len(list((out / "feat" / "train").glob("*.pt"))) < 10:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "corpus.json").exists()
    with pytest.raises(DataError, match=r"train_split\.txt: missing"):
        load_corpus(out)

    result = sweeper("data", "synth", "--out", out, "--size", "tiny", cwd=tmp_path)
    assert "were already done" in result.stdout
    assert snapshot(out) == snapshot(tiny_corpus)


def test_an_interrupted_call_leaves_no_half_written_file_and_resumes(tmp_path: Path) -> None:
    plan = Plan(1337, 6, 2)
    generate_corpus(tmp_path / "reference", plan)
    out = tmp_path / "corpus"

    def interrupt_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_corpus(out, plan, progress=interrupt_after_three)
    assert not (out / "corpus.json").exists()
    # what a kill in the middle of a write leaves behind
    (out / "feat" / "train" / ".101-000001.pt.tmp").write_bytes(b"half")

    outcome = generate_corpus(out, plan)
    assert (outcome.generated, outcome.resumed) == (5, 3)
    assert snapshot(out) == snapshot(tmp_path / "reference")


def test_the_tiny_corpus_is_a_real_classification_problem(tiny_corpus: Path) -> None:
    from sweeper.data import course_split
    from sweeper.training.loop import predict, train

    corpus = load_corpus(tiny_corpus)
    assert set(torch.unique(corpus.train.labels).tolist()) == set(range(NUM_CLASSES))
    train_part, val_part = course_split(corpus.train)
    test = corpus.test
    majority = (test.labels == torch.bincount(train_part.labels).argmax()).float().mean().item()
    accuracy = {}
    for n in (1, 11):
        config = {"n": n, "layers": 2, "hidden": 128, "dropout": 0.5, "epochs": 6, "lr": 2e-3}
        model = train(config, train_part, val_part, device="cpu").model
        predicted = predict(model, config, test, device="cpu")
        accuracy[n] = (predicted == test.labels).float().mean().item()
    assert accuracy[1] > majority + 0.15, (majority, accuracy)
    assert accuracy[11] > accuracy[1] + 0.01, accuracy  # context helps, as on real speech


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--size", "huge"), "--size must be one of tiny, small, full, not 'huge'"),
        (("--train-utterances", "1"), "--train-utterances must be between 2 and"),
        (("--test-utterances", "0"), "--test-utterances must be between 1 and"),
        (("--seed", "-1"), "--seed must be 0 or more"),
        (("--jobs", "0"), "--jobs must be at least 1"),
    ],
)
def test_impossible_settings_are_refused_in_one_line(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = sweeper("data", "synth", "--out", tmp_path / "out", *args, cwd=tmp_path, check=False)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {message}")
    assert not (tmp_path / "out").exists()


def test_a_directory_that_is_not_a_corpus_is_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("keep me")
    result = sweeper("data", "synth", "--out", out, *SMALL, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "is not empty and is not a synthetic corpus; pass --force" in result.stderr
    assert [p.name for p in out.iterdir()] == ["todo.txt"]

    sweeper("data", "synth", "--out", out, *SMALL, "--force", cwd=tmp_path)
    assert (out / "todo.txt").read_text() == "keep me"
    assert load_corpus(out).train.num_utterances == 6


def test_a_corpus_with_other_settings_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    generate_corpus(out, Plan(1337, 6, 2))
    before = snapshot(out)
    result = sweeper(
        "data", "synth", "--out", out, *SMALL, "--seed", "2", cwd=tmp_path, check=False
    )
    assert result.returncode == 2
    assert "holds a synthetic corpus with other settings" in result.stderr
    assert snapshot(out) == before
    again = sweeper("data", "synth", "--out", out, *SMALL, cwd=tmp_path)
    assert "already holds this corpus" in again.stdout


def test_an_unwritable_destination_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for out in (blocker, blocker / "corpus"):
        result = sweeper("data", "synth", "--out", out, *SMALL, cwd=tmp_path, check=False)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: ") and str(blocker) in result.stderr
    assert blocker.read_text() == ""


def test_without_data_the_embedded_corpus_is_generated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sweeper.data import defaults

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(defaults, "EMBEDDED_SIZE", "tiny")  # the small one takes half a minute
    assert defaults.resolve_data_dir(tmp_path / "mine") == tmp_path / "mine"

    first = defaults.resolve_data_dir(None)
    assert first == tmp_path / "cache" / "sweeper" / f"corpus-{GENERATOR_VERSION}-tiny-1337"
    message = capsys.readouterr().err
    assert "generating the embedded corpus" in message and str(first) in message
    assert load_corpus(first).train.num_utterances == 48

    assert defaults.resolve_data_dir(None) == first
    assert capsys.readouterr().err == ""


def test_two_processes_generating_the_same_corpus_write_it_once(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from sweeper.data.synth.generate import generate_corpus\n"
        "from sweeper.data.synth.plan import Plan\n"
        "print(generate_corpus(Path(sys.argv[1]), Plan(1337, 6, 2)).generated)\n"
    )
    out = tmp_path / "shared"
    processes = [
        subprocess.Popen([sys.executable, "-c", script, out], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    generated = sorted(int(p.communicate(timeout=120)[0]) for p in processes)
    assert [p.returncode for p in processes] == [0, 0]
    assert generated == [0, 8]  # one wrote all eight utterances, the other waited and found them
    generate_corpus(tmp_path / "alone", Plan(1337, 6, 2))
    assert snapshot(out) == snapshot(tmp_path / "alone")
