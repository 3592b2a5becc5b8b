"""The first compile on two cores (``nnfast.engine.kernels.background``): the helper compiles the very kernels
``run_batches`` needs, the network trains to the same bits with them, and a helper starts only where it helps."""

import os
import random
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

from nnfast.engine import dense_kernels
from nnfast.engine.kernels import background

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A small net trained one epoch; prints, for every callee the helper compiles, how often this process compiled
# it (rather than load it from the cache, or not need it), and saves the weights.
TRAIN = textwrap.dedent("""
    import random, sys, numpy as np
    sys.path.insert(0, {tests!r})
    from conftest import synthetic_digits
    from nnfast import network
    from nnfast.engine.kernels import background
    training, test = synthetic_digits(40, seed=3)
    random.seed(4)
    np.random.seed(5)
    net = network.Network([784, 12, 10])
    net.SGD(training, 1, 6, 3.0, test_data=test)
    np.savez({out!r}, *net.weights, *net.biases)
    cost_sum, sig = background.afterwards("float64")[-1]
    print(background.compiled_or_cached(cost_sum, sig) and background.compiled_or_cached(*background.SHUFFLE), " ".join(
        f"{{k.py_func.__name__}}={{k.stats.cache_misses.get(tuple(sig), 0)}}" for k, sig in background.callees("float64")))
""")


def _python(code, cache, **env):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(cache), **env})


def test_the_helpers_kernels_are_the_ones_run_batches_loads_and_train_to_the_same_bits(tmp_path):
    cache = tmp_path / "cache"
    _python("from nnfast.engine.kernels.background import main; main('float64')", cache)  # the helper, to the end
    out = tmp_path / "weights.npz"
    printed = _python(TRAIN.format(tests=os.path.join(ROOT, "tests"), out=str(out)), cache,
                      NNFAST_COMPILE_HELPER="0").stdout.split()[-len(background.callees("float64")) - 1:]
    cost_sum_cached, hits = printed[0], printed[1:]
    assert all(h.endswith("=0") for h in hits), f"compiled again instead of loaded from the helper's cache: {hits}"
    assert cost_sum_cached == "True"  # the shuffle and chapter 3's cost sums, compiled after the callees

    from conftest import synthetic_digits
    from nnfast import network
    training, test = synthetic_digits(40, seed=3)
    random.seed(4)
    np.random.seed(5)
    net = network.Network([784, 12, 10])
    net.SGD(training, 1, 6, 3.0, test_data=test)
    with np.load(out) as saved:
        for mine, theirs in zip([*net.weights, *net.biases], [saved[k] for k in saved.files]):
            assert mine.tobytes() == theirs.tobytes()


def test_a_stopped_helper_finishes_its_kernel_and_leaves_the_cache_whole(tmp_path):
    cache = tmp_path / "cache"
    code = "from nnfast.engine.kernels.background import main; main('float32')"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    helper = background.Helper(process)
    deadline = time.monotonic() + 120
    while not any(cache.rglob("*.nbi")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)  # until its first kernel is in the cache: the SIGTERM handler is in place
    helper.stop()
    assert process.wait(timeout=120) == 0
    assert not [p for p in cache.rglob("*") if ".tmp." in p.name]
    helper.stop()  # stopping an ended helper is harmless


def test_a_helper_only_where_it_can_help(monkeypatch):
    launched = []

    class FakeProcess:
        def __init__(self, args, **kwargs):
            launched.append(args)

    monkeypatch.setattr(background.subprocess, "Popen", FakeProcess)
    monkeypatch.setattr(background, "_started", [])  # these fakes are no helpers for the rest of the tests
    monkeypatch.setattr(background, "compiled_or_cached", lambda dispatcher, signature: False)  # a cold cache
    monkeypatch.delenv(background.HELPER_VARIABLE, raising=False)
    monkeypatch.setattr(background.os, "getloadavg", lambda: (0.2, 0.2, 0.2), raising=False)
    assert background.start(np.float64, cores=2) is not None  # a free core: a helper
    assert "main('float64')" in launched[-1][-1]
    assert background.start(np.float64, cores=1) is None  # one core: nothing to share
    monkeypatch.setattr(background.os, "getloadavg", lambda: (3.0, 3.0, 3.0), raising=False)
    assert background.no_core_free(2) and not background.no_core_free(4)
    assert background.start(np.float64, cores=2) is None  # the other core is busy ...
    monkeypatch.setenv(background.HELPER_VARIABLE, "1")
    assert background.start(np.float32, cores=2) is not None  # ... unless asked for all the same
    monkeypatch.setenv(background.HELPER_VARIABLE, "0")
    monkeypatch.setattr(background.os, "getloadavg", lambda: (0.2, 0.2, 0.2), raising=False)
    assert background.start(np.float64, cores=2) is None  # never
    assert len(launched) == 2


def test_no_helper_once_the_kernels_are_compiled():
    from nnfast import network
    network.Network([784, 5, 10]).warm_up()  # compiled (or loaded) in this process: nothing left to compile
    assert background.compiled_or_cached(background.batches.run_batches, background.entry_signature(np.float64))
    assert background.start(np.float64, cores=2) is None


def test_one_helper_per_dtype_however_many_threads_call_first(monkeypatch):
    started, stopped = [], []

    class FakeHelper:
        def stop(self):
            stopped.append(True)

    k = dense_kernels._Kernels()
    monkeypatch.setattr(k._background, "start", lambda dtype, cores: started.append(dtype) or FakeHelper())
    threads = [threading.Thread(target=k.prepare, args=(np.dtype(np.float32),)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert started == [np.dtype(np.float32)]
    k.compiled(np.dtype(np.float32))
    k.compiled(np.dtype(np.float32))
    assert stopped == [True]



def test_while_a_helper_compiles_the_shuffle_python_makes_the_same_shuffle(monkeypatch):
    from nnfast.engine import rng
    from nnfast.engine.kernels import shuffle

    class Running:
        def poll(self):
            return None
    monkeypatch.setattr(background, "_started", [background.Helper(Running())])
    class NotCompiled:  # the kernel as in a process that has not compiled it: calling it would compile it here
        overloads = {}

        def __call__(self, *args):
            raise AssertionError("compiled in this process while the helper compiles it")
    monkeypatch.setattr(shuffle, "shuffle_like_python", NotCompiled())
    monkeypatch.setattr(background, "compiled_or_cached", lambda dispatcher, signature: False)  # nor the helper yet
    random.seed(12)
    order = np.arange(5000, dtype=np.int64)
    rng.shuffle(order)
    after = random.getstate()
    random.seed(12)
    book = list(range(5000))
    random.shuffle(book)
    assert order.tolist() == book and random.getstate() == after  # the same draws, the same state after them
    monkeypatch.undo()
    random.seed(12)
    kernel = np.arange(5000, dtype=np.int64)
    rng.shuffle(kernel)  # and the kernel's, once the helper has it
    assert kernel.tolist() == book and random.getstate() == after
