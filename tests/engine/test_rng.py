"""nnfast.engine.rng.shuffle makes exactly the draws of random.shuffle, and leaves the generator where it would."""

import random

import numpy as np
import pytest

from nnfast.engine import rng as _rng


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 1003, 50000])
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_same_permutation_and_same_generator_state_as_random_shuffle(n, seed):
    random.seed(seed)
    random.random()  # a generator part-way through its 624-word block
    fast = np.arange(n, dtype=np.int64)
    _rng.shuffle(fast)
    state_after_fast = random.getstate()

    random.seed(seed)
    random.random()
    book = list(range(n))
    random.shuffle(book)

    assert fast.tolist() == book
    assert state_after_fast == random.getstate()


def test_many_shuffles_in_a_row_stay_in_step():
    random.seed(3)
    fast = np.arange(5000, dtype=np.int64)
    for _ in range(7):
        _rng.shuffle(fast)
    random.seed(3)
    book = list(range(5000))
    for _ in range(7):
        random.shuffle(book)
    assert fast.tolist() == book
