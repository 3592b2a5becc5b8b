"""The plain numpy matrix-batch port of the book: what public "matrix-based" versions do.

Each mini-batch is stacked into ``(784, m)`` matrices and pushed through numpy
(BLAS) in one go; everything else is the book's code (``nnfast.twins.network``).
It is an engine to compare against, not part of nnfast's fast path.
"""

import numpy as np

from ..twins import network as reference
from ..activations import sigmoid_prime


class Network(reference.Network):
    def update_mini_batch(self, mini_batch, eta):
        X = np.hstack([x for x, _ in mini_batch])
        Y = np.hstack([y for _, y in mini_batch])
        nabla_b, nabla_w = self.backprop(X, Y)
        step = eta / len(mini_batch)
        self.weights = [w - step * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - step * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """Summed gradient over the columns of ``x (784, m)`` and ``y (10, m)``."""
        activations, zs = self.forward_pass(x)  # the book's loop works on (784, m) as on (784, 1)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        nabla_b[-1] = delta.sum(axis=1, keepdims=True)
        nabla_w[-1] = np.dot(delta, activations[-2].T)
        for layer in range(2, self.num_layers):
            delta = np.dot(self.weights[-layer + 1].T, delta) * sigmoid_prime(zs[-layer])
            nabla_b[-layer] = delta.sum(axis=1, keepdims=True)
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].T)
        return nabla_b, nabla_w
