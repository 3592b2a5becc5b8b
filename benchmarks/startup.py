"""Start-up costs, each in a fresh process: `import nnfast`, and numba compilation cold and warm.

A cold compile of chapter 1's kernels runs in two processes where two cores are free (a helper compiles half of
``run_batches``'s callees, ``nnfast.engine.kernels.background``): its rows give the wall time, the process's own
CPU time and the helper's, beside the same first call on one core (``NNFAST_COMPILE_HELPER=0``, as before the
helper), the two alternated so that a busy machine slows both alike.
"""

import os
import statistics
import subprocess
import sys
import tempfile

_IMPORT = "import time; t = time.perf_counter(); import nnfast; print(time.perf_counter() - t)"

# The first SGD and evaluate of a process compile (or load from the cache) every kernel they use. Printed: wall
# seconds, this process's CPU seconds, and its children's (the compile helper, waited for after the call).
_FIRST_CALL = """
import io, contextlib, os, resource, time, numpy as np
from nnfast import network
rng = np.random.default_rng(0)
data = [(rng.random((784, 1)).astype(np.float32), np.eye(10)[:, [i % 10]]) for i in range(40)]
test = [(x, i % 10) for i, (x, _) in enumerate(data)]
net = network.Network([784, 30, 10], dtype=np.{dtype})
t, c = time.perf_counter(), time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    net.SGD(data, 1, 10, 3.0, test_data=test)
wall, cpu = time.perf_counter() - t, time.process_time() - c
try:
    os.waitpid(-1, 0)
except ChildProcessError:
    pass
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, cpu, children.ru_utime + children.ru_stime)
"""

# Chapter 6: the book's two-conv net, two training steps (one thread, then every core: the parallel
# kernels compile too) and a prediction, from an empty or a warm numba cache.
_FIRST_CONV_CALL = """
import os, time, numpy as np
from nnfast import network3 as n3
np.random.seed(0)
m = 10
net = n3.Network([n3.ConvPoolLayer((20, 1, 5, 5), (m, 1, 28, 28)), n3.ConvPoolLayer((40, 20, 5, 5), (m, 20, 12, 12)),
                  n3.FullyConnectedLayer(640, 100), n3.SoftmaxLayer(100, 10)], m)
x, y = np.random.rand(m, 784).astype(np.float32), np.arange(m) % 10
t = time.perf_counter()
for threads in ("1", str(len(os.sched_getaffinity(0)))):
    os.environ["NNFAST_THREADS"] = threads
    net._step(x, y, 0.1, 0.1, 10)
net.predict(x)
print(time.perf_counter() - t)
"""


def _seconds(code, env=None):
    return _figures(code, env)[0]


def _figures(code, env=None):
    """The numbers the last line of ``code``'s output holds, run in a fresh process."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return [float(v) for v in out.stdout.strip().splitlines()[-1].split()]


def import_seconds(repeats=5):
    return statistics.median(_seconds(_IMPORT) for _ in range(repeats))


def compile_seconds(dtype="float64"):
    """(cold, warm): first SGD + evaluate with an empty NUMBA_CACHE_DIR, then again in a second process;
    ``dtype`` "conv": chapter 6's two-conv net, first steps and prediction."""
    code = _FIRST_CONV_CALL if dtype == "conv" else _FIRST_CALL.format(dtype=dtype)
    with tempfile.TemporaryDirectory(prefix="nnfast-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = _seconds(code, env)
        warm = _seconds(code, env)
    return cold, warm


def compile_ab(dtype="float64", rounds=2):
    """Chapter 1's first SGD + evaluate from an empty numba cache, with the compile helper ("two") and without
    ("one": NNFAST_COMPILE_HELPER=0), alternated for ``rounds``, then warm (cached): medians of
    ``{"cold_s", "cold_cpu_s", "cold_helper_cpu_s", "one_core_s", "one_core_cpu_s", "warm_s"}``."""
    code = _FIRST_CALL.format(dtype=dtype)
    runs = {"two": [], "one": []}
    for _ in range(rounds):
        for name, helper in (("two", "1"), ("one", "0")):
            with tempfile.TemporaryDirectory(prefix="nnfast-numba-") as cache:
                runs[name].append(_figures(code, {"NUMBA_CACHE_DIR": cache, "NNFAST_COMPILE_HELPER": helper}))
    with tempfile.TemporaryDirectory(prefix="nnfast-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        _figures(code, env)
        warm = _figures(code, env)[0]

    def median(name, i):
        return statistics.median(r[i] for r in runs[name])

    return {"cold_s": median("two", 0), "cold_cpu_s": median("two", 1), "cold_helper_cpu_s": median("two", 2),
            "one_core_s": median("one", 0), "one_core_cpu_s": median("one", 1), "warm_s": warm}
