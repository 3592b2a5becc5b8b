"""The book's ``mnist.pkl.gz`` and ``mnist_expanded.pkl.gz``, read in little more memory than unpickling needs.

Both are pickles of ``(training, validation, test)`` pairs of float32 ``byte / 256`` images and int64 labels:
mnist.pkl.gz one ``(n, 784)`` array per set, expand_mnist.py's mnist_expanded.pkl.gz its 250,000 training
images as a list of ``(784,)`` arrays (0.8 GB unpickled). The pickle is unpickled as a stream from the file
(restricted to numpy arrays, ``safe_pickle``) and converted to ``Digits`` a thousand images at a time.
"""

import codecs
import gzip
import io
import os
import pickletools
import sys
import zlib

import numpy as np

from .digits import PIXELS, DataError, Digits, available_memory, check_digits
from .safe_pickle import UnsafePickleError, load_numpy_pickle

# The most an unpickled stream may decompress to, a bound for gzip bombs: expand_mnist.py's own file, written by
# Python 2's cPickle at its default protocol 0 (escaped text), is about 3 GB; a Python 3 port's about 0.85 GB.
# Streamed, the bytes cost no memory: what the arrays built from them take is checked apart (below).
MAX_BOOK_PICKLE = 4 * 1024 ** 3
_available_memory = available_memory  # the name the check below uses (tests replace it)

# Peak memory of reading the book's pickle and making the float32 sets from it (network3.load_data_shared,
# mnist_loader.load_data), above what the process held before. Measured (benchmarks/memory.py, VmHWM) for
# expand_mnist.py's layout, a list of (784,) arrays: 1.25-1.27 per byte of the arrays' payloads at 250,000
# images (protocols 2 and 4), a little more at 30,000 (the constant); for one (n, 784) array per set
# (mnist.pkl.gz's layout) up to 1.98 per byte of the stream: the unpickler's string and numpy's copy of it,
# which a plain pickle.load needs too.
SMALL_ARRAYS_PEAK = 1.3
# expand_mnist.py's own file (Python 2's protocol 0: each image a line of escaped text, parsed through
# temporaries that leave malloc's heap in pieces) measured 1.45 per byte of the arrays at 250,000 images
TEXT_ARRAYS_PEAK = 1.55
WHOLE_ARRAYS_PEAK = 2.0
PEAK_CONSTANT = 32 * 1024 ** 2
# images converted at a time: float64 temporaries of 6.4 MB, under glibc's mmap threshold, so that they reuse
# the heap the converted images freed (4096 rows: 26 MB, mapped afresh, +70 MB at the peak for 40,000 images)
CHUNK_ROWS = 1024


class _BoundedStream(io.RawIOBase):
    """A binary stream that stops, with a DataError kept for the caller, past ``limit`` bytes or on damaged
    gzip data: the unpickler swallows what its stream raises, so the reader asks ``failure`` afterwards."""

    def __init__(self, stream, limit, where):
        self._stream, self._limit, self._where = stream, limit, where
        self._count = 0
        self.failure = None

    def readable(self):
        return True

    def readinto(self, buffer):
        try:
            n = self._stream.readinto(buffer)
        except (OSError, EOFError, zlib.error) as exc:
            self.failure = DataError(f"{self._where}: damaged gzip data ({exc})")
            raise self.failure from None
        self._count += n
        if self._count > self._limit:
            self.failure = DataError(f"{self._where}: decompresses to more than {self._limit >> 20} MB; not MNIST")
            raise self.failure
        return n


def _stated_size(f, gzipped):
    """The bytes ``f`` unpickles from: gzip's ISIZE (the size mod 2**32), or the file's own size."""
    size = os.fstat(f.fileno()).st_size
    if not gzipped:
        return size
    if size < 18:
        return 0
    f.seek(-4, os.SEEK_END)
    stated = int.from_bytes(f.read(4), "little")
    f.seek(0)
    return stated


