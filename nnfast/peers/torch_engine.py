"""The book's network trained with PyTorch on the CPU: a peer to measure nnfast against.

Same initial weights (drawn with ``np.random.randn`` like the book), same
mini-batches (``random.shuffle`` of the training order), same quadratic cost
and update rule; the data lives in tensors and each mini-batch is one matrix,
as a PyTorch user would write it. Backprop is written out (no autograd) so the
arithmetic is exactly the book's. Needs ``torch`` (``make bench-peers``).
"""

import random

import numpy as np

from ..twins import network as reference


class Network(reference.Network):
    def __init__(self, sizes, dtype=np.float64):
        super().__init__(sizes)
        import torch
        self.torch = torch
        self.tdtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32

    def _tensors(self):
        t = self.torch
        return ([t.from_numpy(np.ascontiguousarray(w)).to(self.tdtype) for w in self.weights],
                [t.from_numpy(np.ascontiguousarray(b)).to(self.tdtype) for b in self.biases])

    def _store(self, weights, biases):
        self.weights = [w.numpy().astype(np.float64) for w in weights]
        self.biases = [b.numpy().astype(np.float64) for b in biases]

    def _step(self, weights, biases, X, Y, eta):
        """One mini-batch: X (n_in, m), Y (n_out, m) tensors; updates weights/biases in place."""
        t = self.torch
        activations, a = [X], X
        for w, b in zip(weights, biases):
            a = t.sigmoid(w @ a + b)
            activations.append(a)
        delta = (a - Y) * a * (1 - a)
        step = eta / X.shape[1]
        for layer in range(len(weights) - 1, -1, -1):
            grad_w = delta @ activations[layer].T
            grad_b = delta.sum(dim=1, keepdim=True)
            if layer > 0:
                a_prev = activations[layer]
                delta = (weights[layer].T @ delta) * a_prev * (1 - a_prev)
            weights[layer] -= step * grad_w
            biases[layer] -= step * grad_b

    def update_mini_batch(self, mini_batch, eta):
        t = self.torch
        X = t.from_numpy(np.hstack([x for x, _ in mini_batch])).to(self.tdtype)
        Y = t.from_numpy(np.hstack([y for _, y in mini_batch])).to(self.tdtype)
        weights, biases = self._tensors()
        self._step(weights, biases, X, Y, eta)
        self._store(weights, biases)

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        t = self.torch
        data = training_data if isinstance(training_data, list) else list(training_data)
        X = t.from_numpy(np.hstack([x for x, _ in data])).to(self.tdtype)  # (n_in, n): once per call
        Y = t.from_numpy(np.hstack([y for _, y in data])).to(self.tdtype)
        order = list(range(len(data)))
        weights, biases = self._tensors()
        for j in range(epochs):
            random.shuffle(order)  # the same draws as the book's shuffle of its list
            index = t.tensor(order)
            for k in range(0, len(order), mini_batch_size):
                cols = index[k:k + mini_batch_size]
                self._step(weights, biases, X[:, cols], Y[:, cols], eta)
            self._store(weights, biases)
            self.print_epoch(j, test_data)
        self.leave_in_order(training_data, data, order)
