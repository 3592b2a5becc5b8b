"""Chapter 3's problem "add momentum-based gradient descent to network2.py", on nnfast's blocks.

    python examples/momentum.py          # 784-30-10 on MNIST, 5 epochs, mu 0.9

The mini-batch's gradient is one call into the compiled kernels:
``self.mini_batch_gradient(mini_batch)`` takes the book's list of ``(x, y)``
pairs and returns ``(nabla_b, nabla_w)`` summed over them, what the book's
``update_mini_batch`` adds up one ``backprop`` at a time. The momentum update is
numpy on whole layers, done in place so that no layer-sized array is allocated
per mini-batch. It learns what the per-sample version
(``nnfast.twins.exercises.MomentumNetwork``) learns.
"""

import numpy as np

from nnfast import network2


class MomentumNetwork(network2.Network):
    """``v <- mu v - eta (grad_w / m + (lmbda / n) w)``, ``w <- w + v``; biases alike, without the L2 term."""

    def __init__(self, sizes, cost=network2.CrossEntropyCost, mu=0.9, dtype=np.float64):
        super().__init__(sizes, cost=cost, dtype=dtype)
        self.mu = mu
        self.velocity_w = [np.zeros_like(w) for w in self.weights]
        self.velocity_b = [np.zeros_like(b) for b in self.biases]

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        nabla_b, nabla_w = self.mini_batch_gradient(mini_batch)  # summed over the batch, compiled
        m = len(mini_batch)
        for w, v, nw in zip(self.weights, self.velocity_w, nabla_w):
            v *= self.mu
            v -= (eta / m) * nw
            v -= (eta * lmbda / n) * w
            w += v
        for b, v, nb in zip(self.biases, self.velocity_b, nabla_b):
            v *= self.mu
            v -= (eta / m) * nb
            b += v


if __name__ == "__main__":
    from nnfast import mnist_loader
    training_data, validation_data, _ = mnist_loader.load_data_wrapper()
    net = MomentumNetwork([784, 30, 10], mu=0.9)
    net.SGD(training_data, 5, 10, 0.1, lmbda=5.0, evaluation_data=validation_data, monitor_evaluation_accuracy=True)
