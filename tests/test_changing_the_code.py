"""The book's code as learners change it: overrides, replaced module functions and costs of one's own are honoured.

Each change is written once, in the book's style, and applied both to nnfast's face and to the per-sample
twin (the book's own algorithm): the two must learn the same network, to rounding, and print the same lines.
"""

import contextlib
import io
import json
import random
import warnings

import numpy as np
import pytest

from nnfast import network, network2
from nnfast.engine import matrix_path
from nnfast.network import OverridePath
from nnfast.twins import network as twin1
from nnfast.twins import network2 as twin2
from conftest import synthetic_digits

TOL = 1e-9


def _data(n=300, n_in=20, seed=3):
    training, test = synthetic_digits(n, n_in=n_in, seed=seed)
    return [(x.astype(np.float64), y) for x, y in training], [(x.astype(np.float64), y) for x, y in test]


def _pair(fast_cls, twin_cls, sizes, seed=5, **kw):
    np.random.seed(seed)
    fast = fast_cls(sizes, **kw)
    np.random.seed(seed)
    twin = twin_cls(sizes, **kw)
    for a, b in zip(fast.weights + fast.biases, twin.weights + twin.biases):
        np.testing.assert_array_equal(a, b)
    return fast, twin


def _train(net, *args, quiet=True, **kw):
    """(printed text, return value) of ``net.SGD`` after ``random.seed(11)``; ``quiet``: notes ignored."""
    random.seed(11)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", OverridePath)
        result = net.SGD(*args, **kw)
    return out.getvalue(), result


def _assert_same_network(fast, twin, tol=TOL):
    for a, b in zip(fast.weights + fast.biases, twin.weights + twin.biases):
        scale = max(float(np.max(np.abs(b))), 1e-300)
        assert float(np.max(np.abs(np.asarray(a) - b))) / scale <= tol


# -- chapter 1: network.py ------------------------------------------------------------------------------------

class DoubledDerivative:
    def cost_derivative(self, output_activations, y):
        return 2 * (output_activations - y)


class HalvedBackprop:
    def backprop(self, x, y):
        nabla_b, nabla_w = super().backprop(x, y)
        return [0.5 * b for b in nabla_b], [0.5 * w for w in nabla_w]


class Momentum1:
    """The book's chapter 3 problem in chapter 1's network, per sample in the book's style."""
    mu = 0.5

    def update_mini_batch(self, mini_batch, eta):
        if not hasattr(self, "velocity"):
            self.velocity = [np.zeros(w.shape) for w in self.weights]
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            dnb, dnw = self.backprop(x, y)
            nabla_b = [nb + d for nb, d in zip(nabla_b, dnb)]
            nabla_w = [nw + d for nw, d in zip(nabla_w, dnw)]
        self.velocity = [self.mu * v - (eta / len(mini_batch)) * nw for v, nw in zip(self.velocity, nabla_w)]
        self.weights = [w + v for w, v in zip(self.weights, self.velocity)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]


class CountingEvaluate:
    def evaluate(self, test_data):
        self.evaluations = getattr(self, "evaluations", 0) + 1
        return sum(int(np.argmax(self.feedforward(x)) == y) for x, y in test_data) + 1000


@pytest.mark.parametrize("change", [DoubledDerivative, HalvedBackprop, Momentum1])
def test_a_chapter_1_override_trains_as_the_books_code_with_it(change):
    training, test = _data()
    Fast = type("Fast", (change, network.Network), {})
    Twin = type("Twin", (change, twin1.Network), {})
    fast, twin = _pair(Fast, Twin, [20, 12, 10])
    fast_lines, _ = _train(fast, list(training), 2, 10, 3.0, test_data=test)
    twin_lines, _ = _train(twin, list(training), 2, 10, 3.0, test_data=test)
    assert fast_lines == twin_lines
    _assert_same_network(fast, twin)


def test_an_overridden_cost_derivative_changes_the_gradient_and_says_so():
    plain = network.Network([20, 12, 10])
    Fast = type("Fast", (DoubledDerivative, network.Network), {})
    doubled = Fast([20, 12, 10])
    doubled.weights, doubled.biases = [w.copy() for w in plain.weights], [b.copy() for b in plain.biases]
    x, y = _data(5)[0][0]
    with pytest.warns(OverridePath, match="cost_derivative"):
        nb2, nw2 = doubled.backprop(x, y)
    nb1, nw1 = plain.backprop(x, y)
    for a, b in zip(nb2 + nw2, nb1 + nw1):
        np.testing.assert_allclose(a, 2 * b, rtol=1e-12, atol=1e-300)


