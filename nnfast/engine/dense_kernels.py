"""The dense nets' kernels, imported on first use, and the helper process that compiles them alongside.

No numba is imported until a network first trains or evaluates (importing numba costs ~0.3 s), so
``import nnfast`` stays quick and compiles nothing.
"""

import numpy as np

from .cores import compute_threads

# What the kernels read the input matrix's bytes as (nnfast.engine.kernels.batches.BYTES, FLOAT32, FLOAT64)
INPUT_KINDS = {np.dtype(np.uint8): 0, np.dtype(np.float32): 1, np.dtype(np.float64): 2}


class _Kernels:
    """The two kernels the dense nets call from Python (``run_batches``, ``cost_sum``), imported on first use:
    importing numba costs ~0.3 s."""

    def __init__(self):
        import threading

        from .kernels import background
        from .kernels.batches import run_batches
        from .kernels.costs import cost_sum
        self.run_batches, self.cost_sum = run_batches, cost_sum
        self._background = background
        self._lock = threading.Lock()
        self._started = set()  # dtypes whose first compile has begun in this process
        self._helpers = {}  # dtype -> the helper process compiling alongside (kernels.background)

    def prepare(self, dtype):
        """Before the first call for ``dtype``: when it will compile, a helper process compiles half of it
        alongside (``kernels.background``). Later calls return at once."""
        if dtype in self._started:
            return
        with self._lock:
            if dtype in self._started:
                return
            self._started.add(dtype)
        helper = self._background.start(dtype, compute_threads())
        if helper is not None:
            self._helpers[dtype] = helper

    def compiled(self, dtype):
        """After a call for ``dtype``: ``run_batches`` is compiled, so its helper (if any) may stop."""
        if self._helpers:
            helper = self._helpers.pop(dtype, None)
            if helper is not None:
                helper.stop()


_KERNELS = []


def kernels():
    if not _KERNELS:
        _KERNELS.append(_Kernels())
    return _KERNELS[0]


def start_compiling(dtype):
    """Begin the first compile of the kernels for ``dtype`` in a helper process now, if it will be needed (a
    command line calls this before loading its data); see ``_Kernels.prepare``."""
    kernels().prepare(np.dtype(dtype))
