"""The book's ``network.py`` API, trained over whole mini-batches by numba kernels.

A drop-in for chapter 1's module: the same names, arguments, printed lines and
random draws, so ``random.seed`` / ``np.random.seed`` give the book's network.
This module validates, converts the book's lists of columns into one matrix
per call, and delegates the arithmetic to ``nnfast.engine.kernels`` (imported on
first use, so ``import nnfast`` stays quick and compiles nothing).
"""

from typing import NamedTuple, Optional

import numpy as np

from .engine.convert import test_matrices
from .engine.dense import DenseNet, Layout, TrainingDiverged, as_list
from .activations import sigmoid, sigmoid_prime

__all__ = ["EpochResult", "Network", "TrainingDiverged", "load", "sigmoid", "sigmoid_prime"]


class EpochResult(NamedTuple):
    epoch: int
    correct: Optional[int]  # None without test data
    total: Optional[int]
    order: np.ndarray  # the permutation of the training list after this epoch's shuffle


class Network(DenseNet):
    """A feedforward sigmoid network trained by mini-batch SGD on the quadratic cost.

    ``Network([784, 30, 10])`` draws the biases, then the weights, from
    ``np.random.randn`` exactly as the book does. ``weights[l]`` is
    ``(sizes[l+1], sizes[l])`` and ``biases[l]`` is ``(sizes[l+1], 1)``: plain
    numpy arrays you may read or replace. Training leaves new arrays in both
    lists (as the book does); arrays you held before keep their old values.
    ``dtype`` may be ``np.float32`` for about twice the speed.
    """

    def __init__(self, sizes, dtype=np.float64):
        self._setup(sizes, dtype)
        self._draw(scaled=False)

    # -- the book's API ----------------------------------------------------------

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train by mini-batch stochastic gradient descent, printing one line per epoch.

        ``training_data``: list (or iterable) of ``(x (sizes[0], 1), y (sizes[-1], 1))``.
        Each epoch shuffles it with ``random.shuffle`` (a list you pass ends in the
        same order the book leaves it), cuts consecutive mini-batches of
        ``mini_batch_size`` (the last may be shorter), and steps each by
        ``eta / len(mini_batch)``. With ``test_data`` (``(x, int label)`` pairs)
        prints ``Epoch j: correct / n`` after each epoch, else ``Epoch j complete``.
        Returns None.
        """
        for result in self.train_epochs(training_data, epochs, mini_batch_size, eta, test_data):
            if result.correct is not None:
                print(f"Epoch {result.epoch}: {result.correct} / {result.total}", flush=True)
            else:
                print(f"Epoch {result.epoch} complete", flush=True)

    def train_epochs(self, training_data, epochs, mini_batch_size, eta, test_data=None, *,
                     first_epoch=0, order=None):
        """``SGD`` that yields an ``EpochResult`` after each epoch instead of printing.

        After each yield ``weights`` and ``biases`` hold that epoch's result (a
        snapshot: training on does not change them). ``first_epoch`` and
        ``order`` (the permutation of ``training_data`` that earlier epochs
        left, as ``EpochResult.order`` gave it) continue an interrupted run
        exactly, given the ``random`` state it had. Raises ``TrainingDiverged``
        when a weight becomes NaN or infinite.
        """
        data = as_list(training_data)
        test = None
        if test_data is not None:
            test_data = as_list(test_data)
            if test_data:
                test = self._labelled_rows(test_data, "test_data")
        for j, params, order, _ in self._epochs(data, epochs, mini_batch_size, eta,
                                                first_epoch=first_epoch, order=order):
            correct = self._count_correct(params, *test, reuse=True) if test is not None else None
            yield EpochResult(j, correct, len(test_data) if test is not None else None, order)

    def update_mini_batch(self, mini_batch, eta):
        """One gradient step on ``mini_batch`` (a list of ``(x, y)``): params -= eta/len * summed gradient."""
        self._step(mini_batch, eta)

    def backprop(self, x, y):
        """Gradient of the quadratic cost ``(nabla_b, nabla_w)``, lists shaped like ``biases`` and ``weights``.

        ``x (sizes[0], 1)`` and ``y (sizes[-1], 1)`` as in the book; a batch
        ``x (sizes[0], m)``, ``y (sizes[-1], m)`` gives the sum over its samples.
        """
        return self._gradient(x, y)

    def evaluate(self, test_data):
        """Number of ``(x, label)`` pairs whose output's argmax equals the label (an int)."""
        test_data = as_list(test_data)
        if not test_data:
            return 0
        X, labels = test_matrices(test_data, self.sizes[0], self.sizes[-1])
        return self._count_correct(self._pack(), self._input_rows(X), labels)

    def cost_derivative(self, output_activations, y):
        """Partial derivatives of the quadratic cost with respect to the output activations: ``a - y``."""
        return output_activations - y

    def save(self, path, extra_arrays=None, **metadata):
        """Write this network to ``path``: ``.npz`` arrays + JSON metadata (see ``nnfast.models``), or, for
        a name ending in ``.json``, the book's network2 JSON (cost ``QuadraticCost``); atomically."""
        from . import models
        if str(path).lower().endswith(".json"):
            models.save_book_json(self, path, "QuadraticCost")
        else:
            models.save(self, path, extra_arrays, **metadata)


def load(path):
    """The ``Network`` saved at ``path``, with its JSON metadata as ``net.metadata``. Never unpickles."""
    from . import models
    meta, weights, biases, extras = models.read(path)
    net = Network.__new__(Network)
    net.sizes = list(meta["sizes"])
    net.num_layers = len(net.sizes)
    net.dtype = np.dtype(meta["dtype"])
    net._layout = Layout(net.sizes)
    net.weights, net.biases = weights, biases
    net.metadata = meta
    net.extra_arrays = extras
    return net
