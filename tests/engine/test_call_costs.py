"""The quick paths of one call (remembered rows, remembered preparation, one-column feedforward) compute
exactly what the slow ones did: each is checked against the per-sample twin or against a fresh computation."""

import contextlib
import io
import random
import threading

import numpy as np
import pytest

from nnfast import network, network2
from nnfast.engine import content_memo, convert
from nnfast.twins import network as twin1
from nnfast.twins import network2 as twin2


def _loader_lists(n=400, seed=0):
    """Lists shaped as ``mnist_loader.wrap`` makes them: row views of one matrix, remembered."""
    rng = np.random.default_rng(seed)
    X = (np.floor(rng.random((n + 100, 784)) * (rng.random((n + 100, 784)) < 0.2) * 256) / 256).astype(np.float32)
    one_hot = np.eye(10)[rng.integers(0, 10, n + 100)]
    return list(zip(convert.row_views(X[:n]), convert.row_views(one_hot[:n]))), X


def _pair(fast_cls, twin_cls, sizes, seed=2):
    np.random.seed(seed)
    fast = fast_cls(sizes)
    np.random.seed(seed)
    return fast, twin_cls(sizes)


def _quiet(fn, *args, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kw)


def test_remembered_rows_are_the_rows_pointer_arithmetic_finds():
    data, X = _loader_lists()
    random.Random(1).shuffle(data)
    xs = [x for x, _ in data]
    base, rows = convert._shared_base_rows(xs, 784)
    assert base is X
    for x, r in zip(xs, rows):
        np.testing.assert_array_equal(x.reshape(-1), X[r])
    convert._row_tables.clear()  # the same answer without the table, by pointer arithmetic
    assert np.array_equal(convert._shared_base_rows(xs, 784)[1], rows)


def test_a_list_mixing_remembered_views_and_own_columns_is_stacked():
    data, _ = _loader_lists(50)
    own = np.full((784, 1), 0.5, dtype=np.float32)
    X, rows = convert.stack_columns([x for x, _ in data] + [own], 784, "input")
    np.testing.assert_array_equal(X[rows[-1]], own.reshape(-1))
    np.testing.assert_array_equal(X[rows[0]], data[0][0].reshape(-1))


def test_the_fingerprint_sees_any_one_word_and_a_swap():
    X = np.random.default_rng(0).random((700, 784)).astype(np.float32)  # over MIN_BYTES, with a ragged tail
    digest = content_memo.fingerprint(X)
    for i, j in [(0, 0), (350, 17), (699, 783)]:
        Y = X.copy()
        Y[i, j] = np.nextafter(Y[i, j], 2)
        assert content_memo.fingerprint(Y) != digest
    Y = X.copy()
    Y[[3, 4]] = Y[[4, 3]]
    assert content_memo.fingerprint(Y) != digest
    assert content_memo.fingerprint(X.copy()) == digest


