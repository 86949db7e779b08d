"""One synthetic utterance: a sentence -> its lexicon phones -> a varied pronunciation spoken by
eSpeak NG -> perturbed, noisy audio -> (features, frame labels).

The knobs that set the corpus's difficulty are the constants below; corpus.json records them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from sweeper.data.synth import audio, pronunciation
from sweeper.data.synth.espeak import phonemize, synthesize
from sweeper.data.synth.features import SAMPLE_RATE, features, frame_centres
from sweeper.data.synth.phonemes import phone_segments, segment_labels
from sweeper.data.synth.speakers import (
    FORMANT_SPREAD,
    SPEAKERS_PER_VARIANT,
    TRAIN_VARIANTS,
    Speaker,
)
from sweeper.data.synth.text import VOCABULARY_SIZE, sentence
from sweeper.phones import SILENCE, SPOKEN_NOISE

VARIATION_RATE = 0.5  # phones spoken as a confusable neighbour, labelled as the lexicon says
RATE_JITTER = (0.85, 1.15)  # per-utterance factor on the speaker's words per minute
WARP_JITTER = (0.97, 1.03)  # per-utterance factor on the speaker's vocal-tract warp
PITCH_JITTER = 6.0  # standard deviation around the speaker's pitch (eSpeak units)
PITCH_RANGE = (20, 90)  # eSpeak intonation range
EDGE_SILENCE_S = (0.1, 0.5)  # silence before and after the sentence
BURSTS_PER_UTTERANCE = 0.25  # mean of a Poisson count of inserted non-speech noises (spn)
BURST_LEVEL = (0.1, 0.6)  # burst peak relative to the speech peak
REVERB_PROBABILITY = 0.5
RT60_S = (0.15, 0.6)
NOISE_KINDS = {"white": 0.2, "pink": 0.3, "brown": 0.2, "babble": 0.3}
NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
BABBLE_TALKERS = (2, 6)
SNR_DB = (10.0, 35.0)
FLUCTUATION_DB = 6.0  # per frame and mel band (audio.reshape_spectrum)
FLUCTUATION_BANDS = 16
_BABBLE_STREAM = 2


def knobs() -> dict[str, object]:
    """The difficulty settings, for corpus.json."""
    return {
        "variation_rate": VARIATION_RATE,
        "rate_jitter": RATE_JITTER,
        "warp_jitter": WARP_JITTER,
        "pitch_jitter": PITCH_JITTER,
        "pitch_range": PITCH_RANGE,
        "edge_silence_s": EDGE_SILENCE_S,
        "bursts_per_utterance": BURSTS_PER_UTTERANCE,
        "burst_level": BURST_LEVEL,
        "reverb_probability": REVERB_PROBABILITY,
        "rt60_s": RT60_S,
        "noise_kinds": NOISE_KINDS,
        "babble_talkers": BABBLE_TALKERS,
        "snr_db": SNR_DB,
        "fluctuation_db": FLUCTUATION_DB,
        "fluctuation_bands": FLUCTUATION_BANDS,
        "formant_spread": FORMANT_SPREAD,
        "speakers_per_variant": SPEAKERS_PER_VARIANT,
        "vocabulary_size": VOCABULARY_SIZE,
    }


@dataclass(frozen=True)
class Utterance:
    features: np.ndarray  # float32 (frames, 39)
    labels: np.ndarray  # int64 (frames,)


Segments = list[tuple[int, int]]


def _splice(wave: np.ndarray, segments: Segments, at: int, piece: np.ndarray, label: int):
    """Insert `piece` (labelled `label`) at sample `at`; what was there resumes after it."""
    before = [(start, phone) for start, phone in segments if start < at]
    after = [(start + len(piece), phone) for start, phone in segments if start >= at]
    resumed = next(phone for start, phone in reversed(segments) if start <= at)
    spliced = [*before, (at, label), (at + len(piece), resumed), *after]
    return np.concatenate([wave[:at], piece, wave[at:]]), spliced


def _pad(wave: np.ndarray, segments: Segments, lead: int, trail: int):
    """Silence around the sentence (eSpeak's own pauses are short)."""
    shifted = [(0, SILENCE)] + [(start + lead, phone) for start, phone in segments]
    shifted.append((lead + len(wave), SILENCE))
    return np.concatenate([np.zeros(lead), wave, np.zeros(trail)]), shifted


@functools.cache
def babble_bank(seed: int) -> np.ndarray:
    """About a minute of unit-power speech by train voices at 16 kHz, the same in every process."""
    rng = np.random.default_rng([seed, _BABBLE_STREAM])
    pieces = []
    for _ in range(16):
        voice = f"en-us+{TRAIN_VARIANTS[int(rng.integers(len(TRAIN_VARIANTS)))]}"
        rate = int(rng.integers(140, 200))
        speech = synthesize(sentence(rng), voice, rate, 50, 50, int(rng.integers(2**31)))
        wave = audio.resample(speech.samples / 32768.0, SAMPLE_RATE / speech.sample_rate)
        pieces.append(wave / np.sqrt(np.mean(wave**2)))
    return np.concatenate(pieces)


def render(
    speaker: Speaker, rng: np.random.Generator, seed: int, include: str | None = None
) -> Utterance:
    """A new utterance by `speaker` (saying the word `include` among others); every random
    choice comes from `rng`, the babble noise from the corpus `seed`."""
    text = sentence(rng, include)
    spoken, lexicon = pronunciation.vary(phonemize(text, speaker.voice), rng, VARIATION_RATE)
    speech = synthesize(
        spoken,
        speaker.voice,
        rate=round(speaker.rate * rng.uniform(*RATE_JITTER)),
        pitch=int(np.clip(round(speaker.pitch + rng.normal(0, PITCH_JITTER)), 0, 100)),
        pitch_range=int(rng.integers(*PITCH_RANGE)),
        noise_seed=int(rng.integers(2**31)),
    )
    rate = speech.sample_rate
    wave = speech.samples / 32768.0
    segments = phone_segments(pronunciation.relabel(speech.phonemes, lexicon), len(wave))

    peak = np.max(np.abs(wave))
    places = [*speech.words, len(wave)]
    chosen = rng.choice(places, size=min(rng.poisson(BURSTS_PER_UTTERANCE), len(places)))
    for at in sorted(chosen.tolist(), reverse=True):  # from the end: earlier places stay valid
        noise = audio.burst(rng, rate) * peak * rng.uniform(*BURST_LEVEL)
        wave, segments = _splice(wave, segments, at, noise, SPOKEN_NOISE)
    lead, trail = (int(rng.uniform(*EDGE_SILENCE_S) * rate) for _ in range(2))
    wave, segments = _pad(wave, segments, lead, trail)

    ratio = SAMPLE_RATE / rate / (speaker.warp * rng.uniform(*WARP_JITTER))
    wave = audio.resample(wave, ratio)
    segments = [(round(start * ratio), phone) for start, phone in segments]
    wave = audio.reshape_spectrum(
        wave, rng, speaker.formants, FLUCTUATION_DB, FLUCTUATION_BANDS, SAMPLE_RATE
    )
    wave = audio.tilt(wave, speaker.tilt + rng.normal(0, 0.1))
    if rng.random() < REVERB_PROBABILITY:
        wave = audio.reverberate(wave, rng, SAMPLE_RATE, rng.uniform(*RT60_S))

    speech_only = wave[segment_labels(segments, np.arange(len(wave))) != SILENCE]
    kind = rng.choice(list(NOISE_KINDS), p=list(NOISE_KINDS.values()))
    if kind == "babble":
        noise = audio.babble(rng, babble_bank(seed), len(wave), int(rng.integers(*BABBLE_TALKERS)))
    else:
        noise = audio.coloured_noise(rng, len(wave), NOISE_EXPONENTS[kind])
    wave = audio.add_noise(wave, noise, rng.uniform(*SNR_DB), speech_only)

    feats = features(wave)
    return Utterance(feats, segment_labels(segments, frame_centres(len(feats))))
