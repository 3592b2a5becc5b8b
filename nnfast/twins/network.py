"""The book's per-sample algorithm, unoptimised: the yardstick for tests and benchmarks.

This is chapter 1's ``network.py`` ported to Python 3 and nothing more: one
``(784, 1)`` column at a time, a Python loop over the mini-batch, the same RNG
draws (``np.random.randn`` for biases then weights, ``random.shuffle`` of the
caller's list each epoch). nnfast's fast ``Network`` must learn the same network.
The only change from the book is the overflow-safe sigmoid.
"""

import random

import numpy as np

from ..activations import sigmoid



def sigmoid_prime(z):
    """The book's: through this module's ``sigmoid`` (replace ``sigmoid`` alone and this follows)."""
    s = sigmoid(z)
    return s * (1 - s)


class Network:
    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = list(sizes)
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        training_data = training_data if isinstance(training_data, list) else list(training_data)
        if test_data is not None and not isinstance(test_data, list):
            test_data = list(test_data)
        n = len(training_data)
        for j in range(epochs):
            random.shuffle(training_data)
            for k in range(0, n, mini_batch_size):
                self.update_mini_batch(training_data[k:k + mini_batch_size], eta)
            self.print_epoch(j, test_data)

    def print_epoch(self, j, test_data):
        """The book's line after epoch ``j`` (its peers, numpy_batch, torch_engine, jax_engine, print it too)."""
        if test_data:
            print(f"Epoch {j}: {self.evaluate(test_data)} / {len(test_data)}")
        else:
            print(f"Epoch {j} complete")

    @staticmethod
    def leave_in_order(training_data, data, order):
        """Leave the caller's list in the order ``order`` of ``data``, as the book's in-place shuffles leave it."""
        if isinstance(training_data, list):
            original = list(data)
            training_data[:] = [original[i] for i in order]

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        step = eta / len(mini_batch)
        self.weights = [w - step * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - step * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activations, zs = self.forward_pass(x)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):
            sp = sigmoid_prime(zs[-layer])
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * sp
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w

    def forward_pass(self, x):
        """(activations, zs): every layer's output (input first) and weighted input, for backprop."""
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        return activations, zs

    def evaluate(self, test_data):
        return sum(int(np.argmax(self.feedforward(x)) == y) for x, y in test_data)

    def cost_derivative(self, output_activations, y):
        return output_activations - y
