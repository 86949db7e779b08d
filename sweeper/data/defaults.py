"""The default dataset: the directory a command was given, else the embedded corpus.

The embedded corpus (the `small` synthetic corpus, fixed seed) lives in the user cache dir and is
generated on first use. Generation locks that directory, so two commands started at
once generate it once. Light to import: the generator is imported only when it is needed.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from rich.console import Console

EMBEDDED_SIZE = "small"


def embedded_corpus_dir(size: str | None = None) -> Path:
    """Where the embedded corpus (or another size of it) lives; the name changes with the
    generator version."""
    from sweeper.data.synth.plan import DEFAULT_SEED, GENERATOR_VERSION

    cache = Path(platformdirs.user_cache_dir("sweeper"))
    return cache / f"corpus-{GENERATOR_VERSION}-{size or EMBEDDED_SIZE}-{DEFAULT_SEED}"


def resolve_data_dir(data: Path | None, size: str | None = None) -> Path:
    """`data` when given; otherwise the embedded corpus (of `size`: benchmarks ask for others),
    generated first if it is not there."""
    if data is not None:
        return data
    from sweeper.data.synth.plan import Plan, default_jobs
    from sweeper.data.synth.status import is_complete

    size = size or EMBEDDED_SIZE
    plan = Plan.sized(size)
    target = embedded_corpus_dir(size)
    if not is_complete(target, plan):
        console = Console(stderr=True)
        console.print(
            f"No --data given: generating the embedded corpus ({size}, "
            f"{plan.train_utterances} + {plan.test_utterances} utterances) into {target}. "
            "This happens once.",
            highlight=False,
            soft_wrap=True,
        )
        # the audio stack takes seconds to import: only when there is something to generate
        from sweeper.data.synth.generate import generate_corpus
        from sweeper.data.synth.progress import progress_bar

        with progress_bar(console, "synthesising") as progress:
            generate_corpus(target, plan, jobs=default_jobs(), progress=progress)
    return target
