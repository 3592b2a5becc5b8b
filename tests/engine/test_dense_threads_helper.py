"""Chapter 1/3's threaded kernel on a cold numba cache (``nnfast.engine.dense_threads.ready``): a helper process
compiles it while training goes on on one thread, so this process's compiler lock stays free (a first compile
here is not held up, a forked child can compile), and the run then loads it from the helper's cache and trains
the same bits as one thread."""

import json
import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nnfast import network
from nnfast.engine import dense_threads
from nnfast.engine.kernels import parallel_helper
from conftest import synthetic_digits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A fresh process, empty cache, two threads: a first SGD call starts the helper; while it compiles, this
# process takes numba's compiler lock, compiles a new function on the main thread and forks a child that
# compiles one; then, once the helper has ended, a second call trains on threads. Prints what it saw.
COLD = textwrap.dedent("""
    import json, os, random, sys, time, numpy as np
    sys.path[:0] = [{tests!r}, {tests!r} + '/engine']
    from conftest import synthetic_digits
    from numba import njit
    from numba.core.compiler_lock import global_compiler_lock
    from nnfast import network
    from nnfast.engine import dense_threads
    from test_dense_threads import _AlwaysThreads
    dense_threads.MIN_WORK, dense_threads.MIN_BATCH, dense_threads.CHUNK_FLOPS = 0, 1, 1e6
    dense_threads.Chooser = _AlwaysThreads
    dense_threads._not_now = lambda cores, dtype: False
    made, make_plan = [], dense_threads.plan
    dense_threads.plan = lambda *a: made.append(make_plan(*a)) or made[-1]
    training, _ = synthetic_digits(600, seed=5)
    random.seed(11)
    np.random.seed(4)
    net = network.Network([784, 24, 10])
    net.SGD(training, 1, 20, 0.5)
    helper = dense_threads._HELPERS.get("float64")
    seen = dict(helper_running=helper is not None and helper.process.poll() is None,
                helper_pid=helper.process.pid if helper is not None else None, first_ready=made[0].ready)
    seen["lock_free"] = global_compiler_lock._lock.acquire(timeout=2)
    if seen["lock_free"]:
        global_compiler_lock._lock.release()
    start = time.perf_counter()
    plus_one = njit(lambda a: a + 1)
    seen["compiled_here"] = plus_one(1) == 2
    seen["compile_s"] = time.perf_counter() - start
    seen["helper_still_running"] = helper is not None and helper.process.poll() is None
    pid = os.fork()
    if pid == 0:
        os._exit(0 if njit(lambda a: a * 2)(2) == 4 else 1)
    deadline, status = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    seen["child_compiled"] = status is not None and os.waitstatus_to_exitcode(status) == 0
    if helper is not None:
        helper.process.wait(timeout=600)
    net.SGD(training, 2, 20, 0.5)  # the first of its calls loads the kernel; the rest run on threads
    kernel, sig = dense_threads.kernel(), dense_threads.signature(np.float64)
    seen.update(second_ready=made[-1].ready, threaded_calls=made[-1].chooser.calls,
                misses=kernel.stats.cache_misses.get(tuple(sig), 0), hits=kernel.stats.cache_hits.get(tuple(sig), 0))
    np.savez({out!r}, *net.weights, *net.biases)
    print(json.dumps(seen))
""")