def test_a_matrix_changed_in_place_between_two_calls_is_trained_as_it_is_now():
    data, X = _loader_lists(n=3000)  # large enough to be remembered
    assert X.nbytes >= content_memo.MIN_BYTES
    fast, twin = _pair(network.Network, twin1.Network, [784, 12, 10])
    twin_data = list(data)
    for round_ in range(3):
        random.seed(round_)
        fast.SGD(data, 1, 10, 3.0)
        random.seed(round_)
        twin.SGD(twin_data, 1, 10, 3.0)
        X[:, 100:300] = X[:, 100:300][::-1] * 0.5  # a learner's preprocessing, in place, between calls
    for a, b in zip(fast.weights + fast.biases, twin.weights + twin.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_a_training_call_fingerprints_the_loaders_matrix_once_and_the_next_call_again(monkeypatch):
    data, X = _loader_lists(n=3000)
    read = []
    real = content_memo.fingerprint
    monkeypatch.setattr(content_memo, "fingerprint", lambda M: read.append(M) or real(M))
    fast = network.Network([784, 12, 10])
    for call in range(1, 4):
        _quiet(fast.SGD, data, 1, 10, 3.0)
        assert [M is X for M in read] == [True] * call  # once per call (it was twice): never kept between calls
    with content_memo.one_look():
        content_memo.remembered(X, "a", lambda M: 1)
        X[0, 0] += 1  # inside a look nothing changes a matrix: outside it, each call reads it afresh ...
        elsewhere = []
        thread = threading.Thread(target=lambda: elsewhere.append(content_memo.remembered(X, "a", lambda M: 3)))
        thread.start()
        thread.join()
        assert elsewhere == [3]  # ... and in another thread, which runs its own code meanwhile
    assert content_memo.remembered(X, "a", lambda M: 2) == 3


def test_sgd_on_a_slice_of_the_loaders_list_matches_the_book_call_after_call():
    data, _ = _loader_lists(n=2000)
    td = data[:300]
    fast, twin = _pair(network2.Network, twin2.Network, [784, 10, 10, 10])
    fast_td, twin_td = list(td), list(td)
    for epoch in range(3):  # fig/generate_gradient.py's loop
        fb = [fast.backprop(x, y)[0] for x, y in fast_td]
        tb = [twin.backprop(x, y)[0] for x, y in twin_td]
        for a, b in zip(fb, tb):
            for u, v in zip(a, b):
                np.testing.assert_allclose(u, v, rtol=0, atol=1e-12)
        random.seed(epoch)
        _quiet(fast.SGD, fast_td, 1, 100, 0.1, lmbda=5.0)
        random.seed(epoch)
        _quiet(twin.SGD, twin_td, 1, 100, 0.1, lmbda=5.0)
    for a, b in zip(fast.weights + fast.biases, twin.weights + twin.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_backprop_biases_do_not_hold_the_weight_gradients():
    net = network2.Network([784, 30, 10])
    x, y = np.zeros((784, 1)), np.zeros((10, 1))
    nabla_b, nabla_w = net.backprop(x, y)
    assert not any(np.shares_memory(b, w) for b in nabla_b for w in nabla_w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(784, 1), (784,)])
def test_one_column_feedforward_is_the_books_and_the_kernels(dtype, shape):
    fast, twin = _pair(network.Network, twin1.Network, [784, 30, 20, 10])
    fast = network.Network([784, 30, 20, 10], dtype=dtype)
    fast.weights = [w.astype(dtype) for w in twin.weights]
    fast.biases = [b.astype(dtype) for b in twin.biases]
    x = np.random.default_rng(3).random(shape).astype(np.float32)
    one = fast.feedforward(x)
    assert one.shape == ((10, 1) if len(shape) == 2 else (10,)) and one.dtype == dtype
    np.testing.assert_allclose(one.reshape(-1), twin.feedforward(x.reshape(784, 1)).reshape(-1),
                               rtol=1e-5 if dtype == np.float32 else 1e-13)
    batch = fast.feedforward(np.hstack([x.reshape(784, 1)] * 2))  # the kernels' path
    np.testing.assert_allclose(one.reshape(-1), batch[:, 0], rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_one_column_feedforward_saturates_without_warnings_and_checks_shapes():
    net = network.Network([3, 2])
    net.weights = [np.array([[1e4, 0, 0], [-1e4, 0, 0]])]
    net.biases = [np.zeros((2, 1))]
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the book's too
        out = net.feedforward(np.array([[1.0], [0], [0]]))
    assert out[0, 0] == 1.0 and 0 <= out[1, 0] < 1e-300
    with pytest.raises(ValueError, match=r"input has shape \(4, 1\)"):
        net.feedforward(np.zeros((4, 1)))
    net.weights = [np.zeros((2, 4))]
    with pytest.raises(ValueError, match=r"weights\[0\] has shape \(2, 4\)"):
        net.feedforward(np.zeros((3, 1)))


@pytest.mark.parametrize("private", [False, True])
def test_a_matrix_keeps_its_most_recent_results_only(private):
    # a learner's slices of a list SGD reshuffles ask a new input layout (39 MB for MNIST) every call: all were kept
    X = np.random.default_rng(6).random((2000, 784)).astype(np.float32)  # over content_memo.MIN_BYTES
    if private:
        content_memo.private(X)
    made = []

    def compute(key):
        def make(M):
            made.append(key)
            return np.full(3, key)
        return make
    for key in range(10):
        content_memo.remembered(X, key, compute(key))
    assert made == list(range(10))
    recent = content_memo.remembered(X, 9, compute(9))  # kept: not made again
    assert made == list(range(10)) and recent[0] == 9
    content_memo.remembered(X, 6, compute(6))  # kept (the fourth most recent), and now the most recent
    content_memo.remembered(X, 10, compute(10))
    content_memo.remembered(X, 6, compute(6))
    assert made == [*range(10), 10]
    content_memo.remembered(X, 0, compute(0))  # dropped long ago: made again, the same numbers
    assert made == [*range(10), 10, 0]
    results = (content_memo._private[id(X)][1] if private else content_memo._memo[id(X)][2])
    assert len(results) == content_memo.MAX_RESULTS
