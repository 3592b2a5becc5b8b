"""Where a training set's rows are nonzero, and a column order that gathers the nonzeros at one end.

MNIST's digits leave 81% of the pixels zero. The kernels skip, for each block
of four samples, the columns at either end where all four are zero
(``kernels.forward._columns``): those products are exactly zero, so the sums are the
same up to rounding order. In the book's pixel order a block still spans 77% of
the row (a digit's top and bottom rows are blank, its left and right columns are
not). Reordering the columns by how often each pixel is nonzero, most often
first, and ordering each batch's samples by where they end brings that to 57%
(mini-batch 10) and 53% (mini-batch 100) on MNIST, which is the share of the
first layer's multiply-adds left to do.

The column order is a function of the set of rows trained on, never of how they are stored: each
column's exact count of nonzero rows among them (ties kept in the book's pixel order). So the same
pixels give the same order, hence the same sums bit for bit, whether they come as nnfast's loader's
views of its 60,000-row matrix, a learner's own list of columns (stacked afresh, in any order), or a
slice of either (issue 28.7: counting a sample of the stored matrix's rows gave the loader's list and
a learner's list with identical pixels different rounding, and different accuracies at eta 3).

The reordered copy costs memory. When every input is a whole number of 256ths
in [0, 1), as the book's MNIST pixels (byte / 256) are, it holds the bytes, a
quarter of the float32 matrix (MNIST's 50,000: 39 MB), which the kernels scale
back exactly; otherwise it is a float copy. Copies over ``MAX_COPY_BYTES`` are not
made: the rows keep their order and only their ends are skipped. The network never
sees the order: ``DenseNet._inputs_order`` puts the first layer's weight columns in
it during each epoch and back after.
"""

import hashlib
import weakref

import numpy as np

from .content_memo import remembered

MAX_DENSITY = 0.5  # skip zeros only when at most this share of the inputs is nonzero (MNIST: 19%)
MAX_COPY_BYTES = 512 * 2**20  # the largest reordered copy made (MNIST's 50,000 images: 39 MB of bytes)
MIN_ROWS = 64  # smaller sets train too quickly for the layout to pay
CHUNK = 4096  # rows per step: no full-size temporaries beside the copy


class InputLayout:
    """``lo``/``hi`` (N,) int64: row r of the inputs is zero outside columns lo[r]..hi[r]-1 (both 0
    for an all-zero row); ``perm`` (n_in,) int64: column k of the inputs is the network's input
    perm[k]; ``scale``: the inputs are the stored values times this (1/256 for bytes). Empty arrays
    mean dense rows in the network's order."""

    def __init__(self, lo, hi, perm, scale=1.0):
        self.lo, self.hi, self.perm, self.scale = lo, hi, perm, scale


_EMPTY = np.empty(0, dtype=np.int64)
DENSE_INPUTS = InputLayout(_EMPTY, _EMPTY, _EMPTY)

_kept = {}  # id(X) -> (weakref to X, inputs, layout): matrices a process promises not to change (keep)


def prepared_inputs(X, rows=None):
    """``(inputs, layout)`` for training on, or evaluating every epoch, the rows of ``X (N, n_in)``: X
    itself and ``DENSE_INPUTS`` when its rows are dense or few; else X's columns reordered, most often
    nonzero first (as bytes when they are whole 256ths), or X itself when that copy would be too large,
    and where each row is nonzero. ``rows`` (int64, any order, repeats allowed): the rows the column
    order is chosen for (those trained on); None for all of X's.

    Made once per content of X and set of rows (``nnfast.engine.content_memo``: a matrix changed in
    place between two training calls is seen as it is now) or, for a matrix passed to ``keep``, once."""
    hit = _kept.get(id(X))
    if hit is not None and hit[0]() is X:
        return hit[1], hit[2]
    rows = _distinct_set(X, rows)
    key = None if rows is None else hashlib.blake2b(rows.tobytes(), digest_size=16).digest()
    return remembered(X, ("input layout", key), lambda X: _prepare(X, rows))


def _distinct_set(X, rows):
    """``rows`` sorted (a set is what the order depends on), or None when they are all of X's rows once each."""
    if rows is None:
        return None
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    if len(rows) == X.shape[0] and (not len(rows) or (rows[0] == 0 and rows[-1] == len(rows) - 1
                                                       and np.all(np.diff(rows) == 1))):
        return None
    return rows


