"""Small MNIST-format fixture files written the way the real ones are (no download needed)."""

import gzip
import hashlib
import struct

import numpy as np

from nnfast.datasets import Digits, Pins
from nnfast.twins.book_files import py2_pickle  # noqa: F401 (tests import it from here)


def small_digits(n_train=120, n_test=30, seed=0):
    rng = np.random.default_rng(seed)
    return Digits(rng.integers(0, 256, (n_train, 784), dtype=np.uint8),
                  rng.integers(0, 10, n_train, dtype=np.uint8),
                  rng.integers(0, 256, (n_test, 784), dtype=np.uint8),
                  rng.integers(0, 10, n_test, dtype=np.uint8))


def idx_bytes(arr):
    """An IDX file of unsigned bytes: magic 0x0801 (labels) or 0x0803 (28x28 images)."""
    if arr.ndim == 1:
        return b"\x00\x00\x08\x01" + struct.pack(">I", arr.shape[0]) + arr.tobytes()
    return b"\x00\x00\x08\x03" + struct.pack(">III", arr.shape[0], 28, 28) + arr.tobytes()


IDX_NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def write_idx_folder(folder, digits, gz=True):
    """The four IDX files in ``folder``; returns {key: (file name, sha256, size)} as pins expect."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for key, name in IDX_NAMES.items():
        data = idx_bytes(getattr(digits, key))
        if gz:
            data = gzip.compress(data, mtime=0)
            name += ".gz"
        (folder / name).write_bytes(data)
        files[key] = (name, hashlib.sha256(data).hexdigest(), len(data))
    return files


def pins_for(digits, idx_files=None):
    arrays = {k: hashlib.sha256(v.tobytes()).hexdigest() for k, v in digits._asdict().items()}
    return Pins(idx_files or {}, arrays)


def csv_bytes(images, labels, header=True):
    lines = ["label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))] if header else []
    lines += [",".join(map(str, [int(y)] + x.tolist())) for x, y in zip(images, labels)]
    return ("\n".join(lines) + "\n").encode()


# -- the book's pickles: written as Python 2's cPickle wrote them (nnfast.twins.book_files) ----

def book_pickle_gz(digits, n_validation):
    """The book's mnist.pkl.gz for ``digits``: float32 byte/256 images, int64 labels, 3 pairs."""
    n = len(digits.train_labels) - n_validation
    X = digits.train_images.astype(np.float32) / 256
    y = digits.train_labels.astype(np.int64)
    obj = ((X[:n], y[:n]), (X[n:], y[n:]),
           (digits.test_images.astype(np.float32) / 256, digits.test_labels.astype(np.int64)))
    return gzip.compress(py2_pickle(obj), mtime=0)

