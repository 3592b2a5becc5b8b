"""The book's chapter 3 problems written as a learner writes them into ``network2.py``: per sample.

Each class changes the per-sample twin (``nnfast.twins.network2``, the book's
own code) in the book's style: the same loops over ``(x, y)`` columns, the
same formulas. They are the yardsticks for ``examples/``, where the same
changes are built on nnfast's matrix-level blocks: the tests hold the two to
1e-9 over 50 mini-batches and ``make bench`` times them side by side.
"""

import random

import numpy as np

from ..activations import sigmoid, sigmoid_prime, softmax, tanh, tanh_prime
from . import network2


class MomentumNetwork(network2.Network):
    """Momentum: ``v <- mu v - eta (grad_w C / m + (lmbda / n) w)``, ``w <- w + v``; biases alike, unregularised."""

    def __init__(self, sizes, cost=network2.CrossEntropyCost, mu=0.9):
        super().__init__(sizes, cost=cost)
        self.mu = mu
        self.velocity_w = [np.zeros(w.shape) for w in self.weights]
        self.velocity_b = [np.zeros(b.shape) for b in self.biases]

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        m = len(mini_batch)
        self.velocity_w = [self.mu * v - eta * (nw / m + (lmbda / n) * w)
                           for v, nw, w in zip(self.velocity_w, nabla_w, self.weights)]
        self.velocity_b = [self.mu * v - eta * (nb / m) for v, nb in zip(self.velocity_b, nabla_b)]
        self.weights = [w + v for w, v in zip(self.weights, self.velocity_w)]
        self.biases = [b + v for b, v in zip(self.biases, self.velocity_b)]


class L1Network(network2.Network):
    """L1 instead of L2: ``w <- w - (eta lmbda / n) sgn(w) - (eta / m) grad_w C``."""

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        m = len(mini_batch)
        self.weights = [w - eta * (lmbda / n) * np.sign(w) - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]


class TanhNetwork(network2.Network):
    """tanh neurons everywhere instead of sigmoids (targets stay 0/1; the cost's delta is used as given)."""

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = tanh(np.dot(w, a) + b)
        return a

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = tanh(z)
            activations.append(activation)
        delta = self.cost.delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * tanh_prime(zs[-layer])
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w


class LogLikelihoodCost:
    """Chapter 3's log-likelihood cost for a softmax output layer: ``C = -ln a_y``, delta ``a - y``."""

    @staticmethod
    def fn(a, y):
        return float(-np.sum(np.nan_to_num(y * np.log(a))))

    @staticmethod
    def delta(z, a, y):
        return a - y


class SoftmaxNetwork(network2.Network):
    """Sigmoid hidden layers under a softmax output layer, trained on the log-likelihood cost."""

    def __init__(self, sizes):
        super().__init__(sizes, cost=LogLikelihoodCost)

    def feedforward(self, a):
        for b, w in zip(self.biases[:-1], self.weights[:-1]):
            a = sigmoid(np.dot(w, a) + b)
        return softmax(np.dot(self.weights[-1], a) + self.biases[-1])

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation, activations, zs = x, [x], []
        for layer, (b, w) in enumerate(zip(self.biases, self.weights)):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = softmax(z) if layer == len(self.weights) - 1 else sigmoid(z)
            activations.append(activation)
        delta = self.cost.delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * sigmoid_prime(zs[-layer])
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w


class ScheduledNetwork(network2.Network):
    """The learning-rate schedule: halve eta whenever validation accuracy has not improved for
    ``patience`` epochs, and stop once eta is 1/``floor_ratio`` of where it started."""

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            patience=10, floor_ratio=128):
        n = len(training_data)
        best, stale, floor = -1, 0, eta / floor_ratio
        accuracies, etas = [], []
        for j in range(epochs):
            random.shuffle(training_data)
            for k in range(0, n, mini_batch_size):
                self.update_mini_batch(training_data[k:k + mini_batch_size], eta, lmbda, n)
            accuracy = self.accuracy(evaluation_data)
            accuracies.append(accuracy)
            etas.append(eta)
            print(f"Epoch {j}: {accuracy} / {len(evaluation_data)}, eta {eta:g}")
            if accuracy > best:
                best, stale = accuracy, 0
            else:
                stale += 1
            if stale >= patience:
                eta, stale = eta / 2, 0
                if eta <= floor:
                    print(f"Stopped after epoch {j}: eta fell to {eta:g}, 1/{floor_ratio} of the {etas[0]:g} it "
                          f"started at (halved after every {patience} epochs without a better validation accuracy)")
                    break
        else:
            print(f"Trained the {epochs} epochs asked for; eta ended at {eta:g}")
        return accuracies, etas
