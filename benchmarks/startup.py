"""Start-up costs, each in a fresh process: `import nnfast`, and numba compilation cold and warm."""

import os
import statistics
import subprocess
import sys
import tempfile

_IMPORT = "import time; t = time.perf_counter(); import nnfast; print(time.perf_counter() - t)"

# The first SGD and evaluate of a process compile (or load from the cache) every kernel they use.
_FIRST_CALL = """
import io, contextlib, time, numpy as np
from nnfast import network
rng = np.random.default_rng(0)
data = [(rng.random((784, 1)).astype(np.float32), np.eye(10)[:, [i % 10]]) for i in range(40)]
test = [(x, i % 10) for i, (x, _) in enumerate(data)]
net = network.Network([784, 30, 10], dtype=np.{dtype})
t = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    net.SGD(data, 1, 10, 3.0, test_data=test)
print(time.perf_counter() - t)
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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return float(out.stdout.strip().splitlines()[-1])


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
