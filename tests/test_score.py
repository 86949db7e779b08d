"""`sweeper score`: a Kaggle CSV checked against the test split and scored on its labels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sweeper.promote.predictions import PredictionsError, read_predictions
from tests.cli import sweeper


def kaggle_labels(corpus: Path) -> list[int]:
    """The test labels in Kaggle's order: utterances as test_split.txt lists them."""
    by_utterance = {
        line.split()[0]: [int(label) for label in line.split()[1:]]
        for line in (corpus / "test_labels.txt").read_text().splitlines()
    }
    order = (corpus / "test_split.txt").read_text().split()
    return [label for utterance in order for label in by_utterance[utterance]]


def csv_text(classes: list[int], header: str = "Id,Class") -> str:
    return "".join([f"{header}\n", *(f"{i},{c}\n" for i, c in enumerate(classes))])


def test_score_prints_the_frame_accuracy(tmp_path: Path, tiny_corpus: Path) -> None:
    labels = kaggle_labels(tiny_corpus)
    # every fourth frame wrong
    classes = [(y + 1) % 41 if i % 4 == 0 else y for i, y in enumerate(labels)]
    (tmp_path / "predictions.csv").write_text(csv_text(classes))
    result = sweeper("score", "predictions.csv", "--data", tiny_corpus, cwd=tmp_path)
    correct = len(labels) - len(range(0, len(labels), 4))
    assert f"{correct / len(labels):.4f}" in result.stdout
    assert f"{correct:,}" in result.stdout and f"{len(labels):,}" in result.stdout


BROKEN: dict[str, tuple[Callable[[list[int]], str], str]] = {
    "wrong header": (
        lambda y: csv_text(y, header="id,label"),
        "the header must be 'Id,Class', found 'id,label'",
    ),
    "empty file": (lambda y: "", "the header must be 'Id,Class', found nothing"),
    "a row short": (lambda y: csv_text(y[:-1]), "rows, but the test split has"),
    "a row extra": (lambda y: csv_text([*y, 0]), "rows, but the test split has"),
    "class 41": (lambda y: csv_text([41, *y[1:]]), "line 2: class 41 is outside 0..40"),
    "class -1": (lambda y: csv_text([*y[:2], -1, *y[3:]]), "line 4: class -1 is outside 0..40"),
    "not a number": (
        lambda y: "Id,Class\n0,AH\n",
        "line 2: expected 'Id,Class' as two integers, found '0,AH'",
    ),
    "ids out of order": (lambda y: "Id,Class\n1,0\n0,0\n", "line 2: Id 1 where 0 was expected"),
}


@pytest.mark.parametrize("broken", BROKEN)
def test_a_broken_csv_is_one_line_naming_the_file(
    tmp_path: Path, tiny_corpus: Path, broken: str
) -> None:
    labels = kaggle_labels(tiny_corpus)
    text, expected = BROKEN[broken]
    path = tmp_path / "predictions.csv"
    path.write_text(text(labels))
    with pytest.raises(PredictionsError) as error:
        read_predictions(path, len(labels))
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)
    assert "\n" not in str(error.value)


def test_score_reports_bad_input_as_one_line(
    tmp_path: Path, tiny_corpus: Path, make_libriphone: Callable[..., Path]
) -> None:
    (tmp_path / "short.csv").write_text(csv_text([0, 1, 2]))
    result = sweeper("score", "short.csv", "--data", tiny_corpus, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: short.csv: 3 rows, but the test split has {len(kaggle_labels(tiny_corpus)):,} "
        "frames (one row per frame)"
    ]

    # the real data has no test labels: a well-formed CSV is checked, then cannot be scored
    unlabelled = make_libriphone([30, 20], [5, 7])
    (tmp_path / "real.csv").write_text(csv_text([0] * 12))
    result = sweeper("score", "real.csv", "--data", unlabelled, cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "real.csv is well formed, but" in result.stderr
    assert "has no test_labels.txt" in result.stderr
