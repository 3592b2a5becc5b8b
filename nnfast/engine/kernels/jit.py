"""The kernels' compiler flags and their on-disk cache, in one place.

``FASTMATH``: "reassoc" lets LLVM vectorise the dot-product reductions and
"contract" lets it use FMA: both change summation order and rounding only
(never NaN/inf semantics), so results stay within float rounding of the
per-sample twins. Full fastmath ("nnan", "ninf") is off: it would let the
compiler assume away the NaNs a diverging run must report. parallel=True
only where a whole mini-batch is one call (chapter 6's ``conv_stack`` and
``dense_step``): for anything smaller, waking threads costs more than it saves.

``kernel``: ``numba.njit`` with these flags and ``cache=True``, whose cache is
invalidated when any file of this folder changes. numba checks only the file
that defines a function (numba#1833), but a cached kernel holds the machine
code of every kernel it calls, from any file: after an edit to
``forward.py``, ``batches.py``'s cached ``run_batches`` would go on running the
old forward pass. Each cached kernel's stamp therefore includes a hash of the
whole folder's sources.
"""

import hashlib
import os

from numba import njit

FASTMATH = {"reassoc", "contract"}
JIT_OPTIONS = dict(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", boundscheck=False)


def sources_hash(folder):
    """sha256 of every ``.py`` file in ``folder`` (names and contents, in name order)."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            h.update(name.encode())
            with open(os.path.join(folder, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def kernel_family(folder, **defaults):
    """A decorator like ``njit(**JIT_OPTIONS, **defaults)`` whose cached machine code is reused only while
    no ``.py`` file of ``folder`` has changed. Use as ``@kernel`` or ``@kernel(inline="always")``."""
    stamp = []  # computed on the first decoration: importing a kernel module reads the folder once

    def decorate(func, options):
        dispatcher = njit(**{**JIT_OPTIONS, **defaults, **options})(func)
        cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            if not stamp:
                stamp.append(sources_hash(folder))
            # numba compares this stamp with the one saved in the cache's index and recompiles on a mismatch
            cache_file._source_stamp = (cache_file._source_stamp, stamp[0])
        return dispatcher

    def kernel(func=None, **options):
        if func is None:
            return lambda f: decorate(f, options)
        return decorate(func, options)

    return kernel


kernel = kernel_family(os.path.dirname(os.path.abspath(__file__)))


def helper(func=None, **options):
    """``kernel`` for a function only other kernels call: no CPython or C wrapper is built for it."""
    return kernel(func, no_cpython_wrapper=True, no_cfunc_wrapper=True, **options)
