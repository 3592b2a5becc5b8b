"""The book's backpropagation over a whole mini-batch as matrices, in numpy, calling the caller's functions.

The numba kernels compute the book's sigmoid network with its two costs. When
a learner's code changes a piece the kernels hard-wire (the activation, the
cost's ``delta`` or ``cost_derivative``), the faces come here: the same
formulas as the book's ``backprop``, with each sample a column of ``(n, m)``
matrices, and every function the caller passes applied to whole matrices
(the book's formulas broadcast). The sums over the batch equal the book's
per-sample sums up to rounding. Chapter 2's own problem, "fully matrix-based
backpropagation over a mini-batch", is ``gradient``.

Every function a caller passes is applied through ``column_check.apply``:
a learner's function that does not work column by column (a sum over the
whole array) is called one sample at a time instead, as the book calls it.

Shapes: ``X (sizes[0], m)``, ``Y (sizes[-1], m)``, ``weights[l] (sizes[l+1],
sizes[l])``, ``biases[l] (sizes[l+1], 1)``; gradients are shaped like the
parameters and summed over the batch's columns.
"""

import numpy as np

from .column_check import OutputShapeError, apply

DeltaShapeError = OutputShapeError  # the name earlier releases raised


def forward(weights, biases, X, activation, output_activation=None):
    """``(zs, activations)`` of every layer for the columns of ``X``: ``activations[0]`` is ``X``.
    ``output_activation`` (default ``activation``) is the last layer's (chapter 3's softmax layer)."""
    a = X
    zs, activations = [], [X]
    last = len(weights) - 1
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = w @ a + b
        a = _activate(output_activation or activation if l == last else activation, z)
        zs.append(z)
        activations.append(a)
    return zs, activations


def output(weights, biases, X, activation, output_activation=None):
    """The last layer's activations ``(sizes[-1], m)`` for the columns of ``X``; a 1-D ``X`` (one
    sample) gives a 1-D output, as the kernels' feedforward does."""
    X = np.asarray(X)
    if X.ndim == 2 and X.shape[1] == 1 and output_activation is None:  # one column: the book's own loop
        a = X
        for w, b in zip(weights, biases):
            z = np.dot(w, a)
            z += b  # (into the product's fresh array: one temporary fewer than the book's np.dot(w, a) + b)
            a = activation(z)
        return a
    a = X.reshape(-1, 1) if X.ndim == 1 else X
    last = len(weights) - 1
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = w @ a + b
        a = _activate(output_activation or activation if l == last else activation, z)
    return a.reshape(-1) if X.ndim == 1 else a


def _activate(function, z):
    """``function(z)`` for the columns of ``z``, as the book's per-sample calls give it (one column: the
    book's own call, unchecked as the book leaves it)."""
    if z.shape[1] == 1:
        return function(z)
    return apply(function, lambda: _name(function), z, shape=z.shape)


def _name(function):
    """How a message names a function: its module and name (``network2.sigmoid``'s replacement, say)."""
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None) or repr(function)
    module = getattr(function, "__module__", None)
    return f"{module}.{name}" if module and module != "__main__" else name


def summed_per_sample(backprop, mini_batch, weights, biases):
    """``(nabla_b, nabla_w)``: the book's ``update_mini_batch`` loop, ``backprop(x, y)`` (the user's) summed
    one sample at a time from zeros shaped like ``weights`` and ``biases``."""
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for x, y in mini_batch:
        delta_nabla_b, delta_nabla_w = backprop(x, y)
        nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
        nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
    return nabla_b, nabla_w


def gradient(weights, biases, X, Y, activation, activation_prime, output_error, who="the cost",
             output_activation=None):
    """``(nabla_b, nabla_w)``: the cost's gradient summed over the columns of ``X`` and ``Y``.

    ``output_error(z, a, y)`` is the output layer's delta for matrices (the
    book's ``cost.delta``, or ``cost_derivative(a, y) * sigmoid_prime(z)``);
    ``who`` names it in messages (a wrong shape, columns that mix).
    ``output_activation``: the last layer's activation when it is not
    ``activation`` (its derivative is ``output_error``'s business, as with
    the book's softmax and log-likelihood, whose delta is ``a - y``).
    """
    zs, activations = forward(weights, biases, X, activation, output_activation)
    delta = apply(output_error, who, zs[-1], activations[-1], Y, shape=zs[-1].shape)
    layers = len(weights)
    nabla_b, nabla_w = [None] * layers, [None] * layers
    nabla_b[-1] = delta.sum(axis=1, keepdims=True)
    nabla_w[-1] = delta @ activations[-2].T
    for l in range(2, layers + 1):
        delta = (weights[-l + 1].T @ delta) * _activate(activation_prime, zs[-l])
        nabla_b[-l] = delta.sum(axis=1, keepdims=True)
        nabla_w[-l] = delta @ activations[-l - 1].T
    return nabla_b, nabla_w


def step(weights, biases, nabla_b, nabla_w, eta, m, decay=1.0):
    """The book's update for a mini-batch of ``m``: ``w <- decay * w - (eta/m) nabla_w``, ``b <- b - (eta/m) nabla_b``.

    ``decay`` is chapter 3's ``1 - eta * lmbda / n`` (1.0 for chapter 1). New lists of new arrays, as the book makes.
    """
    weights = [(decay * w if decay != 1.0 else w) - (eta / m) * nw for w, nw in zip(weights, nabla_w)]
    biases = [b - (eta / m) * nb for b, nb in zip(biases, nabla_b)]
    return weights, biases


def columns(mini_batch):
    """``(X, Y)``: the ``(x, y)`` column pairs of a mini-batch side by side, ``(n_in, m)`` and ``(n_out, m)``."""
    try:  # the book's (n, 1) columns: one concatenation
        return (np.concatenate([x for x, _ in mini_batch], axis=1),
                np.concatenate([y for _, y in mini_batch], axis=1))
    except (ValueError, TypeError):
        pass
    X = np.hstack([np.asarray(x).reshape(-1, 1) for x, _ in mini_batch])
    Y = np.hstack([np.asarray(y).reshape(-1, 1) for _, y in mini_batch])
    return X, Y
