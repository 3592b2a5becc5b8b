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
for benchmarks). Elsewhere, after the first slice of training, a helper process compiles the threaded
kernel into numba's on-disk cache (``kernels.parallel_helper``, as for chapter 6), and training goes on on one
thread until the helper has ended; then this process loads the kernel from the cache (a fraction of a
second) and the measuring begins. No compile of it runs in this process (it held numba's compiler lock for
8-36 s, so a first compile on the main thread, such as chapter 3's monitors' ``cost_sum``, waited, and a
child forked meanwhile inherited the held lock and hung). Where the helper left nothing in the cache (it
failed, or numba caches nothing here), training stays on one thread. ``NNFAST_COMPILE_HELPER=0``: no
helper; the threaded kernel compiles in this process at the first chance, on the training thread (the
benchmarks' steady state).
"""

import atexit
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

_LOCK = threading.Lock()
_HELPERS = {}  # dtype name -> the helper compiling the threaded kernel (None: none runs, or it has ended)
_FAILED = set()  # dtype names whose helper ended without leaving the kernel in the cache


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
    from .kernels.parallel_kernels import threaded_dense_kernels
    return threaded_dense_kernels(dtype)[0][1]


def _not_now(cores, dtype):
    """Whether no core is free now (the one-minute load average, as for the compile helper): threads would wait
    for the cores other processes hold (measured here with one busy process beside, whole 2-epoch calls of
    784-100-10 b100: 1.72x one thread's time, the probes' threaded calls alone), and a compile would take
    the core training needs."""
    from .kernels.background import HELPER_VARIABLE, no_core_free
    return os.environ.get(HELPER_VARIABLE, "").strip() != "1" and no_core_free(cores)


def ready(dtype):
    """Whether the threaded kernel for ``dtype`` may be called now. Where it is neither compiled nor in numba's
    cache, the first ask starts a helper process compiling it (see the module's docstring) and answers False
    until the helper has ended; then the kernel is loaded from the cache. Nothing compiles in this process
    (but with ``NNFAST_COMPILE_HELPER=0``)."""
    from .kernels import parallel_helper
    from .kernels.background import compiled_or_cached
    sig, k, name = signature(dtype), kernel(), np.dtype(dtype).name
    if sig in k.overloads:
        return True
    with _LOCK:
        if name in _FAILED:
            return False
        if name not in _HELPERS:
            _HELPERS[name] = None
            if os.environ.get(parallel_helper.HELPER_VARIABLE, "").strip() == "0":  # the user's: compile here, now
                return _load(k, sig, name)
            if not parallel_helper.all_cached(name, 0, parallel_helper.DENSE):  # (none where no Python runs one)
                _HELPERS[name] = parallel_helper.start(name, 0, parallel_helper.DENSE)
                if _HELPERS[name] is not None:
                    atexit.register(_HELPERS[name].stop)  # a helper outliving a short script finishes and ends
        helper = _HELPERS[name]
        if helper is not None and helper.process.poll() is None:
            return False
        _HELPERS[name] = None
        if not compiled_or_cached(k, sig, unknown=False):
            _FAILED.add(name)  # compiling it here would stall training for 8-36 s: one thread, as before threads
            return False
        return _load(k, sig, name)


def _load(k, sig, name):
    """The threaded kernel for ``sig`` loaded from numba's cache (or compiled, where it is not there); False
    where that fails (training stays on one thread)."""
    try:
        k.compile(sig)
    except Exception:  # noqa: BLE001  a failed compile leaves training on one thread, as before
        _FAILED.add(name)
        return False
    return True


def forget():
    """Forget every helper and failure (tests): the next ask looks at the cache again."""
    with _LOCK:
        for helper in _HELPERS.values():
            if helper is not None:
                helper.stop()
        _HELPERS.clear()
        _FAILED.clear()


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
        if not self.ready:  # asked after each call: the first starts the helper (the one-thread kernel is compiled)
            self.ready = ready(self.dtype)
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