def test_a_replaced_module_sigmoid_is_used_everywhere(monkeypatch):
    training, test = _data()
    tanh_prime = lambda z: 1 - np.tanh(z) ** 2  # noqa: E731 - the learner's one-liner
    for module in (network, twin1):
        monkeypatch.setattr(module, "sigmoid", np.tanh)
        monkeypatch.setattr(module, "sigmoid_prime", tanh_prime)
    fast, twin = _pair(network.Network, twin1.Network, [20, 12, 10])
    fast_lines, _ = _train(fast, list(training), 2, 10, 0.1, test_data=test)
    twin_lines, _ = _train(twin, list(training), 2, 10, 0.1, test_data=test)
    assert fast_lines == twin_lines
    _assert_same_network(fast, twin)
    x = test[0][0]
    np.testing.assert_allclose(fast.feedforward(x), twin.feedforward(x), rtol=1e-12)


def test_overriding_evaluate_keeps_training_on_the_kernels_and_prints_the_users_count():
    training, test = _data()
    Fast = type("Fast", (CountingEvaluate, network.Network), {})
    fast, twin = _pair(Fast, type("Twin", (CountingEvaluate, twin1.Network), {}), [20, 12, 10])
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverridePath)  # training stays fast: nothing to say
        fast_lines, _ = _train(fast, list(training), 2, 10, 3.0, test_data=test)
    twin_lines, _ = _train(twin, list(training), 2, 10, 3.0, test_data=test)
    assert fast.evaluations == 2 and fast_lines == twin_lines and " 10" in fast_lines.splitlines()[0]
    _assert_same_network(fast, twin, 1e-8)


def test_the_unchanged_network_says_nothing():
    training, test = _data(100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverridePath)
        net = network.Network([20, 12, 10])
        random.seed(1)
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD(training, 1, 10, 3.0, test_data=test)
        net.backprop(*training[0])
        net.evaluate(test)


# -- chapter 3: network2.py -----------------------------------------------------------------------------------

def _monitored(net, training, test, epochs=2, batch=10, eta=0.5, lmbda=1.0):
    return _train(net, list(training), epochs, batch, eta, lmbda=lmbda, evaluation_data=test,
                  monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                  monitor_training_cost=True, monitor_training_accuracy=True)


def _same_monitors(fast_result, twin_result):
    for fast_list, twin_list in zip(fast_result, twin_result):
        assert len(fast_list) == len(twin_list)
        np.testing.assert_allclose(fast_list, twin_list, rtol=TOL)


def test_a_cost_instance_trains_as_the_class_does():
    training, test = _data()
    nets = []
    for cost in (network2.CrossEntropyCost(), network2.CrossEntropyCost):  # as fig/overfitting.py writes it
        np.random.seed(5)
        nets.append(network2.Network([20, 12, 10], cost=cost))
        nets[-1].large_weight_initializer()
    by_instance, by_class = nets
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverridePath)  # instances of the book's costs stay on the kernels
        lines_a, result_a = _monitored(by_instance, training, test)
    lines_b, result_b = _monitored(by_class, training, test)
    assert lines_a == lines_b
    json.dumps(result_a)  # fig/overfitting.py dumps the four lists to JSON
    _assert_same_network(by_instance, by_class, 0)


class LogLikelihoodish:
    """A cost class of one's own with the book's interface (static methods)."""

    @staticmethod
    def fn(a, y):
        return float(np.sum((a - y) ** 2 * (1 + y)))

    @staticmethod
    def delta(z, a, y):
        return (a - y) * (1 + y)


class BoundCost:
    """An instance with bound methods, state included."""

    def __init__(self, weight):
        self.weight = weight

    def fn(self, a, y):
        return self.weight * float(np.sum(np.abs(a - y)))

    def delta(self, z, a, y):
        return self.weight * (a - y) * network2.sigmoid_prime(z)


class QuadraticWithOwnDelta(network2.QuadraticCost):
    @staticmethod
    def delta(z, a, y):
        return 3 * (a - y) * network2.sigmoid_prime(z)


@pytest.mark.parametrize("cost", [LogLikelihoodish, BoundCost(0.7), QuadraticWithOwnDelta])
def test_a_cost_of_ones_own_trains_and_monitors_as_the_books_code(cost):
    training, test = _data()
    fast, twin = _pair(network2.Network, twin2.Network, [20, 12, 10], cost=cost)
    with pytest.warns(OverridePath):
        fast_lines, fast_result = _train(fast, list(training), 2, 10, 0.5, quiet=False, lmbda=1.0, evaluation_data=test,
                                         monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                                         monitor_training_cost=True, monitor_training_accuracy=True)
    twin_lines, twin_result = _monitored(twin, training, test)
    _assert_same_network(fast, twin)
    _same_monitors(fast_result, twin_result)
    assert [line.split(":")[0] for line in fast_lines.splitlines()] == \
        [line.split(":")[0] for line in twin_lines.splitlines()]


