"""`sweeper data info`: the summary, and one clear error line for every kind of bad directory."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sweeper.cli import app, main
from sweeper.data import load_corpus


class NotATensor:
    """Pickled by torch.save as an arbitrary object, which weights_only loading refuses."""


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["sweeper", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0)


def test_info_summarises_splits_labels_and_fingerprint(
    make_libriphone: Callable[..., Path], data_cache: Path
) -> None:
    metadata = {"generator": "sweeper-synth 1", "seed": 11, "voices": ["en-us+m3", "en-us+f2"]}
    root = make_libriphone([30, 1, 12, 45], [20, 9], test_labels=True, metadata=metadata)

    result = CliRunner().invoke(app, ["data", "info", str(root)], env={"COLUMNS": "120"})

    assert result.exit_code == 0, result.output
    out = result.output
    assert load_corpus(root).fingerprint in out
    assert "1/21/45" in out  # train utterance lengths min/median/max
    assert "test_labels.txt" in out
    for fact in ("sweeper-synth 1", "11", "en-us+f2"):
        assert fact in out
    assert "sil" in out and "spn" in out and "ZH" in out


def test_info_reports_an_unlabelled_test_split(libriphone: Path, data_cache: Path) -> None:
    result = CliRunner().invoke(app, ["data", "info", str(libriphone)], env={"COLUMNS": "120"})

    assert result.exit_code == 0, result.output
    assert "unlabelled" in result.output
    assert "corpus.json" not in result.output


def test_info_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["data", "info", "--help"], env={"COLUMNS": "120"})
    assert "Example: sweeper data info" in result.output


def first_train_pt(root: Path) -> Path:
    utt = (root / "train_split.txt").read_text().split()[0]
    return root / "feat" / "train" / f"{utt}.pt"


def edit_first_label(root: Path, label: str) -> None:
    path = root / "train_labels.txt"
    utt, _, rest = path.read_text().split(" ", 2)
    path.write_text(f"{utt} {label} {rest}")


def drop_first_label(root: Path) -> None:
    path = root / "train_labels.txt"
    utt, _, rest = path.read_text().split(" ", 2)
    path.write_text(f"{utt} {rest}")


def drop_label_line(root: Path, line: int, replace_with_line: int | None = None) -> None:
    path = root / "train_labels.txt"
    lines = path.read_text().splitlines(keepends=True)
    lines[line] = "" if replace_with_line is None else lines[replace_with_line]
    path.write_text("".join(lines))


def poison_features(value: float) -> Callable[[Path], None]:
    def poison(root: Path) -> None:
        features = torch.load(first_train_pt(root))
        features[0, 3] = value
        torch.save(features, first_train_pt(root))

    return poison


def duplicate_first_id(root: Path) -> None:
    path = root / "train_split.txt"
    ids = path.read_text().split()
    path.write_text("\n".join([*ids, ids[0]]) + "\n")


def first_id_outside_feat(absolute: bool) -> Callable[[Path], None]:
    """Move the first train utterance's .pt out of feat/ and name it by a path in the lists."""

    def move(root: Path) -> None:
        outside = root.parent / f"{root.name}-elsewhere" / "x.pt"
        outside.parent.mkdir(exist_ok=True)
        first_train_pt(root).rename(outside)
        new_id = str(outside.with_suffix("")) if absolute else f"../../../{outside.parent.name}/x"
        utt = (root / "train_split.txt").read_text().split()[0]
        for name in ("train_split.txt", "train_labels.txt"):
            path = root / name
            path.write_text(path.read_text().replace(utt, new_id, 1))

    return move


def first_id_with_nul(root: Path) -> None:
    path = root / "train_split.txt"
    utt = path.read_text().split()[0]
    path.write_text(path.read_text().replace(utt, f"{utt}\x00", 1))


