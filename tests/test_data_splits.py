"""The course's train/val split and seeded subsets."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from sweeper.data import course_split, load_corpus, subset
from sweeper.errors import DataError
from tests.fixtures.libriphone import random_split

LENGTHS = [(7 * i) % 23 + 1 for i in range(23)]


def sample_code_split(root: Path, seed: int, ratio: float) -> tuple[list[str], list[str]]:
    """The course sample code's lines, verbatim in substance."""
    usage_list = open(root / "train_split.txt").readlines()  # noqa: SIM115
    random.seed(seed)
    random.shuffle(usage_list)
    train_len = int(len(usage_list) * ratio)
    usage_list = [line.strip("\n") for line in usage_list]
    return usage_list[:train_len], usage_list[train_len:]


@pytest.mark.parametrize(("seed", "ratio"), [(1337, 0.8), (1337, 0.75), (0, 0.8), (42, 0.5)])
def test_course_split_picks_what_the_sample_code_picks(
    make_libriphone: Callable[..., Path], data_cache: Path, seed: int, ratio: float
) -> None:
    root = make_libriphone(LENGTHS, [3], name=f"lp-{seed}-{ratio}")
    corpus = load_corpus(root)
    expected_train, expected_val = sample_code_split(root, seed, ratio)

    train, val = course_split(corpus.train, seed=seed, ratio=ratio)

    assert list(train.utt_ids) == expected_train
    assert list(val.utt_ids) == expected_val
    assert (train.name, val.name) == ("train", "val")
    position = {utt: i for i, utt in enumerate(corpus.train.utt_ids)}
    picked = corpus.train.select([position[utt] for utt in expected_val])
    assert torch.equal(val.features, picked.features)
    assert val.labels is not None and picked.labels is not None
    assert torch.equal(val.labels, picked.labels)


def test_course_split_defaults_are_the_sample_codes() -> None:
    split = random_split("train", LENGTHS, seed=0)
    default_train, _ = course_split(split)
    explicit_train, _ = course_split(split, seed=1337, ratio=0.8)
    assert default_train.utt_ids == explicit_train.utt_ids


@pytest.mark.parametrize("ratio", [0.0, 1.0, 0.01])
def test_course_split_refuses_a_ratio_that_leaves_a_side_empty(ratio: float) -> None:
    with pytest.raises(DataError, match="ratio"):
        course_split(random_split("train", LENGTHS, seed=0), ratio=ratio)


def test_subset_is_whole_utterances_reaching_the_frame_count_deterministically() -> None:
    split = random_split("train", LENGTHS, seed=0)

    chosen = subset(split, frames=60, seed=9)

    assert chosen.num_frames >= 60
    # no more than needed: without its longest utterance the subset falls short
    assert chosen.num_frames - int(chosen.lengths.max()) < 60
    position = {utt: i for i, utt in enumerate(split.utt_ids)}
    positions = [position[utt] for utt in chosen.utt_ids]
    assert positions == sorted(positions)  # the split's order is kept
    assert torch.equal(chosen.features, split.select(positions).features)
    assert subset(split, frames=60, seed=9).utt_ids == chosen.utt_ids
    assert {subset(split, frames=60, seed=s).utt_ids for s in range(5)} != {chosen.utt_ids}


def test_subset_larger_than_the_split_is_the_whole_split_with_a_warning() -> None:
    split = random_split("val", LENGTHS, seed=0)

    with pytest.warns(
        UserWarning, match=f"asked for 10000 val frames but the split holds {sum(LENGTHS)}"
    ):
        whole = subset(split, frames=10_000, seed=0)

    assert whole.utt_ids == split.utt_ids
    assert subset(split, frames=split.num_frames, seed=0).num_frames == split.num_frames


def test_subset_of_no_frames_is_refused() -> None:
    with pytest.raises(DataError, match="at least one frame"):
        subset(random_split("train", LENGTHS, seed=0), frames=0, seed=0)
