"""The book's ``random.shuffle``, made fast and kept exact.

``Network.SGD`` must make the same draws as the book's ``random.shuffle(training_data)``
so that the same ``random.seed`` visits the same mini-batches. Python's shuffle
of 50,000 items costs ~8 ms per epoch (10% of a float32 epoch), so this runs
the same Mersenne Twister steps in a numba kernel on the global generator's
state and writes the advanced state back: the permutation and every later
``random`` call are exactly what they would have been.
"""

import contextlib
import random
import threading

import numpy as np

_MAX_N = 1 << 31  # getrandbits(k) is one 32-bit draw only for k <= 32
_LOCAL = threading.local()


@contextlib.contextmanager
def private(seed):
    """Within this block, this thread's shuffles draw from ``random.Random(seed)`` (the stream
    ``random.seed(seed)`` would give) instead of the global generator: a sweep's run stays
    reproducible in a process whose other threads (a Dask worker's) also draw from ``random``."""
    _LOCAL.source = random.Random(seed)
    try:
        yield _LOCAL.source
    finally:
        del _LOCAL.source


def _helper_compiling(kernel):
    """Whether a compile helper (``kernels.background``) is running and ``kernel`` is not yet in numba's cache:
    the helper compiles it while this process compiles ``run_batches``, and a later shuffle loads it."""
    from .kernels import background
    return background.helping() and not background.compiled_or_cached(*background.SHUFFLE)


def ready():
    """Compile the shuffle's kernel now, or load it from numba's cache (a helper may have put it there)."""
    from .kernels.shuffle import shuffle_like_python
    if not shuffle_like_python.overloads:
        from .kernels import background
        shuffle_like_python.compile(background.SHUFFLE[1])


def shuffle(order):
    """Shuffle the int64 array ``order`` in place as ``random.shuffle(list(order))`` would."""
    source = getattr(_LOCAL, "source", random)
    version, internal, gauss = source.getstate()
    if version != 3 or len(internal) != 625 or len(order) >= _MAX_N:
        shuffled = order.tolist()
        source.shuffle(shuffled)
        order[:] = shuffled
        return
    from .kernels.shuffle import shuffle_like_python  # deferred: numba loads on first use, not at import
    if not shuffle_like_python.overloads and _helper_compiling(shuffle_like_python):
        shuffled = order.tolist()  # 50,000: about 25 ms, against 0.25 s to compile the kernel here
        source.shuffle(shuffled)
        order[:] = shuffled
        return
    mt = np.array(internal[:624], dtype=np.uint64)
    pos = shuffle_like_python(mt, np.int64(internal[624]), order)
    source.setstate((version, tuple(mt.tolist()) + (int(pos),), gauss))
