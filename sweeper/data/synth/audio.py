"""Signal processing that turns clean synthetic speech into something harder: resampling with a
vocal-tract warp, a speaker's own formant regions and frame-to-frame spectral wobble, channel
tilt, reverberation, coloured or babble noise at a chosen SNR, and non-speech noise bursts.
Everything draws its randomness from the `rng` it is given.
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


def reshape_spectrum(
    wave: np.ndarray,
    rng: np.random.Generator,
    formants: tuple[float, float, float],
    fluctuation_db: float,
    bands: int,
    rate: int,
) -> np.ndarray:
    """`wave` with its spectral envelope warped region by region and jittered frame by frame.

    `formants` scales the frequencies around F1 (500 Hz), F2 (1.5 kHz) and F3 (2.5 kHz) by a
    factor each, so a speaker gets a vowel space of their own rather than the uniformly scaled
    one a vocal-tract warp gives (which per-utterance normalisation largely undoes). Every 10 ms
    frame then gets its own random gain in each of `bands` mel bands (standard deviation
    `fluctuation_db`): production and channel wobble that makes one frame an unreliable witness
    of its phone while the phone's other frames, which wobble independently, average it out.
    The STFT frames are the feature frames (25 ms every 10 ms from sample 0).
    """
    frequencies, _, spectrum = signal.stft(
        wave, fs=rate, window="hamming", nperseg=400, noverlap=240, boundary=None, padded=False
    )
    f1, f2, f3 = formants
    anchors = np.array([0.0, 500.0, 1500.0, 2500.0, 4000.0, rate / 2])
    moved = anchors * np.array([1.0, f1, f2, f3, 1.0, 1.0])
    source = np.interp(frequencies, moved, anchors) / frequencies[1]  # fractional source bin
    below = np.clip(np.floor(source).astype(int), 0, len(frequencies) - 2)
    weight = (source - below)[:, None]
    magnitude = np.abs(spectrum)
    warped = magnitude[below] * (1 - weight) + magnitude[below + 1] * weight
    mel = np.log1p(frequencies / 700.0)
    centres = np.linspace(0.0, mel[-1], bands)
    gains_db = rng.normal(0.0, fluctuation_db, (bands, spectrum.shape[1]))
    gains = 10 ** (np.stack([np.interp(mel, centres, g) for g in gains_db.T], axis=1) / 20)
    phase = np.exp(1j * np.angle(spectrum))
    _, out = signal.istft(
        warped * gains * phase, fs=rate, window="hamming", nperseg=400, noverlap=240, boundary=False
    )
    return np.pad(out, (0, max(0, len(wave) - len(out))))[: len(wave)]
