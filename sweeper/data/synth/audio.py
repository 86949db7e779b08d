"""Signal processing that turns clean synthetic speech into something harder: resampling with a
vocal-tract warp, channel tilt, reverberation, coloured or babble noise at a chosen SNR, and
non-speech noise bursts. Everything draws its randomness from the `rng` it is given.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, signal


def resample(wave: np.ndarray, ratio: float) -> np.ndarray:
    """`wave` resampled to `ratio` times as many samples (band-limited, FFT based)."""
    # padding to a fast FFT length keeps odd (even prime) lengths cheap; the pad is silence
    padded = fft.next_fast_len(len(wave))
    out = signal.resample(np.pad(wave, (0, padded - len(wave))), round(padded * ratio))
    return out[: round(len(wave) * ratio)]


def tilt(wave: np.ndarray, coefficient: float) -> np.ndarray:
    """A first-order channel: positive coefficients brighten, negative ones muffle."""
    return signal.lfilter([1.0, -coefficient], [1.0], wave)


def reverberate(wave: np.ndarray, rng: np.random.Generator, rate: int, rt60: float) -> np.ndarray:
    """`wave` in a room with reverberation time `rt60` seconds (synthetic impulse response)."""
    t = np.arange(int(rt60 * rate)) / rate
    response = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * 0.3
    response[0] = 1.0  # the direct path
    response /= np.sqrt(np.sum(response**2))
    return signal.fftconvolve(wave, response)[: len(wave)]


def coloured_noise(rng: np.random.Generator, length: int, exponent: float) -> np.ndarray:
    """Unit-power noise with a 1/f**exponent power spectrum (0 white, 1 pink, 2 brown)."""
    size = fft.next_fast_len(length)
    spectrum = fft.rfft(rng.standard_normal(size))
    frequencies = np.arange(len(spectrum), dtype=np.float64)
    frequencies[0] = 1.0
    noise = fft.irfft(spectrum / frequencies ** (exponent / 2), size)[:length]
    return noise / np.sqrt(np.mean(noise**2))


def babble(rng: np.random.Generator, bank: np.ndarray, length: int, talkers: int) -> np.ndarray:
    """Unit-power background chatter: `talkers` random stretches of `bank` (speech) summed."""
    mixture = np.zeros(length)
    for _ in range(talkers):
        start = int(rng.integers(0, len(bank) - length)) if len(bank) > length else 0
        piece = bank[start : start + length]
        mixture[: len(piece)] += piece * rng.uniform(0.5, 1.0)
    return mixture / np.sqrt(np.mean(mixture**2) + 1e-12)


def add_noise(wave: np.ndarray, noise: np.ndarray, snr_db: float, speech: np.ndarray) -> np.ndarray:
    """`wave` plus `noise` scaled to `snr_db` below the power of the `speech` samples (the
    speaking part of the clean utterance: pauses do not lower the bar)."""
    power = np.mean(speech**2)
    return wave + noise * np.sqrt(power / 10 ** (snr_db / 10) / np.mean(noise**2))


def burst(rng: np.random.Generator, rate: int) -> np.ndarray:
    """A non-speech noise: a breath, a cough-like burst or a hum, 0.1 to 0.35 s, unit peak."""
    length = int(rng.uniform(0.1, 0.35) * rate)
    t = np.arange(length) / rate
    kind = rng.integers(3)
    if kind == 0:  # breath: high-passed noise with a smooth envelope
        sos = signal.butter(4, rng.uniform(1500, 3500), "highpass", fs=rate, output="sos")
        sound = signal.sosfilt(sos, rng.standard_normal(length)) * np.hanning(length)
    elif kind == 1:  # cough: band-limited noise, sharp onset, fast decay
        low = rng.uniform(200, 600)
        sos = signal.butter(2, [low, low * rng.uniform(4, 8)], "bandpass", fs=rate, output="sos")
        sound = signal.sosfilt(sos, rng.standard_normal(length)) * np.exp(
            -t / rng.uniform(0.04, 0.12)
        )
    else:  # hum: a few harmonics of a low tone
        f0 = rng.uniform(90, 250)
        sound = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.hanning(length)
    return sound / (np.max(np.abs(sound)) + 1e-12)
