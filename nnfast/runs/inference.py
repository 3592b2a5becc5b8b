"""Whatever network a model file holds, loaded and run: for ``nnfast eval``, ``predict`` and the draw page.

``nnfast.models`` knows the file formats only; picking the face (chapter 1/3's
``network``/``network2`` or chapter 6's ``network3``) that rebuilds a file's
network happens here, above the faces, so no face and the format module import
each other in a circle.
"""

import os

import numpy as np

from .. import network, network2, network3
from ..datasets.formats import ARCHIVE_ERRORS
from ..models import is_json


def is_network3_file(path):
    """True when ``path`` is an ``.npz`` holding a chapter 6 ``network3`` model (False for anything else,
    a damaged file included: the loader that reads it then names what is wrong)."""
    if is_json(path):
        return False
    try:
        with np.load(os.fspath(path), allow_pickle=False) as z:
            return "network3" in z.files
    except (*ARCHIVE_ERRORS, KeyError, OSError):
        return False


def load_network(path):
    """Any saved network, for ``nnfast eval`` and ``predict``: nnfast's ``.npz`` of a chapter 1 or 3
    network or of a chapter 6 ``network3`` one, or a network2 JSON file (the book's or nnfast's)."""
    if is_json(path):
        return network2.load(path)
    if is_network3_file(path):
        return network3.load(path)
    net = network.load(path)  # it names what is wrong with anything else
    # a chapter 3 network's .npz names its cost (network2.save): loaded as network2's, it is named chapter 3's
    return network2.load(path) if "cost" in net.metadata else net


def predict_classes(net, X):
    """The predicted class of each row of ``X (n, 784)`` for any loaded network."""
    return net.predict_rows(X) if hasattr(net, "predict_rows") else net.predict(X)


def outputs(net, column):
    """The output layer's activations ``(classes,)`` for one ``(784, 1)`` input, for any loaded network."""
    if hasattr(net, "predict_rows"):
        return net.feedforward(column).ravel()
    return net.feedforward(column.T)[0]


# An output above SURE says "yes, this class": for the book's sigmoid outputs (chapters 1 and 3) that is a
# positive weighted input, the side of the unit's own decision boundary its 0/1 targets were trained on; for a
# softmax (chapter 6) it is a class more likely than all the others together. The network is sure when exactly
# one output says yes: none (every unit low) or two at once (a 4 that is also a 9) is "not sure".
SURE = 0.5


def certainty(out):
    """``(best, output, sure)`` for one input's outputs ``(classes,)``: the winning class, its output (the
    unit's activation, 0 to 1: the measure nnfast shows everywhere) and whether the network is sure (only
    that output is above ``SURE``)."""
    out = np.asarray(out, dtype=np.float64).ravel()
    best = int(np.argmax(out))
    saying_yes = int(np.count_nonzero(out > SURE))
    return best, float(out[best]), bool(out[best] > SURE and saying_yes == 1)
