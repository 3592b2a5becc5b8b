"""Run one function on several parts of a mini-batch at once, one thread per part.

numpy's BLAS and nnfast's numba kernels (``nogil=True``) release the GIL, so Python threads
that each take whole samples of a mini-batch through the convolutions run on separate cores;
this beats letting BLAS split each small product, which at chapter 6's mini-batch of 10 barely
pays (measured 1.0-1.4x on 2 threads for most of its products, some slower). The caller's
thread takes the first part itself: one hand-off per part, no thread idles in between.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_POOL = None
_POOL_SIZE = 0
_LOCK = threading.Lock()


def parts(m, count):
    """``count`` (at most ``m``) contiguous ``(lo, hi)`` row ranges covering ``range(m)``, sizes within one."""
    count = max(1, min(int(count), m))
    edges = np.linspace(0, m, count + 1).round().astype(int)
    return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:])]


def run(fn, items):
    """``[fn(item) for item in items]``, the first in this thread, the others on pool threads."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    pool = _pool(len(items) - 1)
    futures = [pool.submit(fn, item) for item in items[1:]]
    first = fn(items[0])
    return [first] + [f.result() for f in futures]


def _pool(size):
    global _POOL, _POOL_SIZE
    with _LOCK:
        if _POOL is None or _POOL_SIZE < size:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(max_workers=size, thread_name_prefix="nnfast-part")
            _POOL_SIZE = size
        return _POOL
