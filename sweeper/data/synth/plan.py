"""What a synthetic corpus is made of: its sizes, seed and generator version.

Light to import (standard library only): `sweeper --help` reads the sizes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sweeper.errors import DataError

# Bumped whenever the same plan would give other bytes: names the embedded corpus's cache dir.
GENERATOR_VERSION = 3
DEFAULT_SEED = 1337
SIZES: dict[str, tuple[int, int]] = {"tiny": (48, 12), "small": (480, 120), "full": (5000, 1250)}
MAX_UTTERANCES = 1_000_000
SETTINGS = ("generator_version", "seed", "train_utterances", "test_utterances")


@dataclass(frozen=True)
class Plan:
    """What to generate: the same plan always gives the same bytes."""

    seed: int
    train_utterances: int
    test_utterances: int

    @classmethod
    def sized(
        cls, size: str, seed: int = DEFAULT_SEED, train: int | None = None, test: int | None = None
    ) -> Plan:
        """A named size, optionally with its utterance counts overridden."""
        if size not in SIZES:
            raise DataError(f"--size must be one of {', '.join(SIZES)}, not {size!r}")
        if seed < 0:
            raise DataError(f"--seed must be 0 or more, not {seed}")
        plan = cls(seed, train or SIZES[size][0], test or SIZES[size][1])
        # training needs at least two utterances: the course split takes a validation part
        for flag, count, least in (
            ("--train-utterances", train, 2),
            ("--test-utterances", test, 1),
        ):
            if count is not None and not least <= count <= MAX_UTTERANCES:
                raise DataError(
                    f"{flag} must be between {least} and {MAX_UTTERANCES:,}, not {count}"
                )
        return plan

    def count(self, split: str) -> int:
        return self.train_utterances if split == "train" else self.test_utterances

    def settings(self) -> dict[str, int]:
        """What identifies the corpus: equal settings, equal bytes."""
        values = (GENERATOR_VERSION, self.seed, self.train_utterances, self.test_utterances)
        return dict(zip(SETTINGS, values, strict=True))

    def utterance_id(self, split: str, index: int) -> str:
        """LibriSpeech style: speaker, then the utterance's number."""
        from sweeper.data.synth.speakers import speakers  # numpy: kept out of CLI start-up

        voices = speakers(self.seed, split)
        return f"{voices[index % len(voices)].id}-{index:06d}"


def default_jobs() -> int:
    """Worker processes when the user names none: the CPUs, up to 8."""
    return min(os.cpu_count() or 1, 8)
