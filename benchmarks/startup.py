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


def _seconds(code, env=None):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return float(out.stdout.strip().splitlines()[-1])


def import_seconds(repeats=5):
    return statistics.median(_seconds(_IMPORT) for _ in range(repeats))


def compile_seconds(dtype="float64"):
    """(cold, warm): first SGD + evaluate with an empty NUMBA_CACHE_DIR, then again in a second process."""
    with tempfile.TemporaryDirectory(prefix="nnfast-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = _seconds(_FIRST_CALL.format(dtype=dtype), env)
        warm = _seconds(_FIRST_CALL.format(dtype=dtype), env)
    return cold, warm
