"""Chapter 3's problem: L1 regularisation instead of L2, on nnfast's blocks.

    python examples/l1.py                # 784-30-10 on MNIST, 5 epochs, lmbda 5.0

The L1 update shrinks each weight by a constant amount towards zero,
``w <- w - (eta lmbda / n) sgn(w) - (eta / m) grad_w``, instead of L2's
``(1 - eta lmbda / n)`` factor. The gradient is the kernels' (one call per
mini-batch); the update is numpy on whole layers, in place. It learns what the
per-sample version (``nnfast.twins.exercises.L1Network``) learns.
"""

import numpy as np

from nnfast import network2


class L1Network(network2.Network):
    """``network2.Network`` whose ``lmbda`` weighs ``sum |w|`` (L1) instead of ``sum w**2 / 2`` (L2)."""

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b, nabla_w = self.mini_batch_gradient(mini_batch)  # summed over the batch, compiled
        m = len(mini_batch)
        for w, nw in zip(self.weights, nabla_w):
            shrink = np.sign(w)
            shrink *= eta * (lmbda / n)
            nw *= eta / m
            w -= shrink
            w -= nw
        for b, nb in zip(self.biases, nabla_b):
            b -= (eta / m) * nb


if __name__ == "__main__":
    from nnfast import mnist_loader
    training_data, validation_data, _ = mnist_loader.load_data_wrapper()
    net = L1Network([784, 30, 10])
    net.SGD(training_data, 5, 10, 0.5, lmbda=5.0, evaluation_data=validation_data, monitor_evaluation_accuracy=True)