BAD_INPUTS: dict[str, tuple[Callable[[Path], object], str, str]] = {
    # case: (how to break the directory, file named in the error, what the error says)
    "missing train split": (
        lambda root: (root / "train_split.txt").unlink(),
        "train_split.txt",
        "missing",
    ),
    "missing test split": (
        lambda root: (root / "test_split.txt").unlink(),
        "test_split.txt",
        "missing",
    ),
    "missing labels": (
        lambda root: (root / "train_labels.txt").unlink(),
        "train_labels.txt",
        "missing",
    ),
    "utterance without .pt": (lambda root: first_train_pt(root).unlink(), ".pt", "missing"),
    "1-D tensor": (
        lambda root: torch.save(torch.zeros(30), first_train_pt(root)),
        ".pt",
        "expected a float tensor of shape (frames, 39), got float32 (30,)",
    ),
    "width 40": (
        lambda root: torch.save(torch.zeros(30, 40), first_train_pt(root)),
        ".pt",
        "got float32 (30, 40)",
    ),
    "integer tensor": (
        lambda root: torch.save(torch.zeros(30, 39, dtype=torch.int64), first_train_pt(root)),
        ".pt",
        "got int64 (30, 39)",
    ),
    "label count differs": (drop_first_label, "train_labels.txt", "has 29 labels but"),
    "label 41": (lambda root: edit_first_label(root, "41"), "train_labels.txt", "label 41 is"),
    "label -1": (lambda root: edit_first_label(root, "-1"), "train_labels.txt", "outside 0..40"),
    "label not a number": (
        lambda root: edit_first_label(root, "AA"),
        "train_labels.txt",
        "must be integers",
    ),
    "NaN feature": (poison_features(float("nan")), ".pt", "NaN or infinite"),
    "inf feature": (poison_features(float("inf")), ".pt", "NaN or infinite"),
    "duplicate utterance id": (duplicate_first_id, "train_split.txt", "duplicate utterance id"),
    "id climbing out of feat/": (
        first_id_outside_feat(absolute=False),
        "train_split.txt",
        "line 1: utterance id '../../../",
    ),
    "id that is an absolute path": (
        first_id_outside_feat(absolute=True),
        "train_split.txt",
        "holds a path separator, '..' or NUL",
    ),
    "id with NUL": (first_id_with_nul, "train_split.txt", "line 1: utterance id"),
    "empty split": (
        lambda root: (root / "test_split.txt").write_text("\n"),
        "test_split.txt",
        "lists no utterances",
    ),
    "pickled dict": (
        lambda root: torch.save({"features": torch.zeros(30, 39)}, first_train_pt(root)),
        ".pt",
        "holds a dict, expected a tensor",
    ),
    "pickled object weights_only refuses": (
        lambda root: torch.save(NotATensor(), first_train_pt(root)),
        ".pt",
        "holds a pickled tests.test_data_cli.NotATensor, which safe loading (weights_only) refuses",
    ),
    "plain pickle": (
        lambda root: first_train_pt(root).write_bytes(pickle.dumps([1, 2])),
        ".pt",
        "not a file written by torch.save",
    ),
    "not a torch file": (
        lambda root: first_train_pt(root).write_bytes(b"MFCC?"),
        ".pt",
        "not a file written by torch.save",
    ),
    "no frames": (
        lambda root: torch.save(torch.zeros(0, 39), first_train_pt(root)),
        ".pt",
        "has no frames",
    ),
    "utterance without labels": (
        lambda root: drop_label_line(root, 0),
        "train_labels.txt",
        "no labels for utterance",
    ),
    "duplicate labels line": (
        lambda root: drop_label_line(root, 1, replace_with_line=0),
        "train_labels.txt",
        "line 2: duplicate utterance id",
    ),
    "split file not UTF-8": (
        lambda root: (root / "test_split.txt").write_bytes(b"\xff\xfe utt\n"),
        "test_split.txt",
        "not UTF-8 text",
    ),
    "corpus.json not JSON": (
        lambda root: (root / "corpus.json").write_text("{generator"),
        "corpus.json",
        "not valid JSON",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_directory_gives_one_error_line_and_writes_no_cache(
    case: str,
    libriphone: Path,
    data_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    breaks, file_named, problem = BAD_INPUTS[case]
    breaks(libriphone)

    code = run_main(monkeypatch, "data", "info", str(libriphone))

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert str(libriphone) in err and file_named in err and problem in err, err
    assert not [path for path in data_cache.rglob("*") if path.is_file()]


def test_missing_directory_through_the_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("sweeper")
    missing = tmp_path / "nowhere"

    result = subprocess.run(
        [script, "data", "info", str(missing)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    assert (
        result.stderr
        == f"error: {missing}: no such directory (expected a LibriPhone data directory)\n"
    )
    assert result.stdout == ""


def test_refused_pickle_through_the_console_script(libriphone: Path) -> None:
    script = Path(sys.executable).with_name("sweeper")
    torch.save(NotATensor(), first_train_pt(libriphone))

    result = subprocess.run(
        [script, "data", "info", str(libriphone)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {first_train_pt(libriphone)}: holds a pickled")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_importing_the_data_command_and_package_does_not_import_torch() -> None:
    code = "import sys, sweeper.commands.data, sweeper.data; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
