"""A helper process that compiles chapter 6's parallel kernels (and chapter 1 and 3's threaded one) into numba's cache.

``start(dtype, conv_layers)`` launches ``python -c ...main(DTYPE, CONV_LAYERS)``, which compiles every
kernel of ``helper_kernels(dtype, conv_layers)`` (the compiled step's serial and parallel kernels) for its
signature, in that order, and exits. The process that started it meanwhile trains on one thread on the
layers' own code (a few small kernels, compiled there as they are needed) and, once the helper has
exited, loads the compiled step's kernels from the cache
(``nnfast.engine.parallel_start``). The machine code is the same whichever process compiled it: same
source, signature, flags and host CPU.

Unlike chapter 1's helper (``background``), this one starts even when no core looks free: the
parallel kernels are compiled either here or in the training process, and here the training goes on
meanwhile. A helper that fails changes nothing: what it did not put in the cache is compiled in the
training process when needed, as before there was a helper. ``stop`` (SIGTERM) lets it finish the
kernel it is compiling (its cache writes stay whole) and end.

``family="dense"`` (``nnfast.engine.dense_threads``): the helper compiles chapter 1 and 3's threaded training
kernel (``parallel_kernels.threaded_dense_kernels``) instead; ``conv_layers`` is then unused (0).
``family="step"`` (``nnfast.engine.net_step``): only the one-thread step and the kernels it calls
(``parallel_kernels.serial_kernels``), for a run kept on one thread.
"""

import os
import subprocess

import numpy as np

from .background import HELPER_VARIABLE, Helper, _python, compiled_or_cached
from .parallel_kernels import helper_kernels, serial_kernels, threaded_dense_kernels

__all__ = ["HELPER_VARIABLE", "DENSE", "NETWORK3", "STEP", "all_cached", "wanted", "start", "main"]

NETWORK3, DENSE, STEP = "network3", "dense", "step"  # the helper's families of kernels


def kernels(dtype, conv_layers, family=NETWORK3):
    """``[(kernel, argument types)]`` a helper of ``family`` compiles, in its order."""
    if family == DENSE:
        return threaded_dense_kernels(dtype)
    return serial_kernels(dtype, conv_layers) if family == STEP else helper_kernels(dtype, conv_layers)


def all_cached(dtype, conv_layers, family=NETWORK3):
    """Whether every kernel of the family is compiled in this process or in numba's cache (or numba caches nothing)."""
    return all(compiled_or_cached(k, sig) for k, sig in kernels(dtype, conv_layers, family))


def wanted():
    """Whether a helper may be started: not where the user said no (``NNFAST_COMPILE_HELPER=0``) or where
    there is no Python to run it with (embedded)."""
    return os.environ.get(HELPER_VARIABLE, "").strip() != "0" and _python() is not None


def start(dtype, conv_layers, family=NETWORK3):
    """A ``background.Helper`` compiling the family's kernels, or None where none was started (not
    ``wanted``, or it could not start)."""
    if not wanted():
        return None
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    code = (f"import sys; sys.path.insert(0, {package_root!r}); "
            f"from nnfast.engine.kernels.parallel_helper import main; "
            f"main({np.dtype(dtype).name!r}, {int(conv_layers)}, {family!r})")
    try:
        process = subprocess.Popen([_python(), "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, close_fds=True)
    except OSError:
        return None
    return Helper(process)


def main(dtype, conv_layers, family=NETWORK3):
    """The helper's work: compile each of the family's kernels into the cache, until done or told to stop."""
    import signal
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    for kernel, signature in kernels(dtype, conv_layers, family):
        if stopping:
            break
        kernel.compile(signature)
