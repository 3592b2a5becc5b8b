"""The pictures of ``nnfast eval`` drawn straight from a network and the book's data, for notebooks.

``mistakes(net, test_data)`` and ``confusion(net, test_data)`` take a network
of any chapter (``network``, ``network2``, ``network3``; built, trained or
loaded) and data as the book's loaders give it, and return a matplotlib
``Figure``, which Jupyter shows inline. The network's outputs are its own
``feedforward``: a learner's override of it is what gets drawn.
"""

import numpy as np

from .evaluation import confusion_figure, mistakes_figure


def mistakes(net, data, count=36, title=None):
    """A ``Figure``: the first ``count`` images of ``data`` that ``net`` gets wrong, each titled
    "true -> predicted", and how many it got wrong in all."""
    X, labels, predicted, classes = _predictions(net, data)
    return mistakes_figure(X, labels, predicted, classes, title or _title(net, labels), count)


def confusion(net, data, title=None):
    """A ``Figure``: ``net``'s confusion matrix on ``data`` as a heatmap (rows: the true class, columns: the
    predicted one), each count written in."""
    X, labels, predicted, classes = _predictions(net, data)
    k = len(classes)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return confusion_figure(matrix, classes, title or _title(net, labels))


def _title(net, labels):
    name = repr(net)
    if "\n" in name:  # network3's repr is the book's lines that build it: too long for a title
        name = f"{type(net).__name__} of {len(net.layers)} layers"
    return f"{name} on {len(labels):,} images"


def _predictions(net, data):
    """(X (n, 784), labels (n,), predicted (n,), class names) for ``net`` on ``data``."""
    n_in, n_out = _widths(net)
    X, labels = _as_rows(data, n_in, n_out)
    if labels.size and (labels.min() < 0 or labels.max() >= n_out):
        raise ValueError(f"the data's labels run from {labels.min()} to {labels.max()}, and the network has "
                         f"{n_out} outputs")
    predicted = _predict(net, X)
    names = (getattr(net, "metadata", None) or {}).get("classes")  # a model nnfast train saved names them
    if not (isinstance(names, list) and len(names) == n_out):
        names = [str(k) for k in range(n_out)]
    return X, labels, predicted, names


def _widths(net):
    if hasattr(net, "sizes"):
        return net.sizes[0], net.sizes[-1]
    if hasattr(net, "layers"):
        return net.layers[0].n_in, net.layers[-1].n_out
    raise TypeError(f"expected a network of nnfast.network, network2 or network3; got {type(net).__name__}")


def _as_rows(data, n_in, n_out):
    """The book's data in either form as (X (n, n_in) float, labels (n,) int): a list of ``(x (n_in, 1),
    label)`` pairs (labels as ints or one-hot columns: test or training data of ``load_data_wrapper``), or an
    ``(X, y)`` pair of arrays (``load_data``, ``network3.load_data_shared``)."""
    if isinstance(data, tuple) and len(data) == 2 and np.ndim(data[0]) == 2 and np.ndim(data[1]) == 1:
        X, labels = np.asarray(data[0]), np.asarray(data[1])
        if X.shape[1] != n_in or len(X) != len(labels):
            raise ValueError(f"data of shapes {X.shape} and {labels.shape}: expected (n, {n_in}) and (n,)")
        return X, labels.astype(np.int64)
    from ..engine.convert import test_matrices
    return test_matrices(list(data), n_in, n_out)


def _predict(net, X):
    if hasattr(net, "sizes"):
        from .. import network, network2
        own = getattr(type(net), "feedforward", None)
        if "feedforward" not in vars(net) and own in (network.Network.feedforward, network2.Network.feedforward):
            return np.argmax(net.feedforward(np.ascontiguousarray(X.T)), axis=0)  # nnfast's, on the whole batch
        # a learner's feedforward: called as the book's evaluate calls it, one (n_in, 1) column at a time
        return np.array([int(np.argmax(net.feedforward(x.reshape(-1, 1)))) for x in X], dtype=np.int64)
    return np.asarray(net.predict(X))
