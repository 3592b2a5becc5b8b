"""How often chapter 6's max pooling meets exact ties on MNIST, and what the tie rule does to the gradient.

``python -m benchmarks.pool_ties [IMAGES]`` (default 1,000). Not part of ``make bench``: a measurement for a
design question, not a speed.

nnfast's kernels and its plain-numpy twin (``nnfast/twins/network3.py``) send a pooling window's gradient to
its first maximum (row-major), as PyTorch and JAX do. Theano's ``MaxPoolGrad`` (CPU, the op behind the book's
``pool_2d``) adds it to every position equal to the maximum. The two rules differ only where a window holds
the same maximum twice. This counts such windows in the book's two conv layers (random initial weights, the
book's seed) and compares one SGD step's conv gradients under both rules, on the twin.
"""

import copy
import sys

import numpy as np


def every_maximum(Z, ph, pw):
    """The twin's ``max_pool`` with Theano's rule: the mask marks every position equal to its window's maximum."""
    P, _ = _FIRST(Z, ph, pw)
    m, F, Hz, Wz = Z.shape
    Hp, Wp = P.shape[2:]
    spread = np.repeat(np.repeat(P, ph, axis=2), pw, axis=3)
    mask = np.zeros_like(Z)
    mask[:, :, :Hp * ph, :Wp * pw] = (Z[:, :, :Hp * ph, :Wp * pw] == spread) * 1.0
    return P, mask


def _net(act):
    from nnfast import network3
    from nnfast.network3 import ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer
    np.random.seed(12345)
    return network3.Network([ConvPoolLayer((20, 1, 5, 5), (10, 1, 28, 28), (2, 2), activation_fn=act),
                             ConvPoolLayer((40, 20, 5, 5), (10, 20, 12, 12), (2, 2), activation_fn=act),
                             FullyConnectedLayer(40 * 4 * 4, 100, activation_fn=act), SoftmaxLayer(100, 10)],
                            10, dtype=np.float64)


def run(images=1000):
    from nnfast import network3
    from nnfast.twins import network3 as twin
    train, _, _ = network3.load_data_shared()
    X, Y = train[0][:images].astype(np.float64), train[1][:images]
    for name, act in (("sigmoid", network3.sigmoid), ("ReLU", network3.ReLU)):
        layers = twin.layers_of(_net(act))
        # the book starts the softmax layer at zero, so that no gradient reaches the conv layers at step one
        layers[-1]["w"] = np.random.RandomState(1).normal(0, 0.1, layers[-1]["w"].shape)
        a = X.reshape(-1, 1, 28, 28)
        for k, L in enumerate(layers[:2]):
            Z = twin.convolve(a, L["w"])
            P, mask = every_maximum(Z, 2, 2)
            windows = mask[:, :, :P.shape[2] * 2, :P.shape[3] * 2].reshape(
                *P.shape[:2], P.shape[2], 2, P.shape[3], 2).sum(axis=(3, 5))
            tied = windows > 1
            print(f"{name}, conv layer {k + 1}: {tied.mean():.2%} of pooling windows tie "
                  f"({(tied & (P != 0)).mean():.3%} at a maximum other than 0)")
            a = twin._ACT[L["act"]][0](P + L["b"][None, :, None, None])
        worst = np.zeros(2)
        for i in range(0, min(images, 100), 10):
            updates = []
            for rule in (_FIRST, every_maximum):
                twin.max_pool = rule
                try:
                    stepped = copy.deepcopy(layers)
                    twin.sgd_step(stepped, X[i:i + 10], Y[i:i + 10], 1.0, 0.0, 5000, np.random.RandomState(0))
                finally:
                    twin.max_pool = _FIRST
                updates.append([layers[k]["w"] - stepped[k]["w"] for k in range(2)])
            for k in range(2):
                worst[k] = max(worst[k], np.abs(updates[1][k] - updates[0][k]).max() / np.abs(updates[0][k]).max())
        print(f"{name}: one step's filter gradients, largest difference between the rules over the largest "
              f"entry (10 mini-batches of 10): layer 1 {worst[0]:.1%}, layer 2 {worst[1]:.1%}")


def _first_maximum():
    from nnfast.twins import network3 as twin
    return twin.max_pool


_FIRST = _first_maximum()  # the twin's own rule, kept before run() swaps the twin's function

if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
