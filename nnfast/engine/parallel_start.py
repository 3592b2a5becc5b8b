"""When chapter 6 may use its compiled step and parallel kernels: at once where they are compiled or cached,
else once a helper process has compiled them; meanwhile one thread, on the layers' own code.

The helper's list (``kernels.parallel_kernels.helper_kernels``: the compiled step's serial kernels, then the parallel
ones) takes about 20 s of CPU for the two-conv net in float32 from an empty cache (measured 2026-12-05 10:41-11:06,
shared 2-core machine at load 1.8-3.3, after the layers' own code had filled the cache as a first run's does; main
before the conv layers' ways and the dense kernels by address: 25), the layers' own code (a few small kernels:
im2col, pooling; numpy's BLAS) about 2 s. So a first run on several threads asks
``threads(wanted, dtype, convs)`` before each mini-batch: where those kernels are neither compiled nor in
numba's cache, the answer is 1 (``network3`` then runs the layers' own code: ``conv_parts.LayerConvs``,
the unfused dense step), the second ask starts ``kernels.parallel_helper`` (a process that compiles them
into the cache), and once the helper has exited this process loads them from the cache (0.4 s of CPU;
whatever the helper did not leave there, it compiles, as it did before there was a helper) and answers
``wanted`` from then on. A run the user keeps on one thread
(``NNFAST_THREADS=1``, as a sweep's workers) compiles nothing parallel; where its compiled one-thread step is not
cached, it trains and predicts on the layers' own code too while a helper compiles that step and the conv kernels it
calls (``one_thread_ready``; a first prediction compiling ``conv_stack.forward_part`` here took 6.4-7.1 s of CPU,
on the layers' code it takes about 2.5). With
``NNFAST_COMPILE_HELPER=0`` no helper starts and the parallel kernels compile in this process at their
first call, as before. Results do not depend on the switch: the layers' own code and the compiled step on
any number of threads each give the book's step (to rounding).
"""

import atexit
import threading

import numpy as np

_LOCK = threading.Lock()
_STATES = {}  # (dtype, conv layers) -> _State


class _State:
    def __init__(self, helper, deferred=False):
        self.helper = helper  # the running helper, or None once the kernels may be called
        self.deferred = deferred  # True until the second ask, which starts the helper


def conv_layers(convs):
    """How many layers ``convs`` (a ``conv_parts`` engine or None) runs in the parallel ``conv_stack``."""
    return len(convs.layers) if getattr(convs, "runs_conv_stack", False) else 0


def threads(wanted, dtype, convs, training=True):
    """``wanted``, or 1 while a helper is still compiling the parallel kernels for ``dtype`` and ``convs``.
    A prediction (``training=False``) calls a parallel kernel only in the conv layers."""
    layers = conv_layers(convs)
    if wanted <= 1 or not (training or layers):
        return wanted
    return wanted if ready(dtype, layers) else 1


def one_thread_ready(dtype, convs):
    """Whether a run on one thread may take the compiled one-thread step now (``net_step.one_thread_ready``: a
    helper process compiles it meanwhile, and the run trains on the layers' own code); True where the net has no
    compiled conv layers, so nothing to wait for."""
    layers = conv_layers(convs)
    if not layers:
        return True
    from . import net_step
    return net_step.one_thread_ready(dtype, layers)


def ready(dtype, layers):
    """Whether the parallel kernels for ``dtype`` and ``layers`` conv layers may be called now (see the module)."""
    key = (np.dtype(dtype).name, int(layers))
    state = _STATES.get(key)
    if state is not None and state.helper is None and not state.deferred:
        return True  # the usual answer, without the lock
    with _LOCK:
        state = _STATES.get(key)
        if state is None:
            from .kernels import parallel_helper
            if parallel_helper.wanted() and not parallel_helper.all_cached(*key):
                # the helper starts at the second ask: by then this process has compiled the layers' kernels
                # (into the cache, where the helper finds them: the compiled step calls them too), unhindered
                _STATES[key] = _State(None, deferred=True)
                return False
            state = _STATES[key] = _State(None)
        if state.deferred:
            from .kernels import parallel_helper
            state.deferred = False
            state.helper = parallel_helper.start(*key)
            if state.helper is not None:
                atexit.register(state.helper.stop)  # a helper outliving a short script finishes its kernel and ends
        if state.helper is None:
            return True
        if state.helper.process.poll() is None:
            return False
        state.helper = None
        _load(*key)
        return True


def _load(dtype, layers):
    """Each parallel kernel for its signature: from numba's cache, where the helper put it, else compiled."""
    from .kernels.parallel_kernels import helper_kernels
    for kernel, signature in helper_kernels(dtype, layers):
        kernel.compile(signature)


def forget():
    """Forget every helper and readiness (tests): the next ask looks at the cache again."""
    with _LOCK:
        for state in _STATES.values():
            if state.helper is not None:
                state.helper.stop()
        _STATES.clear()
