"""Chapter 6 on a cold numba cache (``nnfast.engine.parallel_start``): one thread on the serial kernels while a
helper process compiles the parallel ones, then every thread; the run is the book's run across the switch."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nnfast.engine import conv_parts, parallel_start
from nnfast.engine.kernels import conv_ways, parallel_helper
from nnfast.engine.kernels.parallel_kernels import backward_kernel, parallel_kernels, serial_kernels
from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer, sigmoid, tanh
from nnfast.twins import network3 as reference3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _net(m, dtype=np.float64):
    """Two conv layers, then fully connected layers wide enough for the dense parallel kernels (n_in >= 128 for
    the fused step's runs of rows, sparse inputs for the sparse product)."""
    return Network([ConvPoolLayer((4, 1, 3, 3), (m, 1, 12, 12), (2, 2), activation_fn=ReLU),
                    ConvPoolLayer((8, 4, 2, 2), (m, 4, 5, 5), (2, 2), activation_fn=tanh),
                    FullyConnectedLayer(8 * 2 * 2, 130, activation_fn=ReLU, p_dropout=0.5),
                    FullyConnectedLayer(130, 140, activation_fn=sigmoid, p_dropout=0.2),
                    SoftmaxLayer(140, 4, p_dropout=0.3)], m, dtype=dtype)


def _dense_net(m):
    """No conv layers: the helper compiles only the dense kernels (a few seconds), the mechanism is the same."""
    return Network([FullyConnectedLayer(144, 130, activation_fn=ReLU, p_dropout=0.5),
                    FullyConnectedLayer(130, 140, activation_fn=sigmoid, p_dropout=0.2),
                    SoftmaxLayer(140, 4, p_dropout=0.3)], m, dtype=np.float64)


def _parallel_calls(monkeypatch):
    """A list that grows by one at each call of a parallel kernel (each is preceded by ``numba_threads``)."""
    calls = []
    real = conv_parts.numba_threads
    monkeypatch.setattr(conv_parts, "numba_threads", lambda count: (calls.append(count), real(count))[1])
    return calls


def test_the_registry_holds_the_signatures_a_step_and_a_prediction_call(monkeypatch, parallel_now):
    monkeypatch.setenv("NNFAST_THREADS", "2")
    calls = _parallel_calls(monkeypatch)
    np.random.seed(31)
    net = _net(10)
    rng = np.random.default_rng(32)

    def steps(count):
        for _ in range(count):
            net._step(rng.random((10, 144)), rng.integers(0, 4, 10), 0.1, 0.5, 20)

    steps(2)  # the compiled step (engine.net_step) on two threads
    net.feedforward(rng.random((30, 144)))
    assert calls
    monkeypatch.setenv("NNFAST_THREADS", "1")
    steps(1)  # and on one
    # the layers' own compiled code (while that compiles, or for an array it cannot step in place), on one thread
    # and on two; its sparse product runs where under 40% of a layer's inputs are not zero: a few steps
    net.layers[4].w = np.asfortranarray(net.layers[4].w)
    steps(3)
    monkeypatch.setenv("NNFAST_THREADS", "2")
    steps(2)
    # the ways its conv layers take (kernels.conv_ways: the first layer's own, then patch rows, not the tiles of the
    # helper's list), on one thread (parts of up to 10 samples) and two (5), and every other serial kernel, with the
    # listed types
    taken = set()
    for most in (10, 5):
        forward, backward = conv_ways.ways(net._whole.convs.geometry, np.float64, most)
        taken |= {conv_ways.FORWARD[w] for ws in forward for w in ws} | {conv_ways.BACKWARD[w] for ws in backward for w in ws}
    assert taken == {conv_ways.forward_first_way, conv_ways.backward_first_way, conv_ways.forward_generic_way,
                     conv_ways.backward_generic_way}
    for kernel in taken:
        assert tuple(conv_ways.signatures(np.float64)[kernel in conv_ways.BACKWARD]) in kernel.overloads
    for kernel, signature in serial_kernels(np.float64, 2):
        if kernel not in conv_ways.FORWARD + conv_ways.BACKWARD:
            assert tuple(signature) in kernel.overloads, kernel.py_func.__name__
    # the helper's list, and the kernels only the layers' own step calls on two threads (left out of that list)
    listed = parallel_kernels(np.float64, 2) + [backward_kernel(np.float64, 2)] + parallel_kernels(np.float64, 0)
    known = {(k, tuple(sig)) for dtype in (np.float32, np.float64) for layers in range(5)
             for k, sig in parallel_kernels(dtype, layers) + ([backward_kernel(dtype, layers)] if layers else [])}
    for kernel, signature in listed:
        # called with the listed types (compiled or loaded for them), and never with others: else the helper
        # would compile kernels the run does not use, and the run would compile its own after all
        assert tuple(signature) in kernel.overloads, kernel.py_func.__name__
        assert {(kernel, tuple(s)) for s in kernel.overloads} <= known, kernel.py_func.__name__


def test_a_run_that_switches_to_the_parallel_kernels_mid_epoch_equals_the_twin(monkeypatch, parallel_now):
    monkeypatch.setenv("NNFAST_THREADS", "2")
    asks = []
    monkeypatch.setattr(parallel_start, "ready", lambda dtype, layers: asks.append(layers) or len(asks) > 3)
    calls = _parallel_calls(monkeypatch)
    own = []  # mini-batches through the layers' own code (conv_parts.LayerConvs)
    real_forward = conv_parts.LayerConvs.forward
    monkeypatch.setattr(conv_parts.LayerConvs, "forward", lambda self, x, parts: own.append(1) or real_forward(self, x, parts))
    np.random.seed(33)
    net = _net(10)
    twin = reference3.layers_of(net)
    twin_rng = np.random.RandomState(np.random.RandomState(0).randint(999999))
    rng = np.random.default_rng(34)
    per_step = []
    for _ in range(7):
        x, y = rng.random((10, 144)), rng.integers(0, 4, 10)
        before = len(calls)
        cost = net._step(x, y, 0.2, 0.3, 11)
        per_step.append(len(calls) - before)
        assert abs(cost - reference3.sgd_step(twin, x, y, 0.2, 0.3, 11, twin_rng)) < 1e-12
    assert per_step[:3] == [0, 0, 0] and all(per_step[3:]), per_step  # one thread, then the parallel kernels
    assert len(own) == 3  # while waiting, the layers' own code: nothing of the compiled step
    assert len(asks) == 4 and asks[0] == 2  # asked until ready, then no more
    for layer, t in zip(net.layers, twin):
        np.testing.assert_allclose(layer.w, t["w"], rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(layer.b, t["b"], rtol=1e-11, atol=1e-13)


class _FakeProcess:
    def __init__(self):
        self.code = None

    def poll(self):
        return self.code


def test_one_thread_until_the_helper_ends_then_the_kernels_are_loaded(monkeypatch):
    started, loaded = [], []

    class FakeHelper:
        def __init__(self):
            self.process = _FakeProcess()

        def stop(self):
            pass

    monkeypatch.delenv(parallel_helper.HELPER_VARIABLE, raising=False)
    monkeypatch.setattr(parallel_helper, "all_cached", lambda dtype, layers: False)
    monkeypatch.setattr(parallel_helper, "start", lambda dtype, layers: started.append((dtype, layers)) or FakeHelper())
    monkeypatch.setattr(parallel_start, "_load", lambda dtype, layers: loaded.append((dtype, layers)))
    convs = conv_parts.CompiledConvs(_net(4, np.float32).layers[:2], np.float32)
    assert parallel_start.threads(2, np.float32, convs) == 1 and started == []  # the first ask compiles the serial
    assert parallel_start.threads(2, np.float32, convs) == 1 and started == [("float32", 2)]  # the second starts it
    assert parallel_start.threads(2, np.float32, convs) == 1 and loaded == []
    helper = parallel_start._STATES[("float32", 2)].helper
    helper.process.code = 0  # it has ended
    assert parallel_start.threads(2, np.float32, convs) == 2 and loaded == [("float32", 2)]
    assert parallel_start.threads(8, np.float32, convs) == 8 and loaded == [("float32", 2)] and len(started) == 1
    assert parallel_start.threads(2, np.float32, convs, training=False) == 2
    # a prediction of a net with no compiled conv layers calls no parallel kernel: it never waits
    assert parallel_start.threads(2, np.float64, None, training=False) == 2 and len(started) == 1


def test_no_helper_where_cached_or_refused_and_nothing_parallel_on_one_thread(monkeypatch):
    started = []
    monkeypatch.setattr(parallel_helper, "start", lambda dtype, layers: started.append(dtype))
    monkeypatch.setattr(parallel_helper, "all_cached", lambda dtype, layers: True)
    assert parallel_start.ready(np.float32, 1)  # in the cache: loaded at the first call
    monkeypatch.setattr(parallel_helper, "all_cached", lambda dtype, layers: False)
    monkeypatch.setenv(parallel_helper.HELPER_VARIABLE, "0")
    assert parallel_start.ready(np.float64, 1)  # no helper: compiled in this process at the first call, as before
    assert started == []
    monkeypatch.setattr(parallel_start, "ready", lambda dtype, layers: pytest.fail("asked on one thread"))
    assert parallel_start.threads(1, np.float32, None) == 1


# A fresh process on an empty cache trains on two threads: one thread on the layers' own code while the real
# helper compiles, then the compiled step's kernels, loaded from the helper's cache. A net of dense layers keeps
# the helper's compile short; the conv kernels' signatures and a conv net's switch are tested above. Prints what it saw; saves the weights.
SWITCH = textwrap.dedent("""
    import json, sys, time, numpy as np
    sys.path.insert(0, {tests!r})
    from test_parallel_start import _dense_net
    from nnfast.engine import conv_parts, parallel_start
    from nnfast.engine.kernels.parallel_kernels import helper_kernels
    calls = []
    real = conv_parts.numba_threads
    conv_parts.numba_threads = lambda count: (calls.append(count), real(count))[1]
    np.random.seed(35)
    net = _dense_net(10)
    rng = np.random.default_rng(36)
    serial, deadline = 0, time.monotonic() + 400
    while time.monotonic() < deadline:
        x, y = rng.random((10, 144)), rng.integers(0, 4, 10)
        net._step(x, y, 0.2, 0.3, 11)
        if calls:
            break
        serial += 1
        time.sleep(0.1)  # the helper's core
    waiting = [s.helper is not None for s in parallel_start._STATES.values()]
    np.savez({out!r}, *[p for layer in net.layers for p in (layer.w, layer.b)])
    print(json.dumps(dict(serial=serial, parallel=bool(calls), waiting=waiting, misses={{
        k.py_func.__name__: k.stats.cache_misses.get(tuple(sig), 0) for k, sig in helper_kernels(np.float64, 0)}})))
""")


def test_a_real_helper_compiles_them_and_the_run_loads_them_and_equals_the_twin(tmp_path):
    out = tmp_path / "weights.npz"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "NNFAST_THREADS": "2"}
    env.pop(parallel_helper.HELPER_VARIABLE, None)
    done = subprocess.run([sys.executable, "-c", SWITCH.format(tests=os.path.join(ROOT, "tests", "engine"), out=str(out))],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["parallel"] and seen["serial"] >= 2, seen  # serial first (the helper starts at the second ask)
    assert seen["waiting"] == [False], seen  # the helper has ended
    assert set(seen["misses"].values()) == {0}, seen  # the compiled step's kernels came from the helper's cache

    np.random.seed(35)
    net = _dense_net(10)
    twin = reference3.layers_of(net)
    twin_rng = np.random.RandomState(np.random.RandomState(0).randint(999999))
    rng = np.random.default_rng(36)
    for _ in range(seen["serial"] + 1):
        x, y = rng.random((10, 144)), rng.integers(0, 4, 10)
        reference3.sgd_step(twin, x, y, 0.2, 0.3, 11, twin_rng)
    with np.load(out) as saved:
        mine = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    for got, want in zip(mine, [p for t in twin for p in (t["w"], t["b"])]):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)
