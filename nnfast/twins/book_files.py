"""The book's data files as its Python 2 code wrote them, and the reader nnfast had before it streamed them.

``py2_pickle`` writes a pickle opcode for opcode as Python 2's ``cPickle`` writes protocol 2 (``str``
payloads, ``numpy.core`` names): what ``mnist.pkl.gz`` holds. ``write_expanded_pickle`` writes
``expand_mnist.py``'s ``mnist_expanded.pkl.gz`` layout a chunk at a time, at any size, without ever
holding it whole. ``whole_file_book_pickle`` is the reader nnfast used up to issue 28 (decompress the
whole file, unpickle it, convert each set at once in float64): the yardstick the streaming reader must
agree with, array for array. For tests and benchmarks; nothing in the product imports this.
"""

import codecs
import gzip
import struct

import numpy as np

from ..datasets.digits import PIXELS, DataError, Digits, check_digits
from ..datasets.safe_pickle import loads_numpy_pickle


# -- Python 2's cPickle, protocol 2 -----------------------------------------------------

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


def _scalar(value):
    """A numpy scalar as cPickle writes one: numpy.core.multiarray.scalar(dtype, raw bytes)."""
    return b"cnumpy.core.multiarray\nscalar\n" + _tuple([_dtype(value.dtype), _str(value.tobytes())]) + b"R"


def py2_pickle(obj):
    """``obj`` (nested tuples of numpy arrays) pickled as Python 2's cPickle.dump(obj, f, 2) writes it."""
    def enc(o):
        if isinstance(o, tuple):
            return _tuple([enc(x) for x in o])
        return _array(np.ascontiguousarray(o))
    return b"\x80\x02" + enc(obj) + b"."


# -- expand_mnist.py's mnist_expanded.pkl.gz ---------------------------------------------

def mnist_like_bytes(rng, n):
    """``(n, 784)`` uint8 images shaped roughly like MNIST's for size and compression: about 80% blank
    pixels, the rest 1-255."""
    images = rng.integers(1, 256, (n, PIXELS), dtype=np.uint8)
    images[rng.random((n, PIXELS)) < 0.8] = 0
    return images


def _training_chunks(n_train, seed, chunk):
    rng = np.random.default_rng(seed)
    for start in range(0, n_train, chunk):
        images = mnist_like_bytes(rng, min(chunk, n_train - start))
        yield images, rng.integers(0, 10, len(images)).astype(np.int64)


# Protocol 0, as Python 2's cPickle.dump(obj, f) writes it without a protocol (expand_mnist.py's call): text
# opcodes, each str as STRING with its repr's escapes (about four characters per byte of a float32 image)

def _str0(b):
    return b"S'" + codecs.escape_encode(b)[0] + b"'\n"


def _dtype0(dt):
    state = b"(I3\n" + _str0(b"<") + b"NNNI-1\nI-1\nI0\nt"
    return b"cnumpy\ndtype\n(" + _str0(dt.str[1:].encode()) + b"I0\nI1\ntR" + state + b"b"


def _array0(a):
    new = b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\nt" + _str0(b"b") + b"tR"
    shape = b"(" + b"".join(b"I%d\n" % d for d in a.shape) + b"t"
    return new + b"(I1\n" + shape + _dtype0(a.dtype) + b"I00\n" + _str0(a.tobytes()) + b"tb"


def _scalar0(value):
    return b"cnumpy.core.multiarray\nscalar\n(" + _dtype0(value.dtype) + _str0(value.tobytes()) + b"tR"


# what each protocol writes: start, (start a list, append a batch of items), a pair, the arrays and scalars
_OPCODES = {
    2: dict(start=b"\x80\x02(", new_list=b"]", batch=lambda items: b"(" + b"".join(items) + b"e",
            pair=lambda a, b: a + b + b"\x86", array=_array, scalar=_scalar),
    0: dict(start=b"(", new_list=b"(l", batch=lambda items: b"".join(item + b"a" for item in items),
            pair=lambda a, b: b"(" + a + b + b"t", array=_array0, scalar=_scalar0),
}


