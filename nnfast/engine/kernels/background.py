"""The first compile of the dense kernels on two cores: a helper process compiles half of ``run_batches``'s callees.

A process with an empty numba cache compiles ``run_batches`` and, while numba types it, each of
its 14 callees in turn, one after another on one core: about three fifths of the first call's
compile time are the callees. ``start`` launches ``python -m nnfast.engine.kernels.background
DTYPE``, which compiles the same callees for the same signatures, from the last to the first,
into numba's on-disk cache; this process meanwhile compiles from the first, and loads each callee
the helper has finished from the cache instead of compiling it (numba looks there before it
compiles). The two meet in the middle; the helper goes on to the shuffle and ``cost_sum`` (chapter 3's
monitors) while this process optimises ``run_batches``, and ``Helper.stop`` ends it once ``run_batches``
is compiled. While a helper runs, a shuffle this process has not compiled is made by Python's own
``random.shuffle`` (the same draws, ``nnfast.engine.rng``): the first epoch's shuffle no longer waits for
its kernel's compile (0.25 s of CPU), which the helper does. The machine code is the same whichever process compiled a callee: same source,
signature, flags and host CPU.

No helper is started where it cannot help: when ``run_batches`` for that dtype is compiled in
this process or in the cache already, when this process may use a single core
(``NNFAST_THREADS=1``, as a sweep's workers, or one CPU in its affinity), when no core is free
(the one-minute load average above the cores less a half: the helper's share of the work then waits
for a core and its own start-up is extra work; measured on a shared 2-core machine at load 8-10, the
first call took 39 s with a helper and 29 s without), when numba caches nothing, or when
``NNFAST_COMPILE_HELPER=0``. ``NNFAST_COMPILE_HELPER=1`` starts one even when no core looks free
(the benchmarks' A/B). A helper that fails changes nothing: this process
compiles what it did not find in the cache, as it would have without one.
"""

import os
import signal
import subprocess
import sys

import numpy as np
from numba import types

from . import activation, batches, costs, forward, gradient, shuffle

HELPER_VARIABLE = "NNFAST_COMPILE_HELPER"  # "0": never start a helper; "1": also when no core looks free
_started = []  # the helpers this process started


def _types(dtype):
    """Numba's argument types of the dense kernels for parameters of ``dtype``."""
    F = {np.dtype(np.float64): types.float64, np.dtype(np.float32): types.float32}[np.dtype(dtype)]
    A1, A2 = types.Array(F, 1, "C"), types.Array(F, 2, "C")
    I1, U2 = types.Array(types.int64, 1, "C"), types.Array(types.uint8, 2, "C")
    return F, A1, A2, I1, U2, types.int64, types.float64


def entry_signature(dtype):
    """``run_batches``'s argument types as ``nnfast.engine.dense.DenseNet._run`` calls it."""
    F, A1, A2, I1, U2, i, f = _types(dtype)
    return (A1, A1, I1, I1, I1, U2, i, I1, A2, I1, i, f, i, f, I1, I1, f, A1, A1, A2, A2)


def callees(dtype):
    """``(kernel, argument types)`` of ``run_batches``'s callees, in the order numba's typing of it
    compiles them (a kernel's own callees, such as ``_span``, come with it)."""
    F, A1, A2, I1, U2, i, f = _types(dtype)
    return [
        (batches._batch_rows, (I1, I1, i, i, I1, I1, types.boolean, I1, I1, I1, I1)),
        (forward._block_columns, (I1, I1, i, i, I1, I1)),
        (batches._load_inputs, (U2, i, I1, i, I1, I1, A2, f)),
        (forward._view, (A1, i, i, i)),
        (forward._columns, (I1, I1, i, i)),
        (forward._dense_rows4, (A2, A1, A2, A2, i, i, i)),
        (forward._dense_rows2, (A2, A1, A2, A2, i, i, i, i)),
        (activation._sigmoid_inplace, (A2,)),
        (batches._load_rows, (A2, I1, i, A2)),
        (gradient._output_delta, (A2, A2, A2, i)),
        (gradient._hidden_delta, (A2, A2, A2, A2)),
        (gradient._accumulate_rows4, (A2, A2, A2, i, F, I1, I1)),
        (gradient._accumulate_rows2, (A2, A2, A2, i, F, I1, I1)),
        (gradient._accumulate_row, (A2, A2, A2, i, F, I1, I1)),
    ]


def afterwards(dtype):
    """``(kernel, argument types)`` the helper compiles once the callees are done, while this process is
    still optimising ``run_batches``: the shuffle (every epoch's), then chapter 3's cost sums (its monitors
    and ``total_cost``)."""
    F, A1, A2, I1, U2, i, f = _types(dtype)
    return [SHUFFLE, (costs.cost_sum, (A2, A2, I1, i))]


SHUFFLE = (shuffle.shuffle_like_python, (types.Array(types.uint64, 1, "C"), types.int64, types.Array(types.int64, 1, "C")))


def helping():
    """Whether a helper this process started is still running (it may yet put a kernel in the cache)."""
    return any(helper.process.poll() is None for helper in _started)


def compiled_or_cached(dispatcher, signature, unknown=True):
    """Whether ``dispatcher`` has machine code for ``signature`` in this process or in numba's cache
    (read from the cache's small index file; nothing is loaded). ``unknown`` (True: then no helper is
    started) where numba keeps no cache, or keeps it in a way this does not know."""
    if tuple(signature) in dispatcher.overloads:
        return True
    try:
        cache = dispatcher._cache
        index = cache._cache_file._load_index()
        return cache._index_key(tuple(signature), dispatcher.targetctx.codegen()) in index
    except Exception:  # NullCache (no caching), an unreadable index, another numba's internals
        return unknown


class Helper:
    """A running helper process."""

    def __init__(self, process):
        self.process = process

    def stop(self):
        """Ask the helper to stop after the kernel it is compiling (its cache writes stay whole)."""
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGTERM)
            except OSError:  # it ended in between
                pass


def no_core_free(cores):
    """Whether the machine's other processes keep every core but this process's busy (Unix load average)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows; no load average
        return False
    return load > cores - 0.5


def _python():
    """The interpreter to run the helper with, or None where ``sys.executable`` is no Python (embedded)."""
    exe = sys.executable or ""
    return exe if os.path.basename(exe).lower().startswith("python") else None


def start(dtype, cores):
    """A ``Helper`` compiling ``run_batches``'s callees for ``dtype`` from the last, or None where it
    would not help (see the module's docstring). ``cores``: how many this process may use."""
    choice = os.environ.get(HELPER_VARIABLE, "").strip()
    if choice == "0" or cores < 2 or _python() is None or (choice != "1" and no_core_free(cores)):
        return None
    if compiled_or_cached(batches.run_batches, entry_signature(dtype)):
        return None
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    code = (f"import sys; sys.path.insert(0, {package_root!r}); "
            f"from nnfast.engine.kernels.background import main; main({np.dtype(dtype).name!r})")
    try:
        process = subprocess.Popen([_python(), "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, close_fds=True)
    except OSError:
        return None
    _started.append(Helper(process))
    return _started[-1]


def main(dtype):
    """The helper's work: compile the callees for ``dtype`` into the cache, last first, until told to stop."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    for dispatcher, signature in [*reversed(callees(dtype)), *afterwards(dtype)]:
        if stopping:
            break
        dispatcher.compile(signature)
