"""The course's features: 13 MFCC + delta + delta-delta (39) with per-utterance CMVN.

16 kHz audio, 25 ms windows every 10 ms (Kaldi's defaults, `snip_edges`: only whole windows),
computed by kaldi-native-fbank. Dither is off so that the same audio gives the same bytes.
"""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np

SAMPLE_RATE = 16_000
FRAME_LENGTH = 400  # samples: 25 ms
FRAME_SHIFT = 160  # samples: 10 ms


def _mfcc_options() -> knf.MfccOptions:
    options = knf.MfccOptions(num_ceps=13, use_energy=False)
    options.frame_opts.samp_freq = SAMPLE_RATE
    options.frame_opts.frame_length_ms = 1000 * FRAME_LENGTH / SAMPLE_RATE
    options.frame_opts.frame_shift_ms = 1000 * FRAME_SHIFT / SAMPLE_RATE
    options.frame_opts.dither = 0.0
    options.frame_opts.snip_edges = True
    return options


def num_frames(num_samples: int) -> int:
    return 0 if num_samples < FRAME_LENGTH else 1 + (num_samples - FRAME_LENGTH) // FRAME_SHIFT


def frame_centres(count: int) -> np.ndarray:
    """The sample at the centre of each frame: a frame's label is the phone there."""
    return np.arange(count, dtype=np.int64) * FRAME_SHIFT + FRAME_LENGTH // 2


def features(wave: np.ndarray) -> np.ndarray:
    """float32 (frames, 39) for a float waveform at 16 kHz."""
    computer = knf.OnlineMfcc(_mfcc_options())
    computer.accept_waveform(SAMPLE_RATE, wave.astype(np.float32))
    computer.input_finished()
    mfcc = np.stack([computer.get_frame(t) for t in range(computer.num_frames_ready)])
    with_deltas = knf.compute_deltas(knf.DeltaOptions(order=2, window=2), mfcc)
    stats = knf.compute_cmvn_stats(with_deltas)
    return knf.apply_cmvn(stats, knf.CmvnOptions(norm_vars=True), with_deltas)