def write_expanded_pickle(path, n_train, *, n_validation=1000, n_test=1000, seed=0, chunk=5000, level=1,
                          protocol=2):
    """Write expand_mnist.py's ``mnist_expanded.pkl.gz`` layout at ``path``, ``chunk`` images at a time.

    expand_mnist.py pickles ``([list of (784,) float32 images, list of numpy int64 labels], validation,
    test)`` (its ``zip(*pairs)``), validation and test as mnist.pkl.gz's ``(X float32 (n, 784), y int64
    (n,))`` pairs; written here as Python 2's cPickle writes ``protocol`` 2 (lists batched as MARK ...
    APPENDS) or 0 (what expand_mnist.py itself wrote: about 3.5x the bytes). Returns the ``Digits`` nnfast
    must read from it (training + validation as ``train_*``).
    """
    op = _OPCODES[protocol]
    train_images, train_labels = [], []
    with gzip.open(path, "wb", compresslevel=level) as f:
        f.write(op["start"] + op["new_list"])  # the outer tuple's MARK; training, a list of two lists
        f.write((b"(" if protocol == 2 else b"") + op["new_list"])  # its images (protocol 2: after a MARK)
        for images, labels in _training_chunks(n_train, seed, chunk):
            train_images.append(images)
            train_labels.append(labels)
            f.write(op["batch"]([op["array"](row) for row in images.astype(np.float32) / 256]))
        labels_list = op["new_list"] + b"".join(op["batch"]([op["scalar"](v) for v in labels])
                                                for labels in train_labels)
        # the images' list and the labels' list into training (protocol 2: APPENDS from the MARK before the
        # images' list; protocol 0: APPEND each)
        f.write(b"a" + labels_list + b"a" if protocol == 0 else labels_list + b"e")
        rng = np.random.default_rng(seed + 1)
        small = []
        for n in (n_validation, n_test):
            images, labels = mnist_like_bytes(rng, n), rng.integers(0, 10, n).astype(np.int64)
            small.append((images, labels))
            f.write(op["pair"](op["array"](images.astype(np.float32) / 256), op["array"](labels)))
        f.write(b"t.")  # TUPLE of the three from the MARK, STOP
    (va_x, va_y), (te_x, te_y) = small
    return Digits(np.concatenate(train_images + [va_x]), np.concatenate(train_labels + [va_y]).astype(np.uint8),
                  te_x, te_y.astype(np.uint8))


# -- the reader before issue 28, as the yardstick ----------------------------------------

def whole_file_book_pickle(data, where):
    """Digits from the book's pickle ``data`` (its bytes, gzipped or not) as nnfast read it up to issue 28:
    the whole file decompressed, unpickled, each set stacked and converted at once (about 6 GB at the peak
    for mnist_expanded.pkl.gz)."""
    obj = loads_numpy_pickle(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    try:
        (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = obj
    except (TypeError, ValueError):
        raise DataError(f"{where}: expected the book's (training, validation, test) pairs") from None

    def to_bytes(x, part):
        x = np.asarray(x)
        if x.dtype.kind != "f" or x.ndim != 2 or x.shape[1] != PIXELS:
            raise DataError(f"{where}: {part} images have shape {x.shape} and dtype {x.dtype}; expected (n, 784) floats")
        scaled = x.astype(np.float64) * 256  # the book's pixels are byte / 256, exactly
        as_bytes = np.rint(scaled)
        if not np.array_equal(scaled, as_bytes) or as_bytes.min() < 0 or as_bytes.max() > 255:
            raise DataError(f"{where}: {part} pixels are not the book's byte / 256 values")
        return as_bytes.astype(np.uint8)

    def to_labels(y, part):
        y = np.asarray(y)
        if y.dtype.kind not in "iu" or y.ndim != 1:
            raise DataError(f"{where}: {part} labels have dtype {y.dtype} and shape {y.shape}; expected (n,) ints")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataError(f"{where}: {part} labels outside 0-9")
        return y.astype(np.uint8)

    train_x = np.concatenate([to_bytes(tr_x, "training"), to_bytes(va_x, "validation")])
    train_y = np.concatenate([to_labels(tr_y, "training"), to_labels(va_y, "validation")])
    return check_digits(Digits(train_x, train_y, to_bytes(te_x, "test"), to_labels(te_y, "test")), where)
