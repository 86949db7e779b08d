"""Sentences of common English words, sampled by their frequency in English text.

The words and frequencies come from `vocabulary.tsv` beside this module (wordfreq's English list,
copied once: its header says how).
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

# the length of wordfreq's list the words were drawn from (146 are words); corpus.json records it
VOCABULARY_SIZE = 150
MIN_WORDS, MAX_WORDS = 4, 20
# The rarest phones (ZH, OY, TH, JH, CH, G) may miss a small corpus entirely; the first train
# sentences each get one of these words, so that every class occurs even in the tiny corpus.
COVERAGE_WORDS = ("usually", "choice", "think", "just", "much", "good")


@functools.cache
def vocabulary() -> tuple[tuple[str, ...], np.ndarray]:
    """The words and their sampling probabilities (proportional to frequency)."""
    text = resources.files(__package__).joinpath("vocabulary.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    frequencies = np.array([float(frequency) for _, frequency in rows])
    return tuple(word for word, _ in rows), frequencies / frequencies.sum()


def sentence(rng: np.random.Generator, include: str | None = None) -> str:
    """4 to 20 words (one of them `include`, if given); sometimes a comma (a pause) inside and
    a question's intonation."""
    words, probabilities = vocabulary()
    count = int(rng.integers(MIN_WORDS, MAX_WORDS + 1))
    chosen = [words[i] for i in rng.choice(len(words), size=count, p=probabilities)]
    if include is not None:
        chosen[int(rng.integers(count))] = include
    if count >= 6 and rng.random() < 0.3:
        comma = int(rng.integers(2, count - 2))
        chosen[comma] += ","
    return " ".join(chosen) + ("?" if rng.random() < 0.1 else ".")
