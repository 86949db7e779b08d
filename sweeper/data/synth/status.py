"""Whether a directory holds a synthetic corpus, and with which settings.

Apart from the audio stack (eSpeak NG, scipy, kaldi-native-fbank), so that a command run without
--data checks the embedded corpus without importing the generator.
"""

from __future__ import annotations

import json
from pathlib import Path

from sweeper.data.layout import METADATA_FILE
from sweeper.data.synth.plan import SETTINGS, Plan

WORK_DIR = ".synth"  # the generator's working state inside an unfinished corpus


def recorded_settings(out: Path) -> dict[str, int] | None:
    """The settings of the (finished or unfinished) corpus in `out`, if there is one."""
    for path in (out / METADATA_FILE, out / WORK_DIR / "plan.json"):
        try:
            recorded = json.loads(path.read_text())
            return {key: recorded[key] for key in SETTINGS}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def is_complete(out: Path, plan: Plan) -> bool:
    """Whether `out` holds the finished corpus of `plan`."""
    return (out / METADATA_FILE).is_file() and recorded_settings(out) == plan.settings()
