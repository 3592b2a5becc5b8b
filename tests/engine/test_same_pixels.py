"""Same pixels, same seeds, same numbers (issue 28.7): a learner's own list of columns and nnfast's loader's
list (views of one larger matrix) train bit for bit the same network, and the book's to rounding.

The zero-skipping column order used to be chosen from a sample of the *stored* matrix's rows: the
loader's 60,000-row matrix (validation included) or the learner's freshly stacked 50,000, so the same
pixels were summed in another order and a chaotic run (eta 3) printed other accuracies from epoch 1.
"""

import contextlib
import io
import random

import numpy as np
import pytest

from nnfast import network, network2
from nnfast.engine import convert
from nnfast.engine import input_layout as _input_layout
from nnfast.twins import network as twin1
from nnfast.twins import network2 as twin2


def _stored_like_the_loader(n=600, extra=300, seed=0):
    """``(views, X)``: n book-format pairs whose inputs are row views of the first n rows of X, which holds
    ``extra`` more rows (the loader's validation images) inked elsewhere, so that counting X's rows, or a
    sample of them, orders the columns differently from counting the n trained on."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n + extra, 784), dtype=np.float32)
    centre = np.exp(-((np.arange(784) - 392) / 150.0) ** 2)
    X[:n] = np.where(rng.random((n, 784)) < 0.35 * centre, rng.integers(1, 256, (n, 784)) / 256, 0)
    X[n:, :200] = rng.integers(1, 256, (extra, 200)) / 256  # the held-out rows: ink at one end
    one_hot = np.eye(10)[rng.integers(0, 10, n)]
    return list(zip(convert.row_views(X[:n]), convert.row_views(one_hot))), X


def _train(cls, data, seed=4, epochs=2, **kw):
    np.random.seed(seed)
    net = cls([784, 16, 10])
    random.seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD(list(data), epochs, 10, 3.0, **kw)
    return net.weights + net.biases


@pytest.mark.parametrize("fast_cls, twin_cls", [(network.Network, twin1.Network), (network2.Network, twin2.Network)])
def test_a_learners_own_list_and_the_loaders_views_train_the_same_numbers(fast_cls, twin_cls):
    views, _ = _stored_like_the_loader()
    own64 = [(x.astype(np.float64), y.copy()) for x, y in views]  # byte / 256 in float64, fresh arrays
    own32 = [(x.copy(), y.copy()) for x, y in views]
    reference = _train(twin_cls, views)
    loader = _train(fast_cls, views)
    for own in (own64, own32, views[::-1][::-1]):
        for a, b in zip(_train(fast_cls, own), loader):
            np.testing.assert_array_equal(a, b)  # not merely close: the same sums in the same order
    for a, b in zip(loader, reference):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_the_column_order_depends_on_the_rows_trained_not_on_their_storage_or_order():
    _, X = _stored_like_the_loader()
    rows = np.random.default_rng(1).permutation(600)
    stored = _input_layout.prepared_inputs(X, rows)[1]
    alone = _input_layout.prepared_inputs(np.ascontiguousarray(X[rows]))[1]
    np.testing.assert_array_equal(stored.perm, alone.perm)
    np.testing.assert_array_equal(stored.hi[rows], alone.hi)
    counts = np.count_nonzero(X[:600], axis=0)
    assert np.all(np.diff(counts[stored.perm]) <= 0)  # most often nonzero first
    every_row = _input_layout.prepared_inputs(X)[1]
    assert not np.array_equal(every_row.perm, stored.perm)  # the held-out rows would have ordered it otherwise
