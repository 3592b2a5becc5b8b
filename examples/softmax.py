"""Chapter 3's softmax output layer with the log-likelihood cost, on nnfast's matrix blocks.

    python examples/softmax.py           # 784-30-10 on MNIST, 5 epochs

Sigmoid hidden layers under a softmax layer, trained on ``C = -ln a_y``. The
book shows that this pair's output error is ``a - y``, so the cost needs only
the book's two methods; ``nnfast.engine.matrix_path.gradient`` takes the
softmax as the output layer's activation and works on a whole mini-batch at
once, one sample per column. It learns what the per-sample version
(``nnfast.twins.exercises.SoftmaxNetwork``) learns.
"""

import numpy as np

from nnfast import network2
from nnfast.activations import sigmoid, sigmoid_prime, softmax
from nnfast.engine import matrix_path


class LogLikelihoodCost:
    """``C = -ln a_y`` for the one-hot target ``y``; with a softmax output, delta is ``a - y``."""

    @staticmethod
    def fn(a, y):
        return float(-np.sum(np.nan_to_num(y * np.log(a))))

    @staticmethod
    def delta(z, a, y):
        return a - y


class SoftmaxNetwork(network2.Network):
    """``network2.Network`` with a softmax output layer and the log-likelihood cost."""

    def __init__(self, sizes, dtype=np.float64):
        super().__init__(sizes, cost=LogLikelihoodCost, dtype=dtype)

    def feedforward(self, a):
        return matrix_path.output(self.weights, self.biases, a, sigmoid, softmax)

    def backprop(self, x, y):
        return matrix_path.gradient(self.weights, self.biases, x, y, sigmoid, sigmoid_prime, self.cost.delta,
                                    output_activation=softmax)

    def mini_batch_gradient(self, mini_batch):
        return self.backprop(*matrix_path.columns(mini_batch))


if __name__ == "__main__":
    from nnfast import mnist_loader
    training_data, validation_data, _ = mnist_loader.load_data_wrapper()
    net = SoftmaxNetwork([784, 30, 10])
    net.SGD(training_data, 5, 10, 0.1, lmbda=5.0, evaluation_data=validation_data,
            monitor_evaluation_accuracy=True, monitor_evaluation_cost=True)
