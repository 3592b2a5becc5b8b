"""The book's ``random.shuffle``, made fast and kept exact.

``Network.SGD`` must make the same draws as the book's ``random.shuffle(training_data)``
so that the same ``random.seed`` visits the same mini-batches. Python's shuffle
of 50,000 items costs ~8 ms per epoch (10% of a float32 epoch), so this runs
the same Mersenne Twister steps in a numba kernel on the global generator's
state and writes the advanced state back: the permutation and every later
``random`` call are exactly what they would have been.
"""

import random

import numpy as np

_MAX_N = 1 << 31  # getrandbits(k) is one 32-bit draw only for k <= 32


def shuffle(order):
    """Shuffle the int64 array ``order`` in place as ``random.shuffle(list(order))`` would."""
    version, internal, gauss = random.getstate()
    if version != 3 or len(internal) != 625 or len(order) >= _MAX_N:
        shuffled = order.tolist()
        random.shuffle(shuffled)
        order[:] = shuffled
        return
    from ._kernels import shuffle_like_python  # deferred: numba loads on first use, not at import
    mt = np.array(internal[:624], dtype=np.uint64)
    pos = shuffle_like_python(mt, np.int64(internal[624]), order)
    random.setstate((version, tuple(mt.tolist()) + (int(pos),), gauss))
