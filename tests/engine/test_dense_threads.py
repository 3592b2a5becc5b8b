"""Chapter 1/3's training on several threads: the same numbers bit for bit, chosen only where it may pay.

One dtype (float64) and tiny nets: the threaded kernel is a compile of its own (about 10 s on a busy 2-core
machine, once per cache).
"""

import random

import numpy as np
import pytest

from nnfast import network, network2
from nnfast.engine import blas_threads, dense_threads
from nnfast.engine.input_layout import prepared_inputs
from nnfast.twins import network as reference
from conftest import synthetic_digits


@pytest.fixture(scope="module")
def compiled():
    """The threaded kernel for float64, compiled (or loaded from numba's cache) before the tests time nothing."""
    dense_threads.kernel().compile(dense_threads.signature(np.float64))


def _train(net, X, Y, batch, eta, decay, threads, skip=True, steps=None):
    """``params`` after one ``_run`` over all rows of X (a training call's slice), on ``threads`` threads."""
    params, rows = net._pack(), np.arange(len(X), dtype=np.int64)
    grads = np.empty_like(params)
    if skip:
        inputs, layout = prepared_inputs(X, rows)
        with net._inputs_order(params, layout.perm):
            net._run(params, inputs, rows, Y, rows, batch, eta, decay, layout=layout, threads=threads, grads=grads)
    else:
        net._run(params, X, rows, Y, rows, batch, eta, decay, threads=threads, grads=grads)
    return params, grads


@pytest.mark.parametrize("sizes, batch", [([784, 30, 10], 50), ([784, 21, 10], 7), ([784, 16, 9, 10], 13),
                                          ([784, 10], 64)])
@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_training_is_one_threads_bit_for_bit(compiled, sizes, batch, threads):
    """Units split over threads (odd layer widths, a last short mini-batch, zero skipping on and off, chapter
    3's decay): every weight the same as one thread's, and the last batch's gradient too (eta 0)."""
    rng = np.random.default_rng(sum(sizes) + batch)
    X = (np.floor(rng.random((203, 784)) * 256) / 256 * (rng.random((203, 784)) < 0.3)).astype(np.float32)
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 203)]
    np.random.seed(3)
    net = network.Network(sizes)
    for skip in (True, False):
        for eta, decay in ((3.0, 1.0), (0.5, 0.999), (0.0, 1.0)):
            one = _train(net, X, Y, batch, eta, decay, 1, skip)
            many = _train(net, X, Y, batch, eta, decay, threads, skip)
            np.testing.assert_array_equal(many[0], one[0])
            if eta == 0:
                np.testing.assert_array_equal(many[1], one[1])


class _AlwaysThreads:
    """A chooser that always answers ``most`` threads (to exercise the threaded path inside SGD)."""

    def __init__(self, most, give_up=None):
        self.most, self.calls = most, 0
        self.choice, self._plan, self._left, self._timed = most, [], 0, {}

    def threads(self):
        return self.most

    def took(self, seconds):
        self.calls += 1


def _sgd(monkeypatch, threaded, face, **sgd):
    training, _ = synthetic_digits(600, seed=5)
    random.seed(11)
    np.random.seed(4)
    net = face.Network([784, 24, 10]) if face is network else face.Network([784, 24, 10], cost=face.CrossEntropyCost)
    made = []
    if threaded:
        monkeypatch.setattr(dense_threads, "MIN_WORK", 0)
        monkeypatch.setattr(dense_threads, "MIN_BATCH", 1)
        monkeypatch.setattr(dense_threads, "CHUNK_FLOPS", 1e6)  # several kernel calls an epoch
        monkeypatch.setattr(dense_threads, "Chooser", _AlwaysThreads)
        monkeypatch.setattr(dense_threads, "_not_now", lambda cores, dtype: False)
        make_plan = dense_threads.plan
        monkeypatch.setattr(dense_threads, "plan", lambda *a: made.append(make_plan(*a)) or made[-1])
        monkeypatch.setenv("NNFAST_THREADS", "2")
    else:
        monkeypatch.setenv("NNFAST_THREADS", "1")
    net.SGD(training, 2, 20, 0.5, **sgd)
    return net, made


