"""The book's ``mnist_loader.py`` API over verified, cached MNIST (``nnfast.datasets``).

``load_data()`` and ``load_data_wrapper()`` return exactly what the book's
versions return from ``mnist.pkl.gz`` (same arrays, same split, same pixel
values ``byte / 256``), but the data comes from wherever ``nnfast.datasets``
finds it, and the wrapper's columns are views into one contiguous matrix, so
``Network.SGD`` gets its training matrix without copying 50,000 columns.
"""

import numpy as np

from .datasets import DataError, Dataset, load_dataset
from .engine.convert import row_views

__all__ = ["DataError", "Dataset", "load_data", "load_data_wrapper", "load_dataset", "split", "vectorized_result",
           "wrap"]

VALIDATION_SIZE = 10_000


def _validation_size(n_train, validation=None):
    """The training set's last 10,000 images (or ``validation``); a smaller set gives up a sixth instead."""
    if validation is not None:
        if isinstance(validation, bool) or not isinstance(validation, (int, np.integer)) or validation < 0:
            raise ValueError(f"validation must be a whole number >= 0, got {validation!r}")
        if validation >= n_train:
            raise ValueError(f"validation {validation:,} leaves no training images (the data has {n_train:,})")
        return int(validation)
    return VALIDATION_SIZE if n_train >= 2 * VALIDATION_SIZE else n_train // 6


def split(dataset, validation=None):
    """``(training_data, validation_data, test_data)`` of a ``Dataset``, each ``(X float32 (n, 784), y int64 (n,))``.

    Validation is the last ``validation`` (default 10,000) of the training
    images; pixels are ``byte / 256``, as in the book's file.
    """
    digits = dataset.digits
    scale = np.float32(1 / 256)  # a power of two: byte / 256 is exact in float32

    def floats(images):
        return np.multiply(images, scale, dtype=np.float32)  # one new array: page faults cost ~1 ms/MB

    n_train = len(digits.train_labels) - _validation_size(len(digits.train_labels), validation)
    X, y = floats(digits.train_images), digits.train_labels.astype(np.int64)
    return ((X[:n_train], y[:n_train]), (X[n_train:], y[n_train:]),
            (floats(digits.test_images), digits.test_labels.astype(np.int64)))


def load_data(path=None, validation=None):
    """``(training_data, validation_data, test_data)``, each ``(X float32 (n, 784), y int64 (n,))``.

    Training is the first 50,000 of MNIST's training images, validation the
    last 10,000, test MNIST's 10,000 test images. ``path`` may name the book's
    ``mnist.pkl.gz``, a folder of IDX or CSV files, an nnfast cache file, or
    any dataset in MNIST's IDX format (EMNIST, Fashion-MNIST, KMNIST: labels
    0..K-1); without it the cache or the network is used. ``validation``
    changes how many training images are held out.
    """
    return split(load_dataset(path), validation)


def vectorized_result(j, n=10):
    """A ``(n, 1)`` float64 column with 1.0 at index ``j`` (a class 0..n-1) and zeros elsewhere."""
    if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < n:
        raise ValueError(f"vectorized_result needs a class 0-{n - 1}, got {j!r}")
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


def _columns(X):
    """``(784, 1)`` views of the rows of ``X``: no per-sample copies (and rows ``SGD`` finds at once)."""
    return row_views(X)


def wrap(dataset, validation=None):
    """The book's lists for a ``Dataset``: training ``(x (784, 1), one-hot (K, 1))``, validation and test
    ``(x (784, 1), int label)``, with K the dataset's number of classes."""
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = split(dataset, validation)
    one_hot = np.zeros((len(tr_y), len(dataset.classes)))
    one_hot[np.arange(len(tr_y)), tr_y] = 1.0
    training = list(zip(_columns(tr_x), _columns(one_hot)))
    validation = list(zip(_columns(va_x), va_y.tolist()))
    test = list(zip(_columns(te_x), te_y.tolist()))
    return training, validation, test


def load_data_wrapper(path=None, validation=None):
    """The book's lists: training ``[(x (784, 1), one-hot (10, 1))] * 50,000``,
    validation and test ``[(x (784, 1), int label)] * 10,000`` (for another
    dataset: one-hot columns of its number of classes).

    Every ``x`` is a view into one contiguous float32 matrix and every one-hot
    a view into one (n, K) matrix, which ``Network.SGD`` recognises.

    These lists are what chapters 1 and 3 train on, so a first run's compile of
    their float64 kernels starts now, in a helper process beside the loading
    (``engine.dense.start_compiling``: only on a cold numba cache and a free core).
    """
    from .engine.dense import start_compiling
    start_compiling(np.float64)
    return wrap(load_dataset(path), validation)
