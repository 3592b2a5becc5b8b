"""The BLAS thread chooser keeps threads only while they measurably pay, and measures again when load changes."""

import numpy as np
import pytest

from nnfast.engine import blas_threads
from nnfast.engine.blas_threads import FIRST_INTERVAL, PROBE, Chooser


def _run(chooser, cost, batches):
    """Feed ``batches`` mini-batches whose time is ``cost(threads, i)``; the threads used for each."""
    used = []
    for i in range(batches):
        t = chooser.threads()
        used.append(t)
        chooser.took(cost(t, i))
    return used


def test_threads_that_pay_are_kept_and_ones_that_do_not_are_dropped():
    fast_threads = Chooser(4)
    used = _run(fast_threads, lambda t, i: 1.0 / t, 2 * PROBE + 50)
    assert used[2 * PROBE:] == [4] * 50 and fast_threads.history == [(2 * PROBE, 4)]
    slow_threads = Chooser(4)
    used = _run(slow_threads, lambda t, i: 1.0 * t, 2 * PROBE + 50)
    assert used[2 * PROBE:] == [1] * 50
    barely = Chooser(2)  # 5% quicker is within noise: one thread, which cannot be hurt by load
    assert _run(barely, lambda t, i: 0.95 if t == 2 else 1.0, 2 * PROBE + 5)[-1] == 1


def test_it_measures_again_and_waits_longer_while_the_answer_holds():
    chooser = Chooser(2)
    _run(chooser, lambda t, i: 1.0 * t, 2 * PROBE + FIRST_INTERVAL + 2 * PROBE + 1)
    assert [c for _, c in chooser.history] == [1, 1] and chooser.interval == 2 * FIRST_INTERVAL


def test_a_busy_machine_sends_it_back_to_one_thread_at_once():
    chooser = Chooser(2)
    busy_from = 100
    def cost(t, i):  # idle: 2 threads twice as fast; from batch 100, another process: 2 threads 5x slower
        return (0.5 if i < busy_from else 5.0) if t == 2 else 1.0
    used = _run(chooser, cost, busy_from + 60)
    assert used[2 * PROBE:busy_from] == [2] * (busy_from - 2 * PROBE)
    assert used[-20:] == [1] * 20  # it noticed within a few dozen mini-batches, not FIRST_INTERVAL
    assert chooser.history[-1][1] == 1


def test_steady_counts_the_mini_batches_before_the_next_probe():
    """``steady()``: a run of mini-batches (engine.net_runs) may take that many without missing a change of
    ``threads()``: one at a time while a probe alternates, then up to the next probe, never past it."""
    chooser = Chooser(2)
    seen = []
    for i in range(2 * PROBE + FIRST_INTERVAL + 2 * PROBE):
        t, steady = chooser.threads(), chooser.steady()
        seen.append((t, steady))
        chooser.took(1.0 * t)
    assert all(steady == 1 for _, steady in seen[:2 * PROBE])  # probing: 1, 2, 1, 2, ...
    after = seen[2 * PROBE:2 * PROBE + FIRST_INTERVAL]
    assert [steady for _, steady in after] == list(range(FIRST_INTERVAL, 0, -1)) and {t for t, _ in after} == {1}
    assert all(steady == 1 for _, steady in seen[2 * PROBE + FIRST_INTERVAL:])  # the next probe
    assert Chooser(1).steady() >= 1 << 20  # one core: nothing to probe


def test_a_count_the_user_fixed_is_used_as_given(monkeypatch, parallel_now):
    from nnfast import network3
    from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    monkeypatch.setenv("NNFAST_THREADS", "1")
    np.random.seed(0)
    net = network3.Network([ConvPoolLayer((2, 1, 3, 3), (4, 1, 6, 6), (2, 2)), FullyConnectedLayer(8, 6),
                            SoftmaxLayer(6, 3)], 4)
    assert net._threads_for_step() == 1 and net._chooser is None
    monkeypatch.delenv("NNFAST_THREADS")
    assert blas_threads.fixed_by_user() is None
    net._threads_for_step()
    assert isinstance(net._chooser, Chooser)


def test_training_learns_the_same_with_the_chooser_as_on_one_thread(monkeypatch, parallel_now):
    from nnfast import network3
    from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    rng = np.random.default_rng(1)
    X, y = rng.random((200, 36)).astype(np.float32), rng.integers(0, 3, 200)
    nets = []
    for threads in ("1", None):
        if threads:
            monkeypatch.setenv("NNFAST_THREADS", threads)
        else:
            monkeypatch.delenv("NNFAST_THREADS", raising=False)
        np.random.seed(2)
        net = network3.Network([ConvPoolLayer((2, 1, 3, 3), (4, 1, 6, 6), (2, 2)), FullyConnectedLayer(8, 6),
                                SoftmaxLayer(6, 3)], 4)
        for k in range(0, 200, 4):
            net._step(X[k:k + 4], y[k:k + 4], 0.1, 0.0, 50)
        nets.append(net)
    for a, b in zip(nets[0].params, nets[1].params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_held_limit_is_set_once_for_the_steps_inside_it_and_released(monkeypatch):
    import contextlib

    from nnfast.engine import blas_threads
    calls = []
    monkeypatch.setattr(blas_threads, "limited", lambda t: (calls.append(t), contextlib.nullcontext())[1])
    with blas_threads.held(1):
        for _ in range(3):
            with blas_threads.held(1):  # a step inside a training run's hold: nothing to set
                pass
        with blas_threads.held(2):  # another limit is set
            pass
    with blas_threads.held(None):
        pass
    assert calls == [1, 2] and blas_threads._HELD == []


def test_a_library_loaded_inside_a_held_limit_is_held_to_it_and_released_after():
    """SciPy's OpenBLAS loads when chapter 6's conv engine is built, which may be inside a caller's ``held(1)``:
    ``rescan`` puts that limit on it at once and the ``held`` undoes it at its end (a fresh process, so that
    SciPy is not loaded yet)."""
    import subprocess
    import sys
    script = """
import json
from threadpoolctl import threadpool_info
from nnfast.engine import blas_threads

import numpy
numpys = {i["filepath"] for i in threadpool_info()}

def scipys():  # the BLAS libraries that loaded with SciPy
    return [i["num_threads"] for i in threadpool_info() if i["filepath"] not in numpys and i["user_api"] == "blas"]

with blas_threads.held(1):
    import scipy.linalg.cython_blas
    before = scipys()
    blas_threads.rescan()
    inside = scipys()
after = scipys()
print(json.dumps([before, inside, after]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "OPENBLAS_NUM_THREADS": "2"})
    before, inside, after = __import__("json").loads(out.stdout.splitlines()[-1])
    assert before and before == after and before[0] == 2  # loaded unlimited; released to that at the end
    assert inside == [1] * len(before)
