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
under ``MIN_WORK`` of work, or no core free when the call starts (the load
average, as for the compile helper; ``NNFAST_COMPILE_HELPER=1`` overrides it,
for benchmarks). Elsewhere the
threaded kernel compiles (or loads from numba's cache) on a background thread
after the first slice of training, which goes on on one thread meanwhile.
"""

import os
import threading

import numpy as np

from .blas_threads import Chooser

MIN_BATCH = 50  # mini-batches of fewer samples stay on one thread (see benchmarks/README.md)
MIN_UNITS = 8  # first-layer units per thread, at least
MIN_WORK = 5e9  # floating-point operations in a training call, at least (MNIST's 784-30-10: 7e9 an epoch)
CHUNK_FLOPS = 3e8  # work per kernel call while threads are measured or used: a few ms, timed call by call
PROBE_SHARE = 4  # a probe's threaded calls take 1/PROBE_SHARE of a chunk each (see Plan)
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
    """Whether no core is free now (the one-minute load average, as for the compile helper): threads would wait
    for the cores other processes hold (measured here with one busy process beside, whole 2-epoch calls of
    784-100-10 b100: 1.72x one thread's time, the probes' threaded calls alone), and a compile would take
    the core training needs."""
    from .kernels.background import HELPER_VARIABLE, no_core_free
    return os.environ.get(HELPER_VARIABLE, "").strip() != "1" and no_core_free(cores)


def _compile(dtype):
    try:
        kernel().compile(signature(dtype))
    except Exception:  # noqa: BLE001  a failed compile leaves training on one thread, as before
        pass


def _finish_compile_before_fork():
    """``os.fork``'s hook: a fork while the compile thread holds numba's compiler lock (and LLVM's) gives a
    child in which the lock's owner does not exist, so its first compile waits for ever (a sweep's or an
    ensemble's forked workers, a learner's own multiprocessing, started within the compile's 20-36 s after a
    training call). The fork waits for the compile instead."""
    thread = _COMPILE["thread"]
    if thread is not None and thread is not threading.current_thread():
        thread.join()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_compile_before_fork)


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
    call, ``took(threads, seconds, samples)`` after it.

    A probe's threaded calls take a ``PROBE_SHARE`` of a chunk (the first, which starts numba's threads,
    one mini-batch, untimed unless already far too slow): on a busy machine they are the probe's whole
    cost. Probe times go to the chooser as a whole chunk's at their pace."""

    def __init__(self, most, dtype, per_sample, batch):
        self.most, self.dtype, self.batch = most, np.dtype(dtype), batch
        self.chunk = batch * max(1, round(CHUNK_FLOPS / (per_sample * batch)))
        self.small = batch * max(1, self.chunk // batch // PROBE_SHARE)
        self.chooser = Chooser(most, give_up=GIVE_UP)
        self.ready = False
        self._asked = False
        self._warm = False

    def samples(self, step):
        """Samples for the next call: chunks while threads are measured or used (a probe's threaded calls
        smaller); else the caller's ``step`` (before the threaded kernel is ready, and on one thread between
        probes: fewer calls from Python)."""
        c = self.chooser
        if not self.ready:
            return step
        if c._plan:
            if c._plan[0] == 1:
                return self.chunk
            return self.small if self._warm else self.batch
        if c.choice == 1 and c._left > step // self.chunk:
            return step
        return self.chunk

    def threads(self):
        return self.chooser.threads() if self.ready else 1

    def took(self, threads, seconds, samples=None):
        samples = samples or self.chunk
        c = self.chooser
        if not self.ready:
            if not self._asked:  # after the first call: the one-thread kernel is compiled, the lock is free
                self._asked = True
                self.ready = compile_in_background(self.dtype)
            else:
                self.ready = signature(self.dtype) in kernel().overloads
            return
        if threads > 1 and not self._warm:
            self._warm = True  # numba started its threads (milliseconds): not a measure of them, unless ...
            ones = c._timed.get(1)
            if c._plan and ones and seconds > GIVE_UP * min(ones):
                c.took(float("inf"))  # ... one mini-batch on threads outlasted two chunks on one: give up now
            return
        if c._plan:
            c.took(seconds * self.chunk / max(1, samples))
            return
        calls = max(1, samples // self.chunk)  # a whole step counts as its chunks
        for _ in range(calls):
            c.took(seconds / calls)


def plan(sizes, batch, cores, dtype, per_sample, samples):
    """A ``Plan``, or None where training stays on one thread (nothing is compiled then)."""
    most = most_threads(sizes, batch, cores)
    if most < 2 or samples * per_sample < MIN_WORK or _not_now(cores, dtype):
        return None
    return Plan(most, dtype, per_sample, batch)