def _payloads(prefix):
    """``(lengths, consumed)``: the lengths of the string and bytes payloads in the complete opcodes of
    ``prefix``, and how many bytes of it those opcodes take."""
    lengths, consumed = [], 0
    if prefix[:1] == b"\x80":  # protocol 2 and later: binary opcodes
        try:
            for _, arg, consumed in pickletools.genops(prefix):
                if isinstance(arg, (bytes, str)):
                    lengths.append(len(arg))
        except Exception:  # the prefix ends inside an opcode (or is no pickle: its reader will say so)
            pass
        return lengths, consumed
    # protocols 0 and 1 as Python 2 wrote them: a str is a line S'...' of escapes (pickletools refuses
    # those that are not ASCII), a Python 3 bytes object a unicode line V...
    lines = prefix.split(b"\n")[:-1]
    for line in lines:
        try:
            if line[:1] == b"S" and len(line) > 2 and line[1:2] == line[-1:] and line[1:2] in (b"'", b'"'):
                lengths.append(len(codecs.escape_decode(line[2:-1])[0]))
            elif line[:1] == b"V":
                lengths.append(len(line[1:].decode("raw_unicode_escape")))
        except (ValueError, UnicodeDecodeError):
            pass
    return lengths, sum(len(line) + 1 for line in lines)


def _peak_factor(prefix):
    """The peak per unpickled byte for a pickle that starts with ``prefix``: for a run of image-sized arrays
    (mnist_expanded.pkl.gz's list), SMALL_ARRAYS_PEAK (TEXT_ARRAYS_PEAK in protocols 0 and 1) per byte of
    their payloads, scaled by the payloads' share of the stream (0.96 in protocol 2, 0.26 in protocol 0's
    escaped text); else WHOLE_ARRAYS_PEAK."""
    lengths, consumed = _payloads(prefix)
    if any(n > 1 << 16 for n in lengths):
        return WHOLE_ARRAYS_PEAK
    images = [n for n in lengths if n >= PIXELS]
    if len(images) < 8 or not consumed:
        return WHOLE_ARRAYS_PEAK
    per_byte = SMALL_ARRAYS_PEAK if prefix[:1] == b"\x80" else TEXT_ARRAYS_PEAK
    return per_byte * min(1.0, sum(images) / consumed)


def _open_unpickled(f):
    """``(stream, stated size)`` of the pickle in the open file ``f``: gzip's or the file's own."""
    gzipped = f.read(2) == b"\x1f\x8b"
    stated = _stated_size(f, gzipped)
    f.seek(0)
    return (gzip.GzipFile(fileobj=f) if gzipped else f), stated


def unpickled_size(path):
    """The bytes the pickle at ``path`` unpickles from (gzip's stated size, mod 2**32)."""
    with open(path, "rb") as f:
        return _open_unpickled(f)[1]


def estimated_peak(path):
    """Bytes of memory reading the book's pickle at ``path`` into float32 sets is expected to need at the
    peak (what the check before reading compares with the free memory)."""
    with open(path, "rb") as f:
        stream, stated = _open_unpickled(f)
        return stated * _peak_factor(io.BufferedReader(stream, 1 << 20).peek(1 << 20)) + PEAK_CONSTANT


def _check_book_pickle_memory(where, stated, factor):
    free = _available_memory()
    need = stated * factor + PEAK_CONSTANT
    if free is not None and need > free:
        raise DataError(f"{where}: reading it needs about {need / 1e9:.1f} GB of memory "
                        f"({stated / 1e9:.1f} GB unpickled); {free / 1e9:.1f} GB is free")


def read_book_pickle(path):
    """Digits from the book's ``mnist.pkl.gz`` or ``mnist_expanded.pkl.gz`` (gzipped or not), or None when
    the file is not a pickle.

    The pickle is unpickled as a stream (its bytes are never held whole) and converted a thousand
    images at a time, each image's floats dropped once converted: the peak stays near what unpickling alone
    needs. A size whose peak would not fit in the free memory is refused before anything is read.
    """
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        return _read_book_stream(*_open_unpickled(f), path)


def parse_book_pickle(data, where):
    """``read_book_pickle`` for the file's bytes (gzipped or not) in memory; a DataError if not a pickle."""
    gzipped = data[:2] == b"\x1f\x8b"
    stated = int.from_bytes(data[-4:], "little") if gzipped and len(data) >= 18 else len(data)
    stream = io.BytesIO(data)
    digits = _read_book_stream(gzip.GzipFile(fileobj=stream) if gzipped else stream, stated, where)
    if digits is None:
        raise DataError(f"{where}: not a pickle")
    return digits


def _read_book_stream(stream, stated, where):
    bounded = _BoundedStream(stream, MAX_BOOK_PICKLE, where)
    reader = io.BufferedReader(bounded, 1 << 20)
    try:
        prefix = reader.peek(1 << 20)
    except DataError:
        raise bounded.failure from None
    if prefix[:1] not in (b"\x80", b"("):  # PROTO (protocol 2 and later) or MARK (protocols 0 and 1)
        return None
    _check_book_pickle_memory(where, stated, _peak_factor(prefix))  # before more than the first megabyte
    try:
        # straight into mutable lists, so that nothing but the converter holds the unpickled arrays
        parts = _book_parts(load_numpy_pickle(reader), where)
    except UnsafePickleError:
        raise
    except ValueError as exc:
        if bounded.failure is not None:
            raise bounded.failure from None
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{where}: {exc}") from None
    return _book_digits(parts, where)


