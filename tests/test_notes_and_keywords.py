"""Learners' own SGD keywords reach their update_mini_batch; notes come once per change, from their own line.

Learners add ``mu``, ``reg``, schedules to the book's ``SGD`` and ``update_mini_batch``; nnfast's ``SGD``
passes keywords it does not know on. A note about a change that leaves the kernels is given once per change
per process, at the learner's file and line, with advice that fits the change, and the README's recommended
routes (``examples/``) get none.
"""

import contextlib
import importlib.util
import io
import pathlib
import random
import warnings

import numpy as np
import pytest

from nnfast import network, network2
from nnfast.network import OverridePath
from nnfast.twins import network as twin1
from nnfast.twins import network2 as twin2
from test_changing_the_code import _assert_same_network, _data, _pair

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


class MomentumWithMu:
    """Chapter 3's momentum as learners write it: ``mu`` comes through ``SGD`` (the book's style, per sample)."""

    def update_mini_batch(self, mini_batch, eta, lmbda, n, mu=0.0):
        if not hasattr(self, "velocity"):
            self.velocity = [np.zeros(w.shape) for w in self.weights]
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            dnb, dnw = self.backprop(x, y)
            nabla_b = [nb + d for nb, d in zip(nabla_b, dnb)]
            nabla_w = [nw + d for nw, d in zip(nabla_w, dnw)]
        self.velocity = [mu * v - (eta / len(mini_batch)) * nw for v, nw in zip(self.velocity, nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w + v for w, v in zip(self.weights, self.velocity)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]


class TwinMomentum(MomentumWithMu, twin2.Network):
    """The book's own SGD takes no ``mu``: the twin gets it as its default."""

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        super().update_mini_batch(mini_batch, eta, lmbda, n, mu=0.7)


def _quiet_sgd(net, *args, **kw):
    random.seed(11)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", OverridePath)
        return net.SGD(*args, **kw)


def test_sgd_passes_a_learners_keyword_on_to_their_update_mini_batch():
    training, test = _data()
    Fast = type("Momentum", (MomentumWithMu, network2.Network), {})
    fast, twin = _pair(Fast, TwinMomentum, [20, 12, 10])
    _quiet_sgd(fast, list(training), 2, 10, 0.5, lmbda=1.0, evaluation_data=test, monitor_evaluation_accuracy=True,
               mu=0.7)
    _quiet_sgd(twin, list(training), 2, 10, 0.5, lmbda=1.0, evaluation_data=test, monitor_evaluation_accuracy=True)
    _assert_same_network(fast, twin)
    still, _ = _pair(Fast, TwinMomentum, [20, 12, 10])
    _quiet_sgd(still, list(training), 2, 10, 0.5, lmbda=1.0, mu=0.0)  # and the keyword does change the run
    assert not np.allclose(still.weights[0], fast.weights[0])


def test_chapter_1_sgd_passes_keywords_on_too():
    class Scaled:
        def update_mini_batch(self, mini_batch, eta, scale=1.0):
            super().update_mini_batch(mini_batch, eta * scale)

    training, test = _data()
    fast, twin = _pair(type("F", (Scaled, network.Network), {}), twin1.Network, [20, 12, 10])
    _quiet_sgd(fast, list(training), 1, 10, 6.0, test_data=test, scale=0.5)
    _quiet_sgd(twin, list(training), 1, 10, 3.0, test_data=test)
    _assert_same_network(fast, twin)


@pytest.mark.parametrize("module", [network, network2])
def test_a_keyword_nobody_takes_is_one_line_naming_it_and_the_readme(module):
    training, _ = _data(30)
    net = module.Network([20, 12, 10])
    before = [w.copy() for w in net.weights]
    with pytest.raises(TypeError) as raised:
        _quiet_sgd(net, list(training), 1, 10, 0.5, mu=0.9, reg="l1")
    message = str(raised.value)
    assert "\n" not in message
    assert "mu, reg" in message and "Network.update_mini_batch" in message and "Changing the book's code" in message
    for w, w0 in zip(net.weights, before):  # refused before training
        np.testing.assert_array_equal(w, w0)


def test_a_misspelt_book_keyword_is_named_with_the_right_one():
    net = network2.Network([20, 12, 10])
    with pytest.raises(TypeError, match=r"monitor_evaluation_acuracy \(did you mean monitor_evaluation_accuracy\?\)"):
        _quiet_sgd(net, list(_data(30)[0]), 1, 10, 0.5, monitor_evaluation_acuracy=True)


def _records(run):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(io.StringIO()):
            run()
    return [w for w in record if issubclass(w.category, OverridePath)]


def test_a_replaced_sigmoid_is_one_note_at_the_learners_line_with_advice_that_fits(monkeypatch):
    def my_tanh(z):
        return np.tanh(z)

    monkeypatch.setattr(network2, "sigmoid", my_tanh)
    training, test = _data(60)
    net = network2.Network([20, 12, 10], cost=network2.QuadraticCost)

    def run():
        random.seed(1)
        net.SGD(training, 2, 10, 0.1, evaluation_data=test, monitor_evaluation_accuracy=True,
                monitor_training_cost=True, monitor_evaluation_cost=True)
        net.feedforward(test[0][0])
        net.backprop(*training[0])

    said = _records(run)
    assert len(said) == 1
    text = str(said[0].message)
    assert "network2.sigmoid replaced" in text
    assert "network2.sigmoid_prime is still the book's" in text and "tanh(z) * (1 - tanh(z))" in text  # the half change, named
    assert "mini_batch_gradient" not in text  # advice for another change
    assert said[0].filename == __file__ and said[0].lineno == my_tanh.__code__.co_firstlineno
    monkeypatch.setattr(network2, "sigmoid_prime", lambda z: 1 - np.tanh(z) ** 2)
    said = _records(run)  # a new change: one new note, without the half-change advice
    assert len(said) == 1 and "sigmoid_prime is still" not in str(said[0].message)
    assert _records(run) == []  # ... and only once


def test_a_ufunc_sigmoid_is_attributed_to_the_learners_call(monkeypatch):
    monkeypatch.setattr(network, "sigmoid", np.tanh)
    net = network.Network([20, 12, 10])
    said = _records(lambda: net.feedforward(np.zeros((20, 1))))
    assert len(said) == 1 and said[0].filename == __file__


def test_an_own_backprop_with_the_books_loop_is_told_how_to_go_whole_batch():
    class Halved:
        def backprop(self, x, y):
            nb, nw = super().backprop(x, y)
            return [0.5 * b for b in nb], [0.5 * w for w in nw]

    training, _ = _data(40)
    net = type("Halved", (Halved, network2.Network), {})([20, 12, 10])
    said = _records(lambda: (random.seed(1), net.SGD(training, 2, 10, 0.5)))
    assert len(said) == 1
    assert "Halved.backprop is your own" in str(said[0].message) and "mini_batch_gradient" in str(said[0].message)
    assert said[0].filename == __file__


def _example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, cls", [("tanh", "TanhNetwork"), ("softmax", "SoftmaxNetwork"),
                                       ("momentum", "MomentumNetwork"), ("l1", "L1Network")])
def test_the_readmes_recommended_routes_say_nothing(name, cls):
    training, test = _data(60)
    net = getattr(_example(name), cls)([20, 12, 10])
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverridePath)
        random.seed(1)
        with contextlib.redirect_stdout(io.StringIO()):
            net.SGD(training, 1, 10, 0.1, evaluation_data=test, monitor_evaluation_accuracy=True,
                    monitor_evaluation_cost=True)
