"""Sentences of common English words, sampled by their frequency in `wordfreq`'s English list."""

from __future__ import annotations

import functools
import re

import numpy as np
import wordfreq

VOCABULARY_SIZE = 150
MIN_WORDS, MAX_WORDS = 4, 20
# The rarest phones (ZH, OY, TH, JH, CH, G) may miss a small corpus entirely; the first train
# sentences each get one of these words, so that every class occurs even in the tiny corpus.
COVERAGE_WORDS = ("usually", "choice", "think", "just", "much", "good")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@functools.cache
def vocabulary() -> tuple[tuple[str, ...], np.ndarray]:
    """The words and their sampling probabilities (proportional to frequency).

    Stray single letters (tokeniser leftovers such as "s" and "t") are left out; "a" and "i" stay.
    """
    words = tuple(
        word
        for word in wordfreq.top_n_list("en", VOCABULARY_SIZE)
        if _WORD.fullmatch(word) and (len(word) > 1 or word in ("a", "i"))
    )
    frequencies = np.array([wordfreq.word_frequency(word, "en") for word in words])
    return words, frequencies / frequencies.sum()


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
