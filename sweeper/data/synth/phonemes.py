"""eSpeak NG phoneme mnemonics (en-us voices) mapped onto the 41 classes of `sweeper.phones`.

The mapping follows the CMU dictionary's conventions, which the course's labels use: flaps and
glottal stops are T, syllabic l and n are AH + L / AH + N, and vowel + r mnemonics are the vowel
then R (their duration is split evenly). `;` is eSpeak's short glide between two vowels; it
belongs to the vowel before it. Pauses are `sil`; `spn` is never spoken, only inserted noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sweeper.phones import PHONES, SILENCE

MNEMONICS: dict[str, tuple[str, ...]] = {
    # consonants
    "p": ("P",), "b": ("B",), "t": ("T",), "t#": ("T",), "t2": ("T",), "?": ("T",), "d": ("D",),
    "k": ("K",), "x": ("K",), "g": ("G",), "f": ("F",), "v": ("V",), "T": ("TH",), "D": ("DH",),
    "s": ("S",), "z": ("Z",), "S": ("SH",), "Z": ("ZH",), "h": ("HH",), "tS": ("CH",),
    "dZ": ("JH",), "m": ("M",), "n": ("N",), "N": ("NG",), "l": ("L",), "r": ("R",),
    "r-": ("R",), "L": ("L",), "j": ("Y",), "w": ("W",), "n-": ("AH", "N"), "@L": ("AH", "L"),
    # vowels
    "@": ("AH",), "@2": ("AH",), "@-": ("AH",), "a#": ("AH",), "V": ("AH",), "3": ("ER",),
    "3:": ("ER",), "a": ("AE",), "aa": ("AE",), "0": ("AA",), "A:": ("AA",), "E": ("EH",),
    "eI": ("EY",), "i": ("IY",), "i:": ("IY",), "I": ("IH",), "I#": ("IH",), "I2": ("IH",),
    "i@": ("IH",), "O": ("AO",), "O:": ("AO",), "O2": ("AO",), "OI": ("OY",), "oU": ("OW",),
    "U": ("UH",), "u:": ("UW",), "aI": ("AY",), "aU": ("AW",),
    "A@": ("AA", "R"), "e@": ("EH", "R"), "i@3": ("IH", "R"), "o@": ("AO", "R"),
    "O@": ("AO", "R"), "U@": ("UH", "R"), "aI@": ("AY", "ER"), "aI3": ("AY", "ER"),
    "aU@": ("AW", "ER"),
    ";": (),
    # pauses
    "_": ("sil",), "_:": ("sil",), "_!": ("sil",), "_|": ("sil",),
}  # fmt: skip


def phone_segments(phonemes: Sequence[tuple[int, str]], end: int) -> list[tuple[int, int]]:
    """(first sample, class) segments covering samples 0..end from eSpeak's phoneme events.

    Audio before the first event is silence.
    """
    segments = [(0, SILENCE)]
    for i, (start, mnemonic) in enumerate(phonemes):
        stop = phonemes[i + 1][0] if i + 1 < len(phonemes) else end
        phones = MNEMONICS[mnemonic]
        for k, phone in enumerate(phones):
            segments.append((start + (stop - start) * k // len(phones), PHONES.index(phone)))
    return segments


def segment_labels(segments: Sequence[tuple[int, int]], positions: np.ndarray) -> np.ndarray:
    """The class of the segment holding each sample position, int64."""
    starts = np.array([start for start, _ in segments], dtype=np.int64)
    classes = np.array([phone for _, phone in segments], dtype=np.int64)
    return classes[np.searchsorted(starts, positions, side="right") - 1]
