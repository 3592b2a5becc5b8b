"""Chapter 3's problem: tanh neurons instead of sigmoids, on nnfast's matrix blocks.

    python examples/tanh.py              # 784-30-10 on MNIST, 5 epochs, quadratic cost

The compiled kernels compute sigmoid networks, so a tanh network's
backpropagation runs in numpy: ``nnfast.engine.matrix_path.gradient`` takes
the activation and its derivative and works on a whole mini-batch at once,
one sample per column. ``backprop`` accepts a column, as the book's does, or
a whole mini-batch; ``mini_batch_gradient`` hands it the mini-batch as
matrices, so training never loops over samples in Python. It learns what the
per-sample version (``nnfast.twins.exercises.TanhNetwork``) learns.
"""

from nnfast import network2
from nnfast.activations import tanh, tanh_prime
from nnfast.engine import matrix_path


class TanhNetwork(network2.Network):
    """``network2.Network`` with tanh neurons in every layer (the cost's ``delta`` is used as it is)."""

    def feedforward(self, a):
        return matrix_path.output(self.weights, self.biases, a, tanh)

    def backprop(self, x, y):
        return matrix_path.gradient(self.weights, self.biases, x, y, tanh, tanh_prime, self.cost.delta)

    def mini_batch_gradient(self, mini_batch):
        return self.backprop(*matrix_path.columns(mini_batch))


if __name__ == "__main__":
    from nnfast import mnist_loader
    training_data, validation_data, _ = mnist_loader.load_data_wrapper()
    net = TanhNetwork([784, 30, 10], cost=network2.QuadraticCost)
    net.SGD(training_data, 5, 10, 0.1, evaluation_data=validation_data, monitor_evaluation_accuracy=True)
