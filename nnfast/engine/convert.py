"""Turn the book's lists of column vectors into one contiguous matrix, once.

The book hands the network lists of ``(x, y)`` pairs where ``x`` is a
``(784, 1)`` column. nnfast's kernels want samples as rows of one C-contiguous
``(N, 784)`` matrix plus the row number of each sample. ``nnfast.mnist_loader``
builds its columns as views into such a matrix, so for its lists (shuffled or
not) the rows are found by pointer arithmetic and the data is not copied at
all; any other list (columns the user built) is stacked in one vectorised copy.

A learner's own large list is stacked once and found again on later calls while every column
holds what it held (``nnfast.engine.column_memo``).
"""

import hashlib
import itertools
import numbers
import operator
import weakref

import numpy as np

from . import column_memo, pair_walk
from .content_memo import is_private, private, remembered

# id(matrix) -> {id(view): (weakref to the view, its row)} for the views ``row_views`` made of that
# matrix; the table goes with the matrix. A view is only ever taken for its row while it is alive
# (the weakref still gives that very object), so a reused id can never give a wrong row.
_row_tables = {}


def row_views(X):
    """``(width, 1)`` views of the rows of the C-contiguous matrix ``X (n, width)`` (or of a block of
    rows of one), remembered so that ``stack_columns`` finds their rows in a dictionary instead of
    by pointer arithmetic (50,000 columns: about 10 ms instead of 80)."""
    views = [row.reshape(-1, 1) for row in X]
    base = X if X.base is None else X.base
    if not views or not (isinstance(base, np.ndarray) and base.ndim == 2 and base.flags.c_contiguous):
        return views
    first = (X.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // base.strides[0]
    table = _row_tables.get(id(base))
    if table is None:
        table = _row_tables[id(base)] = {}
        weakref.finalize(base, _row_tables.pop, id(base), None)
    for row, view in enumerate(views, start=first):
        table[id(view)] = (weakref.ref(view), row)
    return views


def _remembered_rows(columns, base):
    """Rows of ``columns`` in ``base`` from ``row_views``' table, or None when any column is not one of its views."""
    table = _row_tables.get(id(base))
    if table is None:
        return None
    rows = np.empty(len(columns), dtype=np.int64)
    get = table.get
    for i, c in enumerate(columns):
        hit = get(id(c))
        if hit is None or hit[0]() is not c:
            return None
        rows[i] = hit[1]
    return rows


def _shared_base_rows(columns, width):
    """Row indices of ``columns`` in the 2-D array they are all views of, or None.

    Each column must be a whole row of one C-contiguous float matrix
    ``(n_rows, width)``, reshaped to ``(width, 1)`` or ``(width,)``.
    """
    first = columns[0]
    base = getattr(first, "base", None)
    if not (isinstance(base, np.ndarray) and base.ndim == 2 and base.shape[1] == width
            and base.dtype.kind == "f" and base.flags.c_contiguous):
        return None
    rows = _remembered_rows(columns, base)
    if rows is not None:
        return base, rows
    start = base.__array_interface__["data"][0]
    row_bytes = base.strides[0]
    item = base.itemsize
    col_shape, flat_shape = (width, 1), (width,)
    offsets = np.empty(len(columns), dtype=np.int64)
    for i, c in enumerate(columns):
        if (getattr(c, "base", None) is not base or (c.shape != col_shape and c.shape != flat_shape)
                or c.strides[0] != item):
            return None
        offsets[i] = c.__array_interface__["data"][0]
    offsets -= start
    rows, rem = np.divmod(offsets, row_bytes)
    if rem.any() or rows.min() < 0 or rows.max() >= base.shape[0]:
        return None
    return base, rows


_SHAPE, _DTYPE = operator.attrgetter("shape"), operator.attrgetter("dtype")
_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)


def stack_columns(columns, width, what):
    """``(matrix, rows)``: column ``i`` is ``matrix[rows[i]]``; ``matrix`` is C-contiguous ``(N, width)``.

    ``columns`` is a sequence of arrays of shape ``(width, 1)`` or ``(width,)``.
    Views of one matrix (the loader's lists, shuffled or not) give that matrix
    and their row numbers, with no copy of the data; a large list of the
    learner's own arrays is stacked once (its rows in the order of the arrays'
    addresses) and found again while every column holds what it held
    (``column_memo``); anything else is stacked into a new matrix with
    ``rows = arange(n)``. float32 stays float32 (half
    the memory of MNIST in float64); other input becomes float64 (kept as
    float32 where that is exact). Raises ValueError naming ``what`` and the
    first offending index on a wrong shape.
    """
    n = len(columns)
    if n == 0:
        return np.empty((0, width), dtype=np.float64), np.empty(0, dtype=np.int64)
    found = _shared_base_rows(columns, width)
    if found is not None:
        return found
    memo = n * width * 4 >= column_memo.MEMO_MIN_BYTES  # 4: a float32 list of this size is remembered too
    if memo:
        found = column_memo.remembered(column_memo.ids_of(columns), width)
        if found is not None:
            return found[:2]
    own = set(map(type, columns)) == {np.ndarray}
    arrays = columns if own else [np.asarray(c) for c in columns]
    if not set(map(_SHAPE, arrays)) <= {(width, 1), (width,)}:
        for i, a in enumerate(arrays):
            if a.shape != (width, 1) and a.shape != (width,):
                raise ValueError(f"{what} {i} has shape {a.shape}; expected ({width}, 1)")
    dtype = np.dtype(np.float32 if set(map(_DTYPE, arrays)) == {np.dtype(np.float32)} else np.float64)
    if memo and own:
        return column_memo.remember(arrays, width, dtype)
    return column_memo.stacked(arrays, width, dtype), np.arange(n, dtype=np.int64)