@pytest.mark.parametrize("face, sgd", [(network, {}), (network2, {"lmbda": 2.0})])
def test_sgd_on_threads_trains_the_same_net_as_one_thread_and_as_the_books_loop(compiled, monkeypatch, face, sgd):
    one, _ = _sgd(monkeypatch, False, face, **sgd)
    many, plans = _sgd(monkeypatch, True, face, **sgd)
    assert plans and plans[0].ready and plans[0].chooser.calls > 2  # the threaded kernel did the training
    for a, b in zip(one.weights + one.biases, many.weights + many.biases):
        np.testing.assert_array_equal(a, b)
    if face is network:  # and the book's per-sample loop, at the suite's tolerance for trained weights
        training, _ = synthetic_digits(600, seed=5)
        random.seed(11)
        np.random.seed(4)
        ref = reference.Network([784, 24, 10])
        ref.SGD(training, 2, 20, 0.5)
        for a, b in zip(many.weights + many.biases, ref.weights + ref.biases):
            assert np.max(np.abs(a - b)) / np.max(np.abs(b)) <= 1e-8


@pytest.mark.parametrize("sizes, batch, cores, most", [
    ([784, 30, 10], 10, 2, 1),  # the book's mini-batch (and nnfast train's first run): never threads
    ([784, 30, 10], 100, 1, 1),  # NNFAST_THREADS=1, --threads 1, a sweep's worker
    ([784, 12, 10], 100, 2, 1),  # too few units for two threads
    ([784, 30, 10], 100, 2, 2),
    ([784, 100, 10], 50, 2, 2),
])
def test_threads_are_tried_only_where_they_may_pay(sizes, batch, cores, most):
    assert min(dense_threads.most_threads(sizes, batch, cores), 2) == most


def test_no_plan_and_no_compile_where_threads_cannot_pay(monkeypatch):
    def no_compile(*a):
        raise AssertionError("compiled")
    monkeypatch.setattr(dense_threads, "ready", no_compile)
    per_sample = 6 * 23_860
    assert dense_threads.plan([784, 30, 10], 10, 2, np.float64, per_sample, 50_000) is None
    assert dense_threads.plan([784, 30, 10], 100, 1, np.float64, per_sample, 50_000) is None
    assert dense_threads.plan([784, 30, 10], 100, 2, np.float64, per_sample, 1000) is None  # too little work
    monkeypatch.setenv("NNFAST_THREADS", "1")  # a sweep's worker: SGD never makes a plan
    made, make_plan = [], dense_threads.plan
    monkeypatch.setattr(dense_threads, "plan", lambda *a: made.append(make_plan(*a)) or made[-1])
    training, _ = synthetic_digits(100, seed=1)
    network.Network([784, 30, 10]).SGD(training, 1, 50, 1.0)
    assert made == [None]


def test_a_probe_gives_up_at_once_when_threads_are_far_slower():
    """A busy machine: a threaded call 10x one thread's ends the probe there, so it costs one call, not six."""
    chooser = blas_threads.Chooser(2, give_up=dense_threads.GIVE_UP)
    used = []
    for _ in range(4):
        t = chooser.threads()
        used.append(t)
        chooser.took(1.0 if t == 1 else 10.0)
    assert used == [1, 2, 1, 1] and chooser.history == [(2, 1)]
    patient = blas_threads.Chooser(2)  # chapter 6's, without give_up, probes to the end
    for _ in range(4):
        patient.took(1.0 if patient.threads() == 1 else 10.0)
    assert patient.history == []


def test_threads_far_slower_in_one_call_are_measured_again_at_once():
    """While on threads, one call over give_up times one thread's median starts a probe on the next call."""
    chooser = blas_threads.Chooser(2, give_up=dense_threads.GIVE_UP)
    for _ in range(2 * blas_threads.PROBE):
        chooser.took(1.0 if chooser.threads() == 1 else 0.5)
    assert chooser.threads() == 2
    chooser.took(0.5)
    chooser.took(5.0)  # another process took the second core
    assert chooser.threads() == 1  # the probe's first call
    chooser.took(1.0)
    chooser.took(5.0)  # threads still far slower: back on one thread, without the rest of the probe
    assert chooser.threads() == 1 and chooser.history[-1] == (2 * blas_threads.PROBE + 4, 1)


