"""Small MNIST-format fixture files written the way the real ones are (no download needed)."""

import gzip
import hashlib
import struct

import numpy as np

from nnfast.datasets import Digits, Pins


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


# -- a Python 2 cPickle, protocol 2, as the book's mnist.pkl.gz was written -----------

def _str(b):  # Python 2 str opcodes: SHORT_BINSTRING / BINSTRING
    return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b


def _int(i):
    if 0 <= i < 256:
        return b"K" + bytes([i])
    if 0 <= i < 65536:
        return b"M" + struct.pack("<H", i)
    return b"J" + struct.pack("<i", i)


def _tuple(items):
    body = b"".join(items)
    return {0: b")", 1: body + b"\x85", 2: body + b"\x86", 3: body + b"\x87"}.get(len(items), b"(" + body + b"t")


def _dtype(dt):
    state = _tuple([_int(3), _str(b"<"), b"N", b"N", b"N", b"J\xff\xff\xff\xff", b"J\xff\xff\xff\xff", _int(0)])
    return b"cnumpy\ndtype\n" + _tuple([_str(dt.str[1:].encode()), _int(0), _int(1)]) + b"R" + state + b"b"


def _array(a):
    new = b"cnumpy.core.multiarray\n_reconstruct\n" + _tuple([b"cnumpy\nndarray\n", _tuple([_int(0)]), _str(b"b")]) + b"R"
    state = _tuple([_int(1), _tuple([_int(d) for d in a.shape]), _dtype(a.dtype), b"\x89", _str(a.tobytes())])
    return new + state + b"b"


def py2_pickle(obj):
    def enc(o):
        if isinstance(o, tuple):
            return _tuple([enc(x) for x in o])
        return _array(np.ascontiguousarray(o))
    return b"\x80\x02" + enc(obj) + b"."


def book_pickle_gz(digits, n_validation):
    """The book's mnist.pkl.gz for ``digits``: float32 byte/256 images, int64 labels, 3 pairs."""
    n = len(digits.train_labels) - n_validation
    X = digits.train_images.astype(np.float32) / 256
    y = digits.train_labels.astype(np.int64)
    obj = ((X[:n], y[:n]), (X[n:], y[n:]),
           (digits.test_images.astype(np.float32) / 256, digits.test_labels.astype(np.int64)))
    return gzip.compress(py2_pickle(obj), mtime=0)
