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
    """``Entry`` for each model file in ``paths`` (or the default model), named by what it is and its file."""
    from ..runs.inference import load_network
    if not paths:
        path = default_model_path()
        net = load_network(path) if os.path.exists(path) else train_default(path, say)
        return [named(net, "default")]
    return [named(load_network(p), os.path.basename(os.fspath(p))) for p in paths]


def named(net, label):
    """``Entry`` for ``net`` named by what it is, then ``label`` (its file): "784-30-10, chapter 1 (net.npz)"."""
    entry = Entry(label, net)
    entry.name = f"{describe(net, entry.classes)} ({label})"
    return entry


def describe(net, classes=None):
    """What a loaded network is, in the words of the book and ``nnfast train``: "784-30-10, chapter 1",
    "784-100-10, chapter 3", "chapter 6: conv20x5, pool2, fc100" (its softmax last, unsaid), with a non-sigmoid
    activation, dropout and classes other than the digits 0-9 added."""
    from .. import network2, network3
    if isinstance(net, network3.Network):
        parts, activations, dropout = [], set(), 0.0
        for layer in net.layers:
            if isinstance(layer, network3.ConvPoolLayer):
                n, _, fh, fw = layer.filter_shape
                parts.append(f"conv{n}x{fh}" if fh == fw else f"conv{n}x{fh}x{fw}")
                ph, pw = layer.poolsize
                if (ph, pw) != (1, 1):
                    parts.append(f"pool{ph}" if ph == pw else f"pool{ph}x{pw}")
            elif isinstance(layer, network3.FullyConnectedLayer):
                parts.append(f"fc{layer.n_out}")
            if not isinstance(layer, network3.SoftmaxLayer):
                activations.add(getattr(layer.activation_fn, "__name__", "?"))
            dropout = max(dropout, float(getattr(layer, "p_dropout", 0.0)))
        text = "chapter 6: " + ", ".join(parts or ["softmax"])
        text += "".join(f", {a}" for a in sorted(activations - {"sigmoid"}))
        text += f", dropout {dropout:g}" if dropout else ""
    else:
        text = f"{'-'.join(map(str, net.sizes))}, chapter {3 if isinstance(net, network2.Network) else 1}"
    if classes is not None and list(classes) != [str(d) for d in range(10)]:
        shown = ", ".join(classes) if len(classes) <= 4 else f"{classes[0]}..{classes[-1]}"
        text += f", {len(classes)} classes ({shown})"
    return text
