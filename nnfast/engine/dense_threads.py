"""Whether chapter 1 and 3's training runs on several cores: only where it may pay, and then as measured.

``kernels.batches_threaded`` splits the first layer's units over numba's
threads, two parallel regions per mini-batch (about 2 us each): worth it for
wide layers and large mini-batches, a loss for small ones, and on a busy
machine a thread may wait for a core. So, as chapter 6 does
(``blas_threads.Chooser``), the trainer measures: it alternates calls on one
thread and on all (each call ``CHUNK_FLOPS`` of work, a few milliseconds)
and keeps all threads only where they are clearly quicker, measuring again
as the load changes. The numbers are the same bit for bit either way.

Nothing is compiled where threads cannot be chosen: one core allowed
(``NNFAST_THREADS=1``, a sweep's workers, ``--threads 1``), mini-batches under
``MIN_BATCH`` (the book's 10 included: a first ``nnfast train`` compiles
nothing more), first layers under ``MIN_UNITS`` units a part, a call with
under ``MIN_WORK`` of work, or a kernel not yet compiled (nor in numba's cache)
while no core is free (the load average; as for the compile helper,
``NNFAST_COMPILE_HELPER=1`` overrides it). Elsewhere the
threaded kernel compiles (or loads from numba's cache) on a background thread
after the first slice of training, which goes on on one thread meanwhile.
"""

import os
import threading
import time

import numpy as np

from .blas_threads import Chooser

MIN_BATCH = 50  # mini-batches of fewer samples stay on one thread (see benchmarks/README.md)
MIN_UNITS = 8  # first-layer units per thread, at least
MIN_WORK = 5e9  # floating-point operations in a training call, at least (MNIST's 784-30-10: 7e9 an epoch)
CHUNK_FLOPS = 3e8  # work per kernel call while threads are measured or used: a few ms, timed call by call
GIVE_UP = 2.0  # a probe's threaded call this many times one thread's quickest: one thread, without more probing

_COMPILE = {"lock": threading.Lock(), "thread": None}


def kernel():
    """The threaded training kernel (imported on first use; numba compiles it on its first call)."""
    from .kernels.batches_threaded import run_batches_threaded
    return run_batches_threaded


def numba_threads(count):
    """numba's threads for the calling thread's next parallel regions: ``count``, as far as numba has them."""
    import numba
    numba.set_num_threads(max(1, min(int(count), numba.config.NUMBA_NUM_THREADS)))


def most_threads(sizes, batch, cores):
    """Threads the training of a net of ``sizes`` at mini-batch ``batch`` may use, given ``cores``: 1 where
    more cannot pay (see the module's docstring)."""
    if cores < 2 or batch < MIN_BATCH or len(sizes) < 2:
        return 1
    import numba
    return max(1, min(cores, numba.config.NUMBA_NUM_THREADS, int(sizes[1]) // MIN_UNITS))


def signature(dtype):
    """``run_batches_threaded``'s argument types as ``DenseNet._run`` calls it."""
    from numba import types

    from .kernels.background import entry_signature
    F = types.float64 if np.dtype(dtype) == np.float64 else types.float32
    return entry_signature(dtype)[:-1] + (types.Array(F, 1, "C"), types.int64)


def _not_now(cores, dtype):
    """Whether the threaded kernel would have to be compiled while no core is free for it (a busy machine: the
    compile would take the core training needs, for threads that would not pay now)."""
    from .kernels.background import HELPER_VARIABLE, compiled_or_cached, no_core_free
    if os.environ.get(HELPER_VARIABLE, "").strip() == "1" or not no_core_free(cores):
        return False
    return not compiled_or_cached(kernel(), signature(dtype))


def _compile(dtype):
    try:
        kernel().compile(signature(dtype))
    except Exception:  # noqa: BLE001  a failed compile leaves training on one thread, as before
        pass


def compile_in_background(dtype):
    """Start compiling the threaded kernel for ``dtype`` on a daemon thread, once per process; True when it
    is compiled already."""
    sig = signature(dtype)
    if sig in kernel().overloads:
        return True
    with _COMPILE["lock"]:
        if _COMPILE["thread"] is None or not _COMPILE["thread"].is_alive():
            _COMPILE["thread"] = threading.Thread(target=_compile, args=(dtype,), daemon=True,
                                                  name="nnfast-compile-threaded")
            _COMPILE["thread"].start()
    return False


class Plan:
    """The thread count for each kernel call of a training call: ``samples(step)`` and ``threads()`` before a
    call, ``took(threads, seconds, samples)`` after it."""

    def __init__(self, most, dtype, per_sample, batch):
        self.most, self.dtype = most, np.dtype(dtype)
        self.chunk = batch * max(1, round(CHUNK_FLOPS / (per_sample * batch)))
        self.chooser = Chooser(most, give_up=GIVE_UP)
        self.ready = False
        self._asked = False
        self._warm = False

    def samples(self, step):
        """Samples for the next call: chunks while threads are measured or used; else the caller's ``step``
        (before the threaded kernel is ready, and on one thread between probes: fewer calls from Python)."""
        c = self.chooser
        if not self.ready or (c.choice == 1 and not c._plan and c._left > step // self.chunk):
            return step
        return self.chunk

    def threads(self):
        return self.chooser.threads() if self.ready else 1

    def took(self, threads, seconds, samples=None):
        if self.ready and threads > 1 and not self._warm:
            self._warm = True  # the first threaded call starts numba's threads (ms): not a measure of them
            return
        if self.ready:
            calls = max(1, (samples or self.chunk) // self.chunk)  # a whole step counts as its chunks
            for _ in range(calls):
                self.chooser.took(seconds / calls)
        elif not self._asked:  # after the first call: the one-thread kernel is compiled, the lock is free
            self._asked = True
            self.ready = compile_in_background(self.dtype)
        else:
            self.ready = signature(self.dtype) in kernel().overloads


def plan(sizes, batch, cores, dtype, per_sample, samples):
    """A ``Plan``, or None where training stays on one thread (nothing is compiled then)."""
    most = most_threads(sizes, batch, cores)
    if most < 2 or samples * per_sample < MIN_WORK or _not_now(cores, dtype):
        return None
    return Plan(most, dtype, per_sample, batch)


def clock():
    return time.perf_counter()