def test_a_helper_compiles_the_threaded_kernel_while_this_process_compiles_and_forks_freely(tmp_path):
    out = tmp_path / "weights.npz"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "NNFAST_THREADS": "2"}
    env.pop(parallel_helper.HELPER_VARIABLE, None)
    done = subprocess.run([sys.executable, "-c", COLD.format(tests=os.path.join(ROOT, "tests"),
                                                              out=str(out))],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["helper_pid"] not in (None, os.getpid()) and not seen["first_ready"], seen  # one thread meanwhile
    assert seen["helper_running"] and seen["helper_still_running"], seen  # all of the below while it compiled
    assert seen["lock_free"] and seen["compiled_here"] and seen["compile_s"] < 8, seen  # not held up (8-36 s before)
    assert seen["child_compiled"], seen  # a child forked meanwhile can compile (it hung before the fork hook)
    assert seen["second_ready"] and seen["threaded_calls"] > 2, seen  # the second call trained on threads
    assert seen["misses"] == 0 and seen["hits"] == 1, seen  # loaded from the helper's cache, not compiled here

    random.seed(11)  # the same three epochs on one thread, in this process: the same bits
    np.random.seed(4)
    training, _ = synthetic_digits(600, seed=5)
    one = network.Network([784, 24, 10])
    os.environ["NNFAST_THREADS"] = "1"
    try:
        one.SGD(training, 1, 20, 0.5)
        one.SGD(training, 2, 20, 0.5)
    finally:
        os.environ.pop("NNFAST_THREADS")
    with np.load(out) as saved:
        threaded = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    for a, b in zip(threaded, one.weights + one.biases):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def fresh(monkeypatch):
    dense_threads.forget()
    yield
    dense_threads.forget()


class _Process:
    def __init__(self, code=None):
        self.code = code

    def poll(self):
        return self.code


class _Helper:
    def __init__(self):
        self.process = _Process()

    def stop(self):
        pass


def test_one_helper_one_thread_until_it_ends_then_loaded(monkeypatch, fresh):
    started, loaded = [], []
    kernel = type("K", (), {"overloads": {}, "compile": lambda self, sig: loaded.append(sig)})()
    monkeypatch.delenv(parallel_helper.HELPER_VARIABLE, raising=False)
    monkeypatch.setattr(dense_threads, "kernel", lambda: kernel)
    monkeypatch.setattr(dense_threads, "signature", lambda dtype: ("sig",))
    monkeypatch.setattr(parallel_helper, "all_cached", lambda *a: False)
    monkeypatch.setattr(parallel_helper, "start", lambda *a: started.append(a) or _Helper())
    from nnfast.engine.kernels import background
    cached = []
    monkeypatch.setattr(background, "compiled_or_cached", lambda k, sig, unknown=True: bool(cached))
    assert not dense_threads.ready(np.float32) and started == [("float32", 0, parallel_helper.DENSE)]
    assert not dense_threads.ready(np.float32) and len(started) == 1 and loaded == []  # still compiling
    dense_threads._HELPERS["float32"].process.code = 0  # it has ended ...
    cached.append(True)  # ... leaving the kernel in the cache
    assert dense_threads.ready(np.float32) and loaded == [("sig",)] and len(started) == 1


def test_a_helper_that_left_nothing_keeps_one_thread_without_compiling_here(monkeypatch, fresh):
    kernel = type("K", (), {"overloads": {}, "compile": lambda self, sig: pytest.fail("compiled here")})()
    monkeypatch.delenv(parallel_helper.HELPER_VARIABLE, raising=False)
    monkeypatch.setattr(dense_threads, "kernel", lambda: kernel)
    monkeypatch.setattr(dense_threads, "signature", lambda dtype: ("sig",))
    monkeypatch.setattr(parallel_helper, "all_cached", lambda *a: False)
    helper = _Helper()
    helper.process.code = 1  # failed at once
    monkeypatch.setattr(parallel_helper, "start", lambda *a: helper)
    from nnfast.engine.kernels import background
    monkeypatch.setattr(background, "compiled_or_cached", lambda k, sig, unknown=True: False)
    assert not dense_threads.ready(np.float64)
    assert not dense_threads.ready(np.float64)  # and never asks again


def test_no_helper_when_the_user_says_no_the_kernel_compiles_here(monkeypatch, fresh):
    loaded = []
    kernel = type("K", (), {"overloads": {}, "compile": lambda self, sig: loaded.append(sig)})()
    monkeypatch.setenv(parallel_helper.HELPER_VARIABLE, "0")
    monkeypatch.setattr(dense_threads, "kernel", lambda: kernel)
    monkeypatch.setattr(dense_threads, "signature", lambda dtype: ("sig",))
    monkeypatch.setattr(parallel_helper, "start", lambda *a: pytest.fail("a helper started"))
    assert dense_threads.ready(np.float64) and loaded == [("sig",)]


def test_the_helpers_signature_is_the_one_training_calls_with():
    """``threaded_dense_kernels``' entry, compiled for its signature, is what ``_run`` called (no second compile)."""
    sig = tuple(dense_threads.signature(np.float64))
    dense_threads.kernel().compile(sig)
    before = set(dense_threads.kernel().overloads)
    rng = np.random.default_rng(1)
    X = (rng.random((60, 784)) < 0.3).astype(np.float32)
    Y = np.eye(10)[rng.integers(0, 10, 60)]
    np.random.seed(2)
    net = network.Network([784, 16, 10])
    rows = np.arange(60, dtype=np.int64)
    net._run(net._pack(), X, rows, Y, rows, 20, 1.0, threads=2)
    assert sig in before and set(dense_threads.kernel().overloads) == before
