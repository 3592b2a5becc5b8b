"""A learner's function that mixes a mini-batch's columns is run one sample at a time, as the book runs it.

The book calls ``delta``, ``cost_derivative`` and ``sigmoid`` on one ``(n, 1)`` column; nnfast calls them on
``(n, m)`` mini-batches. Where a learner's function is not column by column (chapter 3's softmax written as
``e / np.sum(e)``), nnfast must notice, fall back to per-sample calls, say so once, and learn exactly what the
book's per-sample code (the twin) learns with the same function.
"""

import contextlib
import inspect
import io
import random
import warnings

import numpy as np
import pytest

from benchmarks.exercises import SoftmaxAsLearnersWriteIt  # chapter 3's softmax as learners write it
from nnfast import network, network2
from nnfast.engine import column_check
from nnfast.network import OverridePath
from nnfast.twins import network as twin1
from nnfast.twins import network2 as twin2
from test_changing_the_code import _assert_same_network, _data, _monitored, _pair, _same_monitors, _train


def _monitored_loud(net, training, test, epochs=2):
    """``_monitored`` with the notes left on, for a ``catch_warnings(record=True)`` around it."""
    return _train(net, list(training), epochs, 10, 0.5, quiet=False, lmbda=1.0, evaluation_data=test,
                  monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                  monitor_training_cost=True, monitor_training_accuracy=True)


class ReshapedDelta:
    """Works on one column only: a reshape to (10, 1) fails on a mini-batch."""

    @staticmethod
    def fn(a, y):
        return 0.5 * float(np.sum((a - y) ** 2))

    @staticmethod
    def delta(z, a, y):
        return np.reshape((a - y) * network2.sigmoid_prime(z), (10, 1))


def _notes(record, text):
    return [w for w in record if issubclass(w.category, OverridePath) and text in str(w.message)]


@pytest.mark.parametrize("cost", [SoftmaxAsLearnersWriteIt, ReshapedDelta])
def test_a_delta_that_mixes_columns_trains_as_the_books_per_sample_code(cost):
    training, test = _data()
    fast, twin = _pair(network2.Network, twin2.Network, [20, 12, 10], cost=cost)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fast_lines, fast_result = _monitored_loud(fast, training, test)
    twin_lines, twin_result = _monitored(twin, training, test)
    _assert_same_network(fast, twin)
    _same_monitors(fast_result, twin_result)
    assert [line.split(":")[0] for line in fast_lines.splitlines()] == \
        [line.split(":")[0] for line in twin_lines.splitlines()]
    said = _notes(record, "does not work column by column")
    assert len(said) == 1  # once, however many mini-batches
    assert f"{cost.__name__}.delta" in str(said[0].message)
    assert said[0].filename == inspect.getsourcefile(cost)  # where the learner's delta is, not inside nnfast


def test_the_softmax_learner_learns_where_a_whole_matrix_delta_would_not():
    """The bug this guards against: over the whole matrix the sum runs over every sample and the net stays at
    chance. The same delta written per column (what nnfast now runs) learns."""
    training, test = _data(600)
    np.random.seed(2)
    net = network2.Network([20, 30, 10], cost=SoftmaxAsLearnersWriteIt)
    random.seed(3)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", OverridePath)
        _, accuracy, _, _ = net.SGD(training, 5, 10, 0.5, evaluation_data=test, monitor_evaluation_accuracy=True)
    assert accuracy[-1] > 0.5 * len(test)


def test_a_column_by_column_delta_stays_on_whole_mini_batches():
    class Columnwise:
        fn = staticmethod(SoftmaxAsLearnersWriteIt.fn)

        @staticmethod
        def delta(z, a, y):
            e = np.exp(z)
            return e / np.sum(e, axis=0, keepdims=True) - y

    calls = []

    class Counted(Columnwise):
        @staticmethod
        def delta(z, a, y):
            calls.append(z.shape[1])
            return Columnwise.delta(z, a, y)

    training, test = _data(200)
    fast, twin = _pair(network2.Network, twin2.Network, [20, 12, 10], cost=Counted)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _monitored_loud(fast, training, test, epochs=1)
    fast_calls = list(calls)
    _monitored(twin, training, test, epochs=1)
    _assert_same_network(fast, twin)
    assert not _notes(record, "does not work column by column")
    assert fast_calls.count(10) == 20  # one call a mini-batch ...
    assert fast_calls.count(1) == 10 * 5  # ... and the checks at mini-batches 1, 2, 4, 8 and 16, one call a column


