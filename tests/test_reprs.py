"""What a notebook prints for a network or an epoch's result: short, and (for networks) the call that builds it."""

import numpy as np

from nnfast import network, network2, network3


def _rebuilt(text, namespace):
    return eval(text, {"np": np, **namespace})  # the repr is the book's own line: run it


def test_network_repr_is_the_books_constructor_call():
    net = network.Network([784, 30, 10])
    assert repr(net) == "Network([784, 30, 10])"
    for built in (net, network.Network([784, 20, 12, 10], dtype=np.float32)):
        again = _rebuilt(repr(built), {"Network": network.Network})
        assert again.sizes == built.sizes and again.dtype == built.dtype


def test_network2_repr_names_the_cost_as_the_book_passes_it():
    assert repr(network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)) == \
        "Network([784, 30, 10], cost=CrossEntropyCost)"
    instance = network2.Network([784, 30, 10], cost=network2.QuadraticCost())  # fig/overfitting.py's form
    assert repr(instance) == "Network([784, 30, 10], cost=QuadraticCost())"

    class Momentum(network2.Network):
        pass
    net = Momentum([784, 100, 10], cost=network2.QuadraticCost, dtype=np.float32)
    assert repr(net) == "Momentum([784, 100, 10], cost=QuadraticCost, dtype=np.float32)"
    again = _rebuilt(repr(net), {"Momentum": Momentum, "QuadraticCost": network2.QuadraticCost})
    assert (type(again), again.sizes, again.cost, again.dtype) == (Momentum, net.sizes, net.cost, net.dtype)


def test_network3_repr_is_the_books_lines_that_build_it():
    from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer
    net = Network([
        ConvPoolLayer(image_shape=(10, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2), activation_fn=ReLU),
        FullyConnectedLayer(n_in=20 * 12 * 12, n_out=100, activation_fn=ReLU, p_dropout=0.5),
        SoftmaxLayer(n_in=100, n_out=10, p_dropout=0.5)], 10)
    text = repr(net)
    assert text.splitlines()[0] == "Network(["
    assert "    FullyConnectedLayer(n_in=2880, n_out=100, activation_fn=ReLU, p_dropout=0.5)," in text.splitlines()
    assert repr(FullyConnectedLayer(n_in=784, n_out=30)) == "FullyConnectedLayer(n_in=784, n_out=30)"  # defaults unsaid
    again = _rebuilt(text, {n: getattr(network3, n) for n in ("ConvPoolLayer", "FullyConnectedLayer", "Network",
                                                               "ReLU", "SoftmaxLayer")})
    assert repr(again) == text
    for a, b in zip(again.layers, net.layers):
        assert type(a) is type(b) and a.w.shape == b.w.shape and a.activation_fn is b.activation_fn
        assert a.p_dropout == b.p_dropout


def test_epoch_results_print_without_the_training_order():
    order = np.arange(50_000)
    one = network.EpochResult(2, 9412, 10_000, order)
    three = network2.EpochResult(2, 0.25, 48_000, 0.4, 9600, order)
    assert repr(one) == "EpochResult(epoch=2, correct=9412, total=10000, order=<50,000 indices>)"
    assert repr(three) == ("EpochResult(epoch=2, training_cost=0.25, training_accuracy=48000, evaluation_cost=0.4, "
                           "evaluation_accuracy=9600, order=<50,000 indices>)")
    assert three.order is order and three[-1] is order  # the tuple itself is unchanged