def keep(X):
    """Prepare ``X`` once for the life of the process (a sweep's training and validation matrices,
    which every trial reads and none changes); the copy goes when X goes."""
    if id(X) in _kept and _kept[id(X)][0]() is X:
        return
    inputs, layout = _prepare(X)
    _kept[id(X)] = (weakref.ref(X), inputs, layout)
    weakref.finalize(X, _kept.pop, id(X), None)


def nonzero_counts(X, rows=None):
    """``(n_in,)`` int64: in how many of ``rows`` (sorted, repeats counted; None: all of X's) each column is
    nonzero. Exact, so it does not depend on the rows' order or on what else X holds."""
    n = X.shape[0] if rows is None else len(rows)
    counts = np.zeros(X.shape[1], dtype=np.int64)
    for start in range(0, n, CHUNK):
        block = X[start:start + CHUNK] if rows is None else X[rows[start:start + CHUNK]]
        counts += np.count_nonzero(block, axis=0)
    return counts


def _prepare(X, rows=None):
    n, n_in = X.shape
    used = n if rows is None else len(rows)
    if used < MIN_ROWS or n_in == 0:
        return X, DENSE_INPUTS
    book = None
    if rows is not None:
        # a set of some of X's rows, often one of many (slices of a list SGD reshuffles, a new set each call): X's
        # bytes in the book's column order and every column's count are made once per content of X; each set is
        # counted on the bytes (a quarter of the floats' reading) and only reorders them (a 4/5 slice of 50,000 own
        # columns: 200 -> 100 ms of CPU)
        book, all_counts = remembered(X, "byte codes", _book_codes_and_counts)
    if book is None:
        counts = nonzero_counts(X, rows)
    elif len(rows) > n // 2 and (len(rows) < 2 or bool(np.all(rows[1:] != rows[:-1]))):
        # most of X's rows, each once: all of them less the others, exactly (a 4/5 slice: 15 -> 4 ms)
        others = np.ones(n, dtype=np.bool_)
        others[rows] = False
        counts = all_counts - nonzero_counts(book, np.flatnonzero(others))
    else:
        counts = nonzero_counts(book, rows)  # a code is 0 exactly where its value is 0 (or -0)
    if counts.sum() > MAX_DENSITY * used * n_in:
        return X, DENSE_INPUTS
    perm = np.argsort(-counts, kind="stable").astype(np.int64)
    scale = 1.0
    codes = _book_codes(X) if rows is None else book
    if codes is not None:
        # the columns reordered on the bytes, a quarter of the floats (MNIST's 50,000: 106 -> ~50 ms in all)
        X, scale = np.take(codes, perm, axis=1), 1 / 256
    elif X.nbytes <= MAX_COPY_BYTES:
        X = np.take(X, perm, axis=1)  # C-contiguous; 13x quicker than X[:, perm] on MNIST
    else:
        perm = _EMPTY
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    for start in range(0, n, CHUNK):
        nonzero = X[start:start + CHUNK] != 0
        some = nonzero.any(axis=1)
        lo[start:start + CHUNK] = np.where(some, np.argmax(nonzero, axis=1), 0)
        hi[start:start + CHUNK] = np.where(some, n_in - np.argmax(nonzero[:, ::-1], axis=1), 0)
    return X, InputLayout(lo, hi, perm, scale)


def _book_codes_and_counts(X):
    """``(_book_codes(X), nonzero_counts of all its rows)``, or ``(None, None)``."""
    codes = _book_codes(X)
    return (None, None) if codes is None else (codes, nonzero_counts(codes))


def _book_codes(X):
    """X as bytes (X * 256, in X's own column order) when every value is a whole number of 256ths in [0, 1),
    else None; None too when even that copy would exceed MAX_COPY_BYTES."""
    n, n_in = X.shape
    if X.dtype.kind != "f" or n * n_in > MAX_COPY_BYTES:
        return None
    codes = np.empty((n, n_in), dtype=np.uint8)
    scaled = np.empty((min(n, CHUNK), n_in), dtype=X.dtype)
    for start in range(0, n, CHUNK):
        block = X[start:start + CHUNK]
        block = np.multiply(block, 256, out=scaled[:len(block)])  # exact: a power of two
        part = codes[start:start + CHUNK]
        with np.errstate(invalid="ignore"):  # an out-of-range value may warn as it is cast: it is refused below
            part[:] = block  # bytes: a fraction, a negative or a value over 255 does not come back equal
        if not np.array_equal(part, block):
            return None
    return codes
