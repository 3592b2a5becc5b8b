"""The book's vote: several networks classify each image, and the class most of them give wins.

Chapter 6 reaches 99.67% by letting five dropout nets vote (``conv.py``'s
``ensemble``: ``Counter(p).most_common(1)``). A tie goes where the book's
``Counter`` sends it: to the tied class the earliest network in the list gave.
"""

import numpy as np


def plurality(predictions, n_classes=None):
    """The vote per sample: ``predictions (k networks, n samples)`` of class numbers -> ``(n,)``."""
    votes = np.asarray(predictions, dtype=np.int64)
    if votes.ndim != 2 or votes.shape[0] == 0:
        raise ValueError(f"predictions must be (networks, samples), got shape {votes.shape}")
    k, n = votes.shape
    n_classes = int(votes.max(initial=0)) + 1 if n_classes is None else n_classes
    counts = np.zeros((n, n_classes), dtype=np.int64)
    rows = np.arange(n)
    for i in range(k):
        np.add.at(counts, (rows, votes[i]), 1)
    most = counts.max(axis=1)
    winner = np.full(n, -1, dtype=np.int64)
    for i in range(k):  # in the networks' order: the first tied class met wins, as Counter.most_common does
        open_ = winner < 0
        takes = open_ & (counts[rows, votes[i]] == most)
        winner[takes] = votes[i][takes]
    return winner


def agreement(predictions, vote):
    """How many of the networks gave each sample's winning class: ``(n,)``."""
    return (np.asarray(predictions) == np.asarray(vote)[None, :]).sum(axis=0)