def _book_parts(obj, where):
    """``[[X, y], [X, y], [X, y]]``: the three pairs as lists the converter may empty as it goes."""
    try:
        pairs = [list(pair) for pair in obj]
        if len(pairs) != 3 or any(len(pair) != 2 for pair in pairs):
            raise ValueError
    except (TypeError, ValueError):
        raise DataError(f"{where}: expected the book's (training, validation, test) pairs") from None
    return pairs


def _image_rows(x, where, part):
    """``(n, chunks)``: the number of images in ``x`` and an iterator of float64 blocks of at most CHUNK_ROWS
    rows, each the next images of ``x``. A list of (784,) float arrays (mnist_expanded.pkl.gz's layout) is
    emptied as it is read, so each image's memory is freed once converted."""
    if (isinstance(x, list) and x and all(type(row) is np.ndarray and row.shape == (PIXELS,)
                                           and row.dtype.kind == "f" for row in x)):
        def from_list():
            while x:
                block = np.array(x[:CHUNK_ROWS], dtype=np.float64)  # the values np.asarray(x) would hold
                del x[:CHUNK_ROWS]
                yield block
        return len(x), from_list()
    x = np.asarray(x)
    if x.dtype.kind != "f" or x.ndim != 2 or x.shape[1] != PIXELS:
        raise DataError(f"{where}: {part} images have shape {x.shape} and dtype {x.dtype}; expected (n, 784) floats")
    return len(x), (x[i:i + CHUNK_ROWS].astype(np.float64) for i in range(0, len(x), CHUNK_ROWS))


def _bytes_into(out, rows, where, part):
    """Write the byte values of the float blocks ``rows`` into ``out`` (uint8 (n, 784)); the book's pixels are
    ``byte / 256`` exactly, and anything else is refused."""
    start = 0
    for scaled in rows:
        scaled *= 256
        as_bytes = np.rint(scaled)
        if not np.array_equal(scaled, as_bytes) or as_bytes.min() < 0 or as_bytes.max() > 255:
            raise DataError(f"{where}: {part} pixels are not the book's byte / 256 values")
        out[start:start + len(as_bytes)] = as_bytes
        start += len(as_bytes)


def _return_freed_memory():
    """Hand the heap's freed pages back to the system (glibc's malloc_trim; elsewhere nothing).

    mnist_expanded.pkl.gz unpickles into 250,000 small arrays that malloc keeps in its heap once freed, so
    without this the 0.8 GB of float32 sets made next (in fresh pages) would come on top of them: measured
    1.87 GB at the peak against 1.06 GB with it, for 0.03 s.
    """
    if not sys.platform.startswith("linux"):
        return  # macOS and Windows have no malloc_trim
    import ctypes  # deferred: only the book's pickles need it
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # a Linux without glibc (musl)
        pass


def _labels(y, where, part):
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.ndim != 1:
        raise DataError(f"{where}: {part} labels have dtype {y.dtype} and shape {y.shape}; expected (n,) ints")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{where}: {part} labels outside 0-9")
    return y.astype(np.uint8)


def _book_digits(parts, where):
    """Digits from ``_book_parts``' lists, converted in blocks into preallocated uint8 arrays; each set's
    floats are let go as soon as they are converted (``parts`` ends empty)."""
    names = ("training", "validation", "test")
    labels = [_labels(pair[1], where, name) for pair, name in zip(parts, names)]
    counts, blocks = [], []
    for pair, name in zip(parts, names):
        n, rows = _image_rows(pair[0], where, name)
        counts.append(n)
        blocks.append(rows)
    del pair, rows
    parts.clear()  # from here each set's block iterator holds the only reference to its floats
    train = np.empty((counts[0] + counts[1], PIXELS), np.uint8)
    test = np.empty((counts[2], PIXELS), np.uint8)
    outs = (train[:counts[0]], train[counts[0]:], test)
    for k in range(3):
        _bytes_into(outs[k], blocks[k], where, names[k])
        blocks[k] = None  # drop this set's floats (a whole (n, 784) array) before converting the next set
    _return_freed_memory()
    return check_digits(Digits(train, np.concatenate(labels[:2]), test, labels[2]), where)
