"""A ctypes binding to the eSpeak NG library shipped by the `espeakng-loader` wheel.

eSpeak NG keeps state between sentences in static variables (pitch flutter phase, gain control,
echo buffer) that `espeak_Terminate` does not reset, so a sentence's audio would depend on what
the same process spoke before it. `synthesize` therefore maps the library afresh for every
sentence (dlopen, then dlclose), which makes its output a pure function of its arguments: the
corpus bytes must not depend on --jobs or on resumption. That costs about 2 ms a sentence.
The library is process-global state: never call `synthesize` from two threads at once.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import espeakng_loader
import numpy as np

_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: the callback runs before espeak_Synth returns
_PHONEME_EVENTS = 1  # espeakINITIALIZE_PHONEME_EVENTS
_CHARS_UTF8 = 1
_PHONEME_INPUT = 0x100  # espeakPHONEMES: text between [[ and ]] is phoneme mnemonics
_POS_CHARACTER = 1
_EVENT_END_OF_LIST = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)

_libc = ctypes.CDLL(None)  # srand (the library's breath noise uses rand()) and dlclose
_libc.dlclose.argtypes = (ctypes.c_void_p,)


@dataclass(frozen=True)
class Speech:
    """One synthesised sentence.

    samples:  int16 mono audio at `sample_rate`.
    phonemes: (first sample, eSpeak mnemonic without stress marks) in time order.
    words:    first sample of each word.
    """

    samples: np.ndarray
    sample_rate: int
    phonemes: tuple[tuple[int, str], ...]
    words: tuple[int, ...]


class _Recorder:
    """Collects what the library's callback delivers during one espeak_Synth call."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.phonemes: list[tuple[int, str]] = []
        self.words: list[int] = []
        self.callback = _Callback(self._receive)  # the library keeps only a raw pointer

    def _receive(self, wav: ctypes.Array, count: int, events: ctypes.Array) -> int:
        if count > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != _EVENT_END_OF_LIST:
            event = events[i]
            if event.type == _EVENT_PHONEME:
                self.phonemes.append((event.sample, event.id.string.decode().lstrip("',")))
            elif event.type == _EVENT_WORD:
                self.words.append(event.sample)
            i += 1
        return 0


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
    lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
    lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
    lib.espeak_ng_SetRandSeed.argtypes = (ctypes.c_long,)
    lib.espeak_TextToPhonemes.argtypes = (
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.c_int,
        ctypes.c_int,
    )
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_Synth.argtypes = (
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    )
    return lib


@contextmanager
def _fresh_library(voice: str) -> Iterator[ctypes.CDLL]:
    """The library, newly mapped and initialised, speaking with `voice`; unmapped afterwards."""
    lib = _load()
    try:
        data_path = espeakng_loader.get_data_path()
        if lib.espeak_Initialize(_SYNCHRONOUS, 0, data_path.encode(), _PHONEME_EVENTS) <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise from {data_path}")
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r}")
        yield lib
    finally:
        lib.espeak_Terminate()
        _libc.dlclose(lib._handle)


def phonemize(text: str, voice: str) -> list[str]:
    """`text` as eSpeak phoneme mnemonics in `voice`'s accent, one string per clause (words
    separated by spaces, stress marks included): what `synthesize(f"[[{clause}]]")` speaks."""
    clauses = []
    with _fresh_library(voice) as lib:
        pointer = ctypes.c_char_p(text.encode())
        while pointer.value:
            clauses.append(
                lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, 0).decode()
            )
    return clauses


def synthesize(
    text: str, voice: str, rate: int, pitch: int, pitch_range: int, noise_seed: int
) -> Speech:
    """Speak `text` (which may hold phoneme mnemonics between [[ and ]]) with `voice` (e.g.
    "en-us+m3"): rate in words per minute, pitch and its range 0..100; `noise_seed` seeds the
    breath and aspiration noise."""
    recorder = _Recorder()
    with _fresh_library(voice) as lib:
        sample_rate = lib.espeak_ng_GetSampleRate()
        lib.espeak_SetSynthCallback(recorder.callback)
        for parameter, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range)):
            lib.espeak_SetParameter(parameter, value, 0)
        lib.espeak_ng_SetRandSeed(noise_seed)
        _libc.srand(noise_seed)
        encoded = text.encode()
        flags = _CHARS_UTF8 | _PHONEME_INPUT
        status = lib.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, flags, None, None
        )
        if status != 0:
            raise RuntimeError(f"eSpeak NG failed (status {status}) on {text!r}")
    samples = np.concatenate(recorder.chunks) if recorder.chunks else np.zeros(0, np.int16)
    return Speech(samples, sample_rate, tuple(recorder.phonemes), tuple(recorder.words))