def test_a_function_that_mixes_columns_only_on_some_data_is_caught_by_a_later_check():
    def cost_derivative(a, y):  # scales by the largest error only when one is large: per sample in the book
        d = a - y
        return d if np.all(np.abs(d) < 5) else d / np.max(np.abs(d))

    rng = np.random.default_rng(0)
    small, large = rng.random((10, 6)), 10 * rng.random((10, 6))
    zeros = np.zeros((10, 6))
    for X in (small, small, small):  # checked at calls 1 and 2: column by column on these
        column_check.apply(cost_derivative, "d", X, zeros, shape=X.shape)
    assert not column_check._records[cost_derivative].per_sample
    with pytest.warns(OverridePath, match=r"d gives other numbers on a \(10, 6\) mini-batch"):
        out = column_check.apply(cost_derivative, "d", large, zeros, shape=large.shape)  # call 4: checked
    assert column_check._records[cost_derivative].per_sample
    by_column = np.concatenate([cost_derivative(large[:, j:j + 1], 0) for j in range(6)], axis=1)
    np.testing.assert_array_equal(out, by_column)
    np.testing.assert_array_equal(column_check.apply(cost_derivative, "d", large, zeros, shape=large.shape),
                                  by_column)  # and from then on, one sample at a time


class MixingDerivative:
    """Chapter 1's cost_derivative, centred over 'the outputs' with a mean that a matrix stretches to every sample."""

    def cost_derivative(self, output_activations, y):
        d = output_activations - y
        return d - np.mean(d)


def test_a_chapter_1_cost_derivative_that_mixes_columns_trains_as_the_books_code():
    training, test = _data()
    Fast = type("Fast", (MixingDerivative, network.Network), {})
    Twin = type("Twin", (MixingDerivative, twin1.Network), {})
    fast, twin = _pair(Fast, Twin, [20, 12, 10])
    outputs = []
    for net in (fast, twin):
        random.seed(11)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            net.SGD(list(training), 2, 10, 3.0, test_data=test)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    _assert_same_network(fast, twin)
    nabla = fast.mini_batch_gradient(training[:7])
    sums = [np.zeros_like(p) for p in twin.biases + twin.weights]
    for x, y in training[:7]:
        b, w = twin.backprop(x, y)
        sums = [s + d for s, d in zip(sums, b + w)]
    for a, b in zip(nabla[0] + nabla[1], sums):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_a_replaced_sigmoid_that_mixes_columns_trains_as_the_books_code(monkeypatch):
    def squash(z):  # normalised over "the layer", as a learner might try: per sample in the book's code
        return 1 / (1 + np.exp(-(z - np.mean(z))))

    def squash_prime(z):
        s = squash(z)
        return s * (1 - s)

    for module in (network2, twin1, twin2):  # (the twin of network2 takes its sigmoid from the twin of network)
        monkeypatch.setattr(module, "sigmoid_prime", squash_prime)
    for module in (network2, twin1):
        monkeypatch.setattr(module, "sigmoid", squash)
    training, test = _data()
    fast, twin = _pair(network2.Network, twin2.Network, [20, 12, 10], cost=network2.CrossEntropyCost)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverridePath)
        _, fast_result = _monitored(fast, training, test)
        fast_out = fast.feedforward(np.hstack([x for x, _ in test[:5]]))
    _, twin_result = _monitored(twin, training, test)
    _assert_same_network(fast, twin)
    _same_monitors(fast_result, twin_result)
    np.testing.assert_allclose(fast_out, np.hstack([twin.feedforward(x) for x, _ in test[:5]]), rtol=1e-12)


@pytest.mark.parametrize("fast_module, twin_modules, make", [
    (network, (twin1,), lambda: _pair(network.Network, twin1.Network, [20, 12, 10])),
    (network2, (twin1,), lambda: _pair(network2.Network, twin2.Network, [20, 12, 10], cost=network2.QuadraticCost)),
])
def test_replacing_the_sigmoid_alone_changes_sigmoid_prime_as_in_the_books_code(monkeypatch, fast_module,
                                                                                 twin_modules, make):
    """The book's sigmoid_prime is sigmoid(z) * (1 - sigmoid(z)) through the module's sigmoid: with one line,
    sigmoid = np.tanh, backprop multiplies by tanh(z) * (1 - tanh(z)). nnfast must compute that too."""
    monkeypatch.setattr(fast_module, "sigmoid", np.tanh)
    for module in twin_modules:
        monkeypatch.setattr(module, "sigmoid", np.tanh)
    fast, twin = make()
    z = np.linspace(-2, 2, 9).reshape(-1, 1)
    np.testing.assert_allclose(fast_module.sigmoid_prime(z), np.tanh(z) * (1 - np.tanh(z)), rtol=1e-15)
    training, _ = _data(40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverridePath)
        nabla = fast.mini_batch_gradient(training[:10])
    sums = [np.zeros_like(p) for p in twin.biases + twin.weights]
    for x, y in training[:10]:
        b, w = twin.backprop(x, y)
        sums = [s + d for s, d in zip(sums, b + w)]
    for a, b in zip(nabla[0] + nabla[1], sums):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    # ... which is not what the sigmoid's own slope would give
    from nnfast import activations
    assert not np.allclose(fast_module.sigmoid_prime(z), activations.sigmoid_prime(z))
