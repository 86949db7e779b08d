"""Synthetic speakers: an eSpeak NG accent and voice variant plus fixed traits of their own.

Test speakers use variants that no train speaker uses, so the test set is speaker-disjoint
the way the real test set is.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

ACCENTS = ("en-us", "en-us-nyc")
TRAIN_VARIANTS = (
    "m1", "m3", "m4", "m5", "m6", "m7", "Andy", "Michael", "robert", "rob", "paul", "victor",
    "Denis", "travis", "quincy", "david", "edward", "Reed", "max", "grandpa",
    "f1", "f2", "f3", "f5", "Annie", "Alicia", "belinda", "aunty", "steph", "anika", "grandma",
    "shelby",
)  # fmt: skip
TEST_VARIANTS = ("m2", "Gene", "Mike", "f4", "Andrea", "linda")
SPEAKERS_PER_VARIANT = 8
# how far each speaker's F1, F2 and F3 regions may sit from the voice's own (a factor 1 +- this)
FORMANT_SPREAD = (0.2, 0.15, 0.1)
_SPEAKER_STREAM = 1  # keeps speaker traits apart from utterance randomness of the same seed


@dataclass(frozen=True)
class Speaker:
    """id: LibriSpeech-style number; voice: eSpeak name; pitch: eSpeak 0..100; rate: words per
    minute; warp: vocal-tract scale (above 1 raises formants); tilt: channel slope coefficient;
    formants: factors on the F1, F2 and F3 regions (`audio.reshape_spectrum`)."""

    id: int
    voice: str
    pitch: int
    rate: int
    warp: float
    tilt: float
    formants: tuple[float, float, float]

    def describe(self) -> dict[str, object]:
        return asdict(self)


def _formants(rng: np.random.Generator) -> tuple[float, float, float]:
    f1, f2, f3 = (round(float(rng.uniform(1 - s, 1 + s)), 3) for s in FORMANT_SPREAD)
    return f1, f2, f3


@functools.cache
def speakers(seed: int, split: str) -> tuple[Speaker, ...]:
    """The speakers of `split` ("train" or "test") for a corpus seed."""
    variants = TRAIN_VARIANTS if split == "train" else TEST_VARIANTS
    first_id = 100 if split == "train" else 900
    result = []
    for k in range(len(variants) * SPEAKERS_PER_VARIANT):
        rng = np.random.default_rng([seed, _SPEAKER_STREAM, first_id, k])
        accent = ACCENTS[int(rng.integers(len(ACCENTS)))]
        result.append(
            Speaker(
                id=first_id + k,
                voice=f"{accent}+{variants[k % len(variants)]}",
                pitch=int(rng.integers(30, 71)),
                rate=int(rng.integers(140, 191)),
                warp=round(float(rng.uniform(0.9, 1.1)), 3),
                tilt=round(float(rng.uniform(-0.5, 0.9)), 3),
                formants=_formants(rng),
            )
        )
    return tuple(result)
