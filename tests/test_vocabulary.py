"""The embedded corpus's vocabulary is exactly the one its bytes were generated from."""

from __future__ import annotations

import hashlib

from sweeper.data.synth.text import vocabulary

# sha256 of repr((words, probabilities)) as wordfreq 3.1.1 gave them when the vocabulary was
# read from wordfreq itself (generator version 3): any edit of vocabulary.tsv or of its parsing
# that would change a corpus's bytes changes this
GOLDEN = "c3343d36605450245b523f8bdbddaf4851872a534cb8d7f2a9d5c62d1dba9cab"


def test_the_vocabulary_is_the_one_the_corpus_was_made_from() -> None:
    words, probabilities = vocabulary()
    assert (len(words), words[:3], words[-1]) == (146, ("the", "to", "and"), "long")
    digest = hashlib.sha256(repr((words, probabilities.tolist())).encode()).hexdigest()
    assert digest == GOLDEN
