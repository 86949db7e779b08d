"""The speech side of the embedded corpus: eSpeak NG binding, phone labels, pronunciation."""

from __future__ import annotations

import numpy as np
import pytest

from sweeper.data.synth.espeak import phonemize, synthesize
from sweeper.data.synth.phonemes import MNEMONICS, phone_segments, segment_labels
from sweeper.data.synth.pronunciation import relabel, tokenize, vary
from sweeper.data.synth.speakers import ACCENTS
from sweeper.data.synth.text import vocabulary
from sweeper.phones import PHONES


def test_speech_depends_only_on_its_arguments_not_on_what_came_before() -> None:
    first = synthesize("the quick brown fox.", "en-us+m3", 170, 50, 50, noise_seed=1)
    synthesize("something else entirely, said differently.", "en-us+f2", 120, 80, 20, 7)
    again = synthesize("the quick brown fox.", "en-us+m3", 170, 50, 50, noise_seed=1)
    assert np.array_equal(first.samples, again.samples)
    assert first.phonemes == again.phonemes
    assert [m for _, m in first.phonemes][:4] == ["D", "@2", "k", "w"]


@pytest.mark.parametrize("accent", ACCENTS)
def test_every_vocabulary_word_is_spoken_with_phones_the_labels_know(accent: str) -> None:
    words, _ = vocabulary()
    for start in range(0, len(words), 100):
        for clause in phonemize(" ".join(words[start : start + 100]), accent):
            for word in clause.split():
                assert tokenize(word) is not None, word


def test_labels_follow_the_lexicon_when_a_phone_is_spoken_differently() -> None:
    rng = np.random.default_rng(0)
    spoken, lexicon = vary(["D@2 k'aat"], rng, rate=1.0)  # "the cat", every phone swapped
    assert lexicon == ["D", "@2", "k", "aa", "t"]
    assert spoken != "[[D@2 k'aat]]"
    speech = synthesize(spoken, "en-us", 170, 50, 50, 1)
    assert [m for _, m in relabel(speech.phonemes, lexicon) if m[0] != "_"] == lexicon


def test_frames_take_the_phone_at_their_centre() -> None:
    # silence until sample 100, then "s" (two samples of it), then "aI@" split into AY and ER
    segments = phone_segments([(100, "s"), (102, "aI@")], end=110)
    labels = segment_labels(segments, np.array([0, 99, 100, 101, 102, 105, 106, 109]))
    assert [PHONES[i] for i in labels] == ["sil", "sil", "S", "S", "AY", "AY", "ER", "ER"]
    assert all(set(phones) <= set(PHONES) for phones in MNEMONICS.values())