def _split_pairs(data, what):
    """``(xs, ys)``: the first and second items of the ``(x, y)`` pairs of ``data``, in two C-level passes."""
    try:
        if set(map(type, data)) <= {tuple, list} and set(map(len, data)) == {2}:
            return list(map(_FIRST, data)), list(map(_SECOND, data))  # zip(*data) took twice as long
    except TypeError:  # an item without a length: named below
        pass
    for i, item in enumerate(data):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TypeError(f"{what} item {i} is {type(item).__name__}; expected an (x, y) pair")
    return [x for x, _ in data], [y for _, y in data]


def training_matrices(training_data, n_in, n_out):
    """``(X, x_rows, Y, y_rows)`` from the book's list of ``(x (n_in, 1), y (n_out, 1))``:
    sample ``i`` is input ``X[x_rows[i]]`` with target ``Y[y_rows[i]]``."""
    found = _remembered_pairs(training_data, n_in, n_out)
    if found is not None:
        return found
    xs, ys = _split_pairs(training_data, "training_data")
    X, x_rows = stack_columns(xs, n_in, "training input")
    Y, y_rows = stack_columns(ys, n_out, "training target")
    return X, x_rows, Y, y_rows


def _remembered_pairs(data, n_in, n_out):
    """``training_matrices``' answer when a large list's inputs (and targets, if large too) are all remembered
    (``column_memo``), found from the pairs' items' ids without building lists of them; else None."""
    n = len(data)
    if n * n_in * 4 < column_memo.MEMO_MIN_BYTES or not column_memo._stacks:
        return None
    targets_too = n * n_out * 4 >= column_memo.MEMO_MIN_BYTES
    found = pair_walk.remembered_pairs(data, n_in, n_out, targets_too)  # the same answer, compiled, or None
    if found is not None:
        if not targets_too:  # small targets are stacked afresh (every item is a pair of two: checked there)
            found = (*found[:2], *stack_columns(list(map(_SECOND, data)), n_out, "training target"))
        return found
    try:
        # Which arrays the pairs hold: x0, y0, x1, y1, ... in one pass over the pairs in the order they lie
        # in memory. A list SGD shuffled holds its pairs in any order, and each pair and its two arrays lie
        # anywhere: read in the list's order, 50,000 pairs took 19 ms of cache misses; the pairs' own ids
        # (read in the list's order, the pairs only) sort them in 3 ms, and a loader makes each pair just
        # after its arrays, so in that order the arrays are read nearly in order too (10 ms in all).
        walk = np.argsort(np.fromiter(map(id, data), dtype=np.int64, count=n), kind="stable")
        pairs = list(map(data.__getitem__, walk.tolist()))
        if set(map(len, pairs)) != {2}:  # 1 ms in this order; items of other lengths are named by the general path
            return None
        ids = np.fromiter(map(id, itertools.chain.from_iterable(pairs)), dtype=np.int64, count=2 * n)
    except TypeError:  # an item that is not a sequence: the general path names it
        return None
    found = column_memo.remembered(ids[0::2], n_in)
    if found is None:
        return None
    x_rows = np.empty(n, dtype=np.int64)
    x_rows[walk] = found[1]
    if n * n_out * 4 >= column_memo.MEMO_MIN_BYTES:
        # a loader makes each pair's input and target together: their addresses likely ascend alike
        targets = column_memo.remembered(ids[1::2], n_out, order=found[2])
        if targets is None:
            return None
        y_rows = np.empty(n, dtype=np.int64)
        y_rows[walk] = targets[1]
        targets = (targets[0], y_rows)
    else:  # small targets are stacked afresh (every item is a pair: checked above)
        targets = stack_columns(list(map(_SECOND, data)), n_out, "training target")
    return found[0], x_rows, *targets


def _private_rows(X, rows):
    out = X[rows]
    private(out)  # as unchanging as X: what is prepared from it is kept too
    return out


def test_matrices(test_data, n_in, n_out):
    """(X (n, n_in), labels (n,) int64) from the book's list of (x (n_in, 1), int label).

    A label may also be a one-hot column (the book's training format), read as its argmax.
    """
    n = len(test_data)
    found = None
    if n * n_in * 4 >= column_memo.MEMO_MIN_BYTES and column_memo._stacks:
        found = pair_walk.remembered_pairs(test_data, n_in, n_out, False)  # a learner's own list, checked compiled
    if found is not None:
        X, rows = found[:2]
        ys = list(map(_SECOND, test_data))  # every item a pair: pair_walk read each
    else:
        xs, ys = _split_pairs(test_data, "test_data")
        X, rows = stack_columns(xs, n_in, "test input")
    if rows.shape[0] != X.shape[0] or np.any(rows != np.arange(len(rows))):
        # the rows in the list's order; for a remembered stack (nnfast's own, unchanging) made once
        X = (remembered(X, ("rows", hashlib.blake2b(rows.tobytes(), digest_size=16).digest()), lambda X: _private_rows(X, rows))
             if is_private(X) else X[rows])
    if set(map(type, ys)) == {int}:  # the book's labels: one C-level pass (a loop took 3-4 ms for 10,000)
        return X, np.fromiter(ys, dtype=np.int64, count=n)
    labels = np.empty(n, dtype=np.int64)
    for i, y in enumerate(ys):
        if isinstance(y, numbers.Integral):
            labels[i] = y
            continue
        y = np.asarray(y)
        if y.size == 1 and y.dtype.kind in "iu":
            labels[i] = y.item()
        elif y.size == n_out:
            labels[i] = int(np.argmax(y))
        else:
            raise ValueError(f"test label {i} is {y!r}; expected an int class label 0..{n_out - 1}")
    return X, labels
