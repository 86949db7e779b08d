"""Pronunciation variation: some phones are spoken as a confusable neighbour while the labels
keep the dictionary's phone.

Real frame labels come from forced alignment against a pronouncing lexicon, so they name the
phone the word should have, whatever the speaker said (a reduced vowel, a devoiced z, a dropped
g). That is a large part of why one frame is ambiguous on real data and why its neighbours,
which tell which word it is in, help. eSpeak NG always says exactly what it is told; this
module makes it say something slightly different and keeps the lexicon's labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sweeper.data.synth.phonemes import MNEMONICS

# What each phone may be spoken as instead: vowel reduction and shifts, devoicing, th-stopping,
# g-dropping. Only one-to-one swaps, so the spoken phones stay aligned with the lexicon's.
SUBSTITUTES: dict[str, tuple[str, ...]] = {
    "i:": ("I", "i"), "i": ("I", "@"), "I": ("i", "E", "@"), "I#": ("@", "i"), "I2": ("@", "i"),
    "E": ("a", "I", "eI"), "a": ("E", "aa"), "aa": ("a", "A:"), "0": ("O:", "V", "A:"),
    "A:": ("0", "O:"), "O:": ("0", "oU"), "O2": ("0", "O:"), "V": ("@", "0", "a"),
    "@": ("V", "I2", "I"), "@2": ("V", "I2"), "a#": ("@", "E"), "3": ("@", "3:"), "3:": ("3", "V"),
    "U": ("u:", "V"), "u:": ("U", "oU"), "eI": ("E", "i:"), "oU": ("O:", "V", "u:"),
    "aI": ("a", "0"), "aU": ("a", "oU"), "OI": ("oU",),
    "D": ("d", "z"), "T": ("t", "f"), "z": ("s",), "v": ("f", "b"), "d": ("t",), "N": ("n",),
    "b": ("p",), "g": ("k",), "s": ("z",), "n": ("m", "N"), "m": ("n",),
}  # fmt: skip
# stress marks, pauses and glides are spoken but are not phones of the lexicon (eSpeak adds
# and drops pauses and glides as it pleases)
_UNALIGNED = frozenset(m for m, phones in MNEMONICS.items() if phones in (("sil",), ()))
_MARKS = frozenset({"'", ",", "%", "=", *_UNALIGNED})
_TOKENS = sorted({*MNEMONICS, *_MARKS}, key=len, reverse=True)


def tokenize(word: str) -> list[str] | None:
    """One word of eSpeak's mnemonic string split as eSpeak reads it (longest mnemonic first);
    None if it holds a mnemonic this module does not know."""
    tokens, i = [], 0
    while i < len(word):
        token = next((t for t in _TOKENS if word.startswith(t, i)), None)
        if token is None:
            return None
        tokens.append(token)
        i += len(token)
    return tokens


def vary(
    clauses: Sequence[str], rng: np.random.Generator, rate: float
) -> tuple[str, list[str] | None]:
    """(what to speak, in eSpeak's [[...]] notation; the lexicon's phones in spoken order).

    Each phone with substitutes is swapped with probability `rate`, unless the swap would make
    eSpeak read the word's mnemonics differently (two merging into one). The lexicon's phones
    are None when a word could not be parsed: then nothing is swapped and the labels follow
    what is spoken.
    """
    spoken_clauses: list[str] = []
    lexicon: list[str] = []
    for clause in clauses:
        spoken_words = []
        for word in clause.split():
            tokens = tokenize(word)
            if tokens is None:
                return "[[" + " _: ".join(clauses) + "]]", None
            varied = [
                token
                if token in _MARKS or token not in SUBSTITUTES or rng.random() >= rate
                else SUBSTITUTES[token][int(rng.integers(len(SUBSTITUTES[token])))]
                for token in tokens
            ]
            if tokenize("".join(varied)) != varied:
                varied = tokens
            spoken_words.append("".join(varied))
            lexicon.extend(token for token in tokens if token not in _MARKS)
        spoken_clauses.append(" ".join(spoken_words))
    return "[[" + " _: ".join(spoken_clauses) + "]]", lexicon


def relabel(
    events: Sequence[tuple[int, str]], lexicon: Sequence[str] | None
) -> list[tuple[int, str]]:
    """eSpeak's phoneme events with each spoken phone replaced by the lexicon's.

    Pauses and glides keep their place. If eSpeak did not speak the phones one to one (it
    rarely inserts one, such as a linking r), the events are returned as spoken.
    """
    phones = [i for i, (_, mnemonic) in enumerate(events) if mnemonic not in _UNALIGNED]
    if lexicon is None or len(phones) != len(lexicon):
        return list(events)
    relabelled = list(events)
    for i, phone in zip(phones, lexicon, strict=True):
        relabelled[i] = (events[i][0], phone)
    return relabelled
