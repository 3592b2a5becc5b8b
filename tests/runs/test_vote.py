"""The vote of several networks, against the book's own Counter(p).most_common(1)."""

from collections import Counter

import numpy as np
import pytest

from nnfast.runs.vote import agreement, plurality


def _books_vote(predictions):
    return [Counter(p).most_common(1)[0][0] for p in zip(*predictions)]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_the_vote_is_the_books_ties_included(k):
    rng = np.random.default_rng(k)
    predictions = rng.integers(0, 4, (k, 2000))  # four classes among up to five voters: many ties
    assert plurality(predictions).tolist() == _books_vote(predictions.tolist())


def test_agreement_counts_the_voters_of_the_winner():
    predictions = np.array([[1, 2, 3], [1, 2, 0], [0, 2, 0]])
    vote = plurality(predictions)
    assert vote.tolist() == [1, 2, 0] and agreement(predictions, vote).tolist() == [2, 3, 2]


def test_a_vote_of_nothing_is_refused():
    with pytest.raises(ValueError):
        plurality(np.empty((0, 3)))
