"""One-column ``feedforward`` (``nnfast.engine.one_column``) computes, bit for bit, the book's formula with the
overflow cap, layer by layer in numpy: its cheaper steps (a hidden layer handing on minus its output, constants
as arrays, ``w.dot``) change no number; it reads the weights a learner assigns in any form the book's code takes,
writes none of them, and refuses wrong layer counts and shapes as the kernels' path does."""

import numpy as np
import pytest

from nnfast import network, network2
from nnfast.engine import one_column

CAP = {np.float64: 709.0, np.float32: 88.0}


def _reference(weights, biases, a, dtype):
    """The straightforward sequence: z = w a + b; 1 / (1 + exp(min(-z, cap))), in ``dtype``."""
    a = np.asarray(a, dtype=dtype).reshape(-1, 1)
    for w, b in zip(weights, biases):
        z = np.dot(w, a) + np.reshape(b, (-1, 1))
        a = 1 / (1 + np.exp(np.minimum(-z, dtype(CAP[dtype]))))
    return a


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 30, 20, 10], [5, 7, 3, 4, 2], [6, 3]])
@pytest.mark.parametrize("scale", [1.0, 300.0])  # 300: saturating layers, exp at the cap
def test_the_output_is_the_formulas_bit_for_bit(dtype, sizes, scale):
    rng = np.random.default_rng(len(sizes) + int(scale))
    net = network.Network(sizes, dtype=dtype)
    net.weights = [(rng.standard_normal(w.shape) * scale).astype(dtype) for w in net.weights]
    net.biases = [rng.standard_normal(b.shape).astype(dtype) for b in net.biases]
    x = rng.random((sizes[0], 1)).astype(dtype)
    kept = [w.copy() for w in net.weights], [b.copy() for b in net.biases], x.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = net.feedforward(x)
    np.testing.assert_array_equal(out, _reference(net.weights, net.biases, x, dtype))
    assert out.dtype == dtype and out.shape == (sizes[-1], 1)
    for before, now in zip([*kept[0], *kept[1], kept[2]], [*net.weights, *net.biases, x]):
        np.testing.assert_array_equal(before, now)  # nothing the learner holds is written


def test_weights_and_biases_in_the_forms_the_books_code_takes_give_the_same_numbers():
    np.random.seed(4)
    net = network2.Network([8, 5, 3])
    x = np.random.default_rng(5).random((8, 1))
    expected = _reference(net.weights, net.biases, x, np.float64)
    net.biases = [b.reshape(-1) for b in net.biases]  # (n,) biases
    np.testing.assert_array_equal(net.feedforward(x), expected)
    net.weights, net.biases = [w.tolist() for w in net.weights], [b.tolist() for b in net.biases]  # lists
    np.testing.assert_array_equal(net.feedforward(x), expected)
    np.testing.assert_array_equal(net.feedforward(x.reshape(-1)), expected.reshape(-1))  # a (n,) input
    np.testing.assert_array_equal(net.feedforward(x.astype(np.float32)), _reference(
        net.weights, net.biases, x.astype(np.float32), np.float64))  # a float32 input, the net's float64


@pytest.mark.parametrize("change, message", [
    (lambda net: setattr(net, "weights", net.weights[:1]), "expected 2 weight and bias arrays, got 1 and 2"),
    (lambda net: setattr(net, "biases", [*net.biases, np.zeros((2, 1))]), "expected 2 weight and bias arrays, got 2 and 3"),
    (lambda net: net.weights.__setitem__(1, np.zeros((2, 5))), r"weights\[1\] has shape \(2, 5\)"),
    (lambda net: net.biases.__setitem__(0, np.zeros(5)), r"biases\[0\] has shape \(5,\)"),
])
def test_wrong_layers_are_refused_with_the_kernels_paths_message(change, message):
    net = network.Network([3, 4, 2])
    change(net)
    with pytest.raises(ValueError, match=message):
        net.feedforward(np.zeros((3, 1)))
    with pytest.raises(ValueError, match=message):
        net.feedforward(np.zeros((3, 2)))  # the kernels' path says the same


def test_no_layers_give_the_input_back():
    assert one_column.output([], [], [], np.ones((3, 1)), np.dtype(np.float64)).shape == (3, 1)
