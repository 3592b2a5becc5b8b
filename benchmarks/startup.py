"""Start-up costs, each in a fresh process: `import nnfast`, and numba compilation cold and warm.

A cold compile of chapter 1's kernels runs in two processes where two cores are free (a helper compiles half of
``run_batches``'s callees, ``nnfast.engine.kernels.background``): its rows give the wall time, the process's own
CPU time and the helper's, beside the same first call on one core (``NNFAST_COMPILE_HELPER=0``, as before the
helper), the two alternated so that a busy machine slows both alike.
"""

import json
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

# Chapter 6: the book's two-conv net in a fresh process. "train": mini-batches until one has run on the parallel
# kernels (on a cold cache the first ones run on one thread while a helper process compiles those:
# nnfast.engine.parallel_start), at most 300 s; "predict": a first prediction of 100 images, nothing trained.
# Printed: a JSON object of wall and CPU seconds since the start, the helper's CPU seconds (waited for).
_FIRST_CONV_CALL = """
import json, os, resource, sys, time, numpy as np
wall, cpu = time.perf_counter(), time.process_time()
from nnfast import network3 as n3
from nnfast.engine import conv_parts
np.random.seed(0)
m = 10
net = n3.Network([n3.ConvPoolLayer((20, 1, 5, 5), (m, 1, 28, 28)), n3.ConvPoolLayer((40, 20, 5, 5), (m, 20, 12, 12)),
                  n3.FullyConnectedLayer(640, 100), n3.SoftmaxLayer(100, 10)], m)
X, y = np.random.default_rng(0).random((1000, 784)).astype(np.float32), np.arange(1000) % 10
out = {}
def since():
    return [time.perf_counter() - wall, time.process_time() - cpu]
if sys.argv[1] == "predict":
    net.predict(X[:100])
    out["first_predict"] = since()
else:
    calls = []
    real = conv_parts.numba_threads  # called before each parallel kernel
    conv_parts.numba_threads = lambda count: (calls.append(count), real(count))[1]
    k = 0
    while time.perf_counter() - wall < 300:
        net._step(X[k % 100 * 10:][:10], y[k % 100 * 10:][:10], 0.1, 0.1, 10)
        k += 1
        if k == 1:
            out["first_step"] = since()
        if calls or os.environ.get("NNFAST_THREADS") == "1":
            break
    out["parallel_step"] = since() + [k]  # at most 300 s: a lower bound where no parallel kernel ran by then
    out["parallel"] = bool(calls)
try:
    os.waitpid(-1, 0)
except ChildProcessError:
    pass
children = resource.getrusage(resource.RUSAGE_CHILDREN)
out["helper_cpu"] = children.ru_utime + children.ru_stime
print(json.dumps(out))
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
    """(cold, warm): first SGD + evaluate with an empty NUMBA_CACHE_DIR, then again in a second process."""
    code = _FIRST_CALL.format(dtype=dtype)
    with tempfile.TemporaryDirectory(prefix="nnfast-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = _seconds(code, env)
        warm = _seconds(code, env)
    return cold, warm


def conv_figures(env, scenario):
    """``_FIRST_CONV_CALL``'s figures for ``scenario`` in a fresh process whose environment is ``env``."""
    out = subprocess.run([sys.executable, "-c", _FIRST_CONV_CALL, scenario], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def conv_compile(rounds=2):
    """Chapter 6's two-conv net from an empty numba cache, each case in a fresh process, the cases alternated for
    ``rounds``: medians of {"one_thread": the first mini-batch with NNFAST_THREADS=1 [wall, CPU];
    "every_core": the first mini-batch on the default threads [wall, CPU], the first on the parallel kernels
    [wall, CPU, mini-batches trained by then], the helper's CPU; "predict": a first prediction [wall, CPU];
    "warm": the first mini-batch on a warm cache [wall, CPU]}."""
    runs = {"one_thread": [], "every_core": [], "predict": []}
    cases = (("one_thread", {"NNFAST_THREADS": "1"}, "train"), ("every_core", {}, "train"), ("predict", {}, "predict"))
    base = {k: v for k, v in os.environ.items() if k not in ("NNFAST_THREADS", "NNFAST_COMPILE_HELPER")}
    for _ in range(rounds):
        for name, env, scenario in cases:
            with tempfile.TemporaryDirectory(prefix="nnfast-numba-") as cache:
                os_env = {**base, **env, "NUMBA_CACHE_DIR": cache}
                runs[name].append(conv_figures(os_env, scenario))
        with tempfile.TemporaryDirectory(prefix="nnfast-numba-") as cache:
            conv_figures({**base, "NUMBA_CACHE_DIR": cache}, "train")
            runs.setdefault("warm", []).append(conv_figures({**base, "NUMBA_CACHE_DIR": cache}, "train"))

    def median(name, key):
        values = [r[key] for r in runs[name]]
        return [statistics.median(v) for v in zip(*values)] if isinstance(values[0], list) \
            else statistics.median(values)

    return {"one_thread": median("one_thread", "first_step"),
            "every_core": {"first_step": median("every_core", "first_step"),
                           "parallel_step": median("every_core", "parallel_step"),
                           "helper_cpu": median("every_core", "helper_cpu")},
            "predict": median("predict", "first_predict"), "warm": median("warm", "first_step")}


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
