"""The models ``nnfast draw`` offers: the files given, or a default one trained on first use and cached.

The default is chapter 3's network (784-100-10, cross-entropy, L2 5.0,
N(0, 1/n_in) weights), 8 epochs at eta 0.1, seed 1: about 97.5% on MNIST's
test set, trained in a few seconds (about 20 with a cold compile cache), and
cached as ``draw-default.npz`` under nnfast's data folder so later starts
load it at once.
"""

import contextlib
import io
import os

from .reading import Entry

DEFAULT_NAME = "draw-default.npz"
DEFAULT_SIZES = [784, 100, 10]
DEFAULT_EPOCHS = 8


def default_model_path():
    from ..datasets import home
    return os.path.join(home(), DEFAULT_NAME)


def train_default(path, say=print):
    """Train the default model and save it at ``path``; returns the network."""
    import random

    import numpy as np

    from .. import mnist_loader, network2
    say(f"No model given: training the default one ({'-'.join(map(str, DEFAULT_SIZES))}, chapter 3's cross-entropy "
        f"net, {DEFAULT_EPOCHS} epochs on MNIST; about 20 s the first time), to keep at {path}")
    training, _, _ = mnist_loader.load_data_wrapper()
    random.seed(1)
    np.random.seed(1)
    net = network2.Network(DEFAULT_SIZES, cost=network2.CrossEntropyCost)
    with contextlib.redirect_stdout(io.StringIO()):  # the book's epoch lines are not this command's output
        net.SGD(training, DEFAULT_EPOCHS, 10, 0.1, lmbda=5.0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    net.save(path, classes=[str(d) for d in range(10)])
    return net


def entries(paths, say=print):
    """``Entry`` for each model file in ``paths`` (or the default model), named by file name."""
    from ..runs.inference import load_network
    if not paths:
        path = default_model_path()
        net = load_network(path) if os.path.exists(path) else train_default(path, say)
        return [Entry("default (784-100-10, chapter 3)", net)]
    return [Entry(os.path.basename(os.fspath(p)), load_network(p)) for p in paths]