def _feed(plan, step, calls, seconds_per_chunk, warm_up=None):
    """Run ``calls`` calls through ``plan``: a call of ``samples`` on ``threads`` takes ``seconds_per_chunk[threads]``
    per chunk of samples (the first threaded call ``warm_up`` seconds, when given); (samples, threads) of each."""
    seen = []
    for _ in range(calls):
        size, threads = plan.samples(step), plan.threads()
        first = threads > 1 and all(t == 1 for _, t in seen)
        seconds = warm_up if first and warm_up is not None else seconds_per_chunk[threads] * size / plan.chunk
        seen.append((size, threads))
        plan.took(threads, seconds, size)
    return seen


def _ready_plan():
    plan = dense_threads.Plan(2, np.float64, 6 * 23_860, 100)
    plan.ready = True
    return plan


def test_on_one_thread_between_probes_training_calls_take_whole_slices():
    """A probe: one-thread calls of a chunk, a threaded warm-up of one mini-batch, threaded calls of a quarter
    chunk; once one thread is chosen, calls go back to the caller's large slices, counted as their chunks
    toward the next probe, which comes in chunks again."""
    plan = _ready_plan()
    step = 40 * plan.chunk
    seen = _feed(plan, step, 2 * blas_threads.PROBE + 1 + 200, {1: 1e-3, 2: 1.5e-3})  # threads slower, not given up
    probe = seen[:2 * blas_threads.PROBE + 1]
    assert [s for s, t in probe if t == 1] == [plan.chunk] * blas_threads.PROBE
    assert [s for s, t in probe if t == 2] == [100] + [plan.small] * blas_threads.PROBE and plan.small < plan.chunk
    assert plan.chooser.history[0] == (2 * blas_threads.PROBE, 1)  # the untimed warm-up is not counted
    assert (step, 1) in seen and len(plan.chooser.history) >= 2  # the interval ran out in chunks: a second probe


def test_the_first_threaded_call_starts_the_threads_and_is_not_timed():
    """Starting numba's threads takes time: a first threaded call slower than a one-thread chunk (but not
    twice) must not end the probe where threads pay."""
    plan = _ready_plan()
    seen = _feed(plan, 40 * plan.chunk, 2 * blas_threads.PROBE + 1, {1: 4e-3, 2: 2e-3}, warm_up=6e-3)
    assert plan.chooser.history == [(2 * blas_threads.PROBE, 2)] and plan.threads() == 2
    assert seen[-1] == (plan.small, 2)


def test_a_first_threaded_call_far_too_slow_ends_the_probe_at_once():
    """A busy machine: the one-mini-batch warm-up outlasting two one-thread chunks is enough to keep one thread."""
    plan = _ready_plan()
    seen = _feed(plan, 40 * plan.chunk, 10, {1: 4e-3, 2: 40e-3}, warm_up=20e-3)
    assert [t for _, t in seen] == [1, 2] + [1] * 8 and plan.chooser.history == [(2, 1)]


def test_no_plan_while_no_core_is_free_unless_the_benchmarks_override(monkeypatch):
    """A busy machine (the load average leaves no core free): one thread, no probe, no compile."""
    from nnfast.engine.kernels import background
    monkeypatch.setattr(background, "no_core_free", lambda cores: True)
    monkeypatch.setattr(dense_threads, "ready", lambda dtype: True)
    monkeypatch.delenv(background.HELPER_VARIABLE, raising=False)
    per_sample = 6 * 23_860
    assert dense_threads.plan([784, 30, 10], 100, 2, np.float64, per_sample, 50_000) is None
    monkeypatch.setenv(background.HELPER_VARIABLE, "1")
    assert dense_threads.plan([784, 30, 10], 100, 2, np.float64, per_sample, 50_000) is not None
    monkeypatch.setattr(background, "no_core_free", lambda cores: False)
    monkeypatch.delenv(background.HELPER_VARIABLE)
    assert dense_threads.plan([784, 30, 10], 100, 2, np.float64, per_sample, 50_000) is not None