def test_a_delta_written_for_one_column_trains_as_the_books_code_one_sample_at_a_time():
    class PerSampleOnly:
        @staticmethod
        def fn(a, y):
            return 0.0

        @staticmethod
        def delta(z, a, y):
            return (a - y)[:, :1]  # written for one column only: right for the book's per-sample call

    training, _ = _data(40)
    fast, twin = _pair(network2.Network, twin2.Network, [20, 12, 10], cost=PerSampleOnly)
    with pytest.warns(OverridePath, match=r"PerSampleOnly\.delta returns \(10, 1\) for a \(10, 5\) mini-batch"):
        fast.update_mini_batch(training[:5], 0.5, 0.0, 40)
    twin.update_mini_batch(training[:5], 0.5, 0.0, 40)
    _assert_same_network(fast, twin)


def test_a_delta_of_the_wrong_shape_for_one_sample_too_is_named_with_the_shapes():
    class Flat:
        @staticmethod
        def fn(a, y):
            return 0.0

        @staticmethod
        def delta(z, a, y):
            return (a - y).sum(axis=0)  # one number a sample, where the book needs one an output neuron

    training, _ = _data(20)
    net = network2.Network([20, 12, 10], cost=Flat)
    with pytest.raises(matrix_path.DeltaShapeError) as raised:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OverridePath)
            net.update_mini_batch(training[:5], 0.5, 0.0, 20)
    message = str(raised.value)
    assert "\n" not in message
    assert "Flat.delta" in message and "(1,)" in message and "(10, 1)" in message and "(5,)" in message


def test_a_cost_without_the_books_interface_is_refused_at_once():
    with pytest.raises(TypeError, match="fn\\(a, y\\) and delta\\(z, a, y\\)"):
        network2.Network([20, 10], cost="cross-entropy")


class Momentum2:
    """The book's own chapter 3 problem: momentum-based gradient descent in network2, the book's style."""
    mu = 0.6

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        if not hasattr(self, "velocity"):
            self.velocity = [np.zeros(w.shape) for w in self.weights]
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            dnb, dnw = self.backprop(x, y)
            nabla_b = [nb + d for nb, d in zip(nabla_b, dnb)]
            nabla_w = [nw + d for nw, d in zip(nabla_w, dnw)]
        self.velocity = [self.mu * v - (eta / len(mini_batch)) * nw for v, nw in zip(self.velocity, nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w + v for w, v in zip(self.weights, self.velocity)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]


class TwiceTheCost:
    def total_cost(self, data, lmbda, convert=False):
        return 2 * super().total_cost(data, lmbda, convert)


class ShiftedFeedforward:
    def feedforward(self, a):
        return super().feedforward(a)[::-1]  # reads the outputs backwards


@pytest.mark.parametrize("change", [Momentum2, TwiceTheCost, ShiftedFeedforward])
def test_a_chapter_3_override_trains_and_monitors_as_the_books_code_with_it(change):
    training, test = _data()
    Fast = type("Fast", (change, network2.Network), {})
    Twin = type("Twin", (change, twin2.Network), {})
    fast, twin = _pair(Fast, Twin, [20, 12, 10], cost=network2.CrossEntropyCost)
    fast_lines, fast_result = _monitored(fast, training, test)
    twin_lines, twin_result = _monitored(twin, training, test)
    _assert_same_network(fast, twin)
    _same_monitors(fast_result, twin_result)


def test_a_replaced_network2_sigmoid_trains_as_the_books_code(monkeypatch):
    training, test = _data()
    tanh_prime = lambda z: 1 - np.tanh(z) ** 2  # noqa: E731
    for module in (network2, twin1, twin2):
        monkeypatch.setattr(module, "sigmoid_prime", tanh_prime)
    for module in (network2, twin1):
        monkeypatch.setattr(module, "sigmoid", np.tanh)
    fast, twin = _pair(network2.Network, twin2.Network, [20, 12, 10], cost=network2.QuadraticCost)
    _, fast_result = _monitored(fast, training, test, eta=0.05, lmbda=0.0)
    _, twin_result = _monitored(twin, training, test, eta=0.05, lmbda=0.0)
    _assert_same_network(fast, twin)
    _same_monitors(fast_result, twin_result)


def test_an_own_cost_saves_under_its_class_name(tmp_path):
    net = network2.Network([20, 10], cost=BoundCost(1.0))
    net.save(tmp_path / "net.json")
    assert json.loads((tmp_path / "net.json").read_text())["cost"] == "BoundCost"
