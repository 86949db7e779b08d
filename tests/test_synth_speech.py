"""The speech side of the embedded corpus: eSpeak NG binding, phone labels, pronunciation."""

from __future__ import annotations

import numpy as np
import pytest

from sweeper.data.synth import audio
from sweeper.data.synth.espeak import phonemize, synthesize
from sweeper.data.synth.features import SAMPLE_RATE
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


def _peak_hz(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(wave))


def test_a_speakers_formant_factors_move_that_region_of_the_spectrum() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    rng = np.random.default_rng(0)
    for hz, formants, moved in ((500, (1.2, 1.0, 1.0), 600), (1500, (1.0, 0.85, 1.0), 1275)):
        tone = np.sin(2 * np.pi * hz * t)
        same = audio.reshape_spectrum(tone, rng, (1.0, 1.0, 1.0), 0.0, 16, SAMPLE_RATE)
        assert np.allclose(same[800:-800], tone[800:-800], atol=1e-6)  # factors of 1: unchanged
        warped = audio.reshape_spectrum(tone, rng, formants, 0.0, 16, SAMPLE_RATE)
        assert abs(_peak_hz(warped) - moved) <= 40, (hz, _peak_hz(warped))  # one STFT bin


def _band_db(wave: np.ndarray) -> np.ndarray:
    """(frames, 8): each 25 ms frame's energy in 8 bands from 240 Hz to 7.9 kHz, in dB."""
    frames = np.lib.stride_tricks.sliding_window_view(wave, 400)[::160] * np.hamming(400)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return 10 * np.log10(power[:, 6:198].reshape(len(frames), 8, 24).mean(2))


def test_frame_fluctuation_makes_frames_differ_but_averages_out_over_a_phone() -> None:
    """White noise sounds the same in every frame; fluctuation makes each frame's band
    energies wander by several dB while a phone-long (8-frame) average keeps them."""
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(SAMPLE_RATE)
    plain = _band_db(noise)
    wobbly = _band_db(audio.reshape_spectrum(noise, rng, (1.0, 1.0, 1.0), 6.0, 16, SAMPLE_RATE))
    assert wobbly.std(0).mean() > 2.5 * plain.std(0).mean(), (wobbly.std(0), plain.std(0))
    phones = wobbly[: len(wobbly) // 8 * 8].reshape(-1, 8, 8).mean(1)
    assert phones.std(0).mean() < 0.6 * wobbly.std(0).mean()
