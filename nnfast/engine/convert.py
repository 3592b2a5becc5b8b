"""Turn the book's lists of column vectors into one contiguous matrix, once.

The book hands the network lists of ``(x, y)`` pairs where ``x`` is a
``(784, 1)`` column. nnfast's kernels want samples as rows of one C-contiguous
``(N, 784)`` matrix plus the row number of each sample. ``nnfast.mnist_loader``
builds its columns as views into such a matrix, so for its lists (shuffled or
not) the rows are found by pointer arithmetic and the data is not copied at
all; any other list (columns the user built) is stacked in one vectorised copy.

A learner's own large list is stacked once and remembered (``_Stack``): a later call on the same
list, a slice of it, the list as ``SGD`` left it shuffled, or a new list of the same arrays finds
each column's row by its identity, and the remembered matrix is used only after every column is
read again and its bytes' digest matches the digest taken when it was stacked. So a column changed
in place is always seen: one changed word changes its row's digest (``content_memo.row_hashes``,
a linear form with odd weights modulo 2**64; a change escapes only if the changed words' differences
times their weights sum to a multiple of 2**64, the same guarantee as ``content_memo.fingerprint``),
and any changed column makes the whole list stacked afresh. Reading and digesting 50,000 MNIST
columns costs about 50 ms; stacking them and preparing the matrix again (``input_layout``) cost
0.5-0.8 s per call.
"""

import numbers
import operator
import weakref

import numpy as np

from .content_memo import private, row_hashes

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


MEMO_MIN_BYTES = 1 << 20  # a learner's columns are remembered from this size on (MNIST's 50,000: 157-314 MB)
MEMO_STACKS = 4  # the most recent stacks kept: a training set, its targets, a test and a validation set
HASH_COLUMNS = 256  # columns read back at a time when checking a remembered stack (the block stays in cache) ...
HASH_BYTES = 1 << 20  # ... or as many more as fit in this (one-hot targets: 13,000 a block, not 256)


class _Stack:
    """A learner's columns stacked once: ``matrix`` row ``rows[k]`` holds the column whose id is ``ids[k]``
    (sorted) and which ``refs[k]`` (a weak reference) still gives while it lives; float32 when every value
    is exact in float32 (half the memory, the same numbers). ``hashes``: each row's digest in ``dtype``,
    taken from what the columns held when stacked."""

    __slots__ = ("matrix", "hashes", "dtype", "ids", "rows", "refs", "__weakref__")


_stacks = []  # the most recent last
_SHAPE, _DTYPE = operator.attrgetter("shape"), operator.attrgetter("dtype")
_call = operator.methodcaller("__call__")
_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)


def stack_columns(columns, width, what):
    """``(matrix, rows)``: column ``i`` is ``matrix[rows[i]]``; ``matrix`` is C-contiguous ``(N, width)``.

    ``columns`` is a sequence of arrays of shape ``(width, 1)`` or ``(width,)``.
    Views of one matrix (the loader's lists, shuffled or not) give that matrix
    and their row numbers, with no copy of the data; a large list of the
    learner's own arrays is stacked once and found again while every column
    holds what it held (see the module's note); anything else is stacked
    into a new matrix with ``rows = arange(n)``. float32 stays float32 (half
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
    memo = n * width * 4 >= MEMO_MIN_BYTES  # 4: a float32 list of this size is remembered too
    if memo:
        found = _remembered_stack(columns, width)
        if found is not None:
            return found
    own = set(map(type, columns)) == {np.ndarray}
    arrays = columns if own else [np.asarray(c) for c in columns]
    if not set(map(_SHAPE, arrays)) <= {(width, 1), (width,)}:
        for i, a in enumerate(arrays):
            if a.shape != (width, 1) and a.shape != (width,):
                raise ValueError(f"{what} {i} has shape {a.shape}; expected ({width}, 1)")
    dtype = np.dtype(np.float32 if set(map(_DTYPE, arrays)) == {np.dtype(np.float32)} else np.float64)
    X = _stacked(arrays, width, dtype)
    if memo and own:
        return _remember(arrays, X, dtype)
    return X, np.arange(n, dtype=np.int64)


def _stacked(arrays, width, dtype):
    """The values of ``arrays`` (each ``width`` numbers) as the rows of a new C-contiguous
    ``(len(arrays), width)`` matrix of ``dtype``, or None when their sizes do not add up. One vectorised
    copy: ``(width, 1)`` columns laid end to end along their first axis are the rows, so no per-column
    Python work (a loop of row assignments took 0.29 s for 50,000 float64 columns, this 0.04 s)."""
    try:
        flat = np.concatenate(arrays, dtype=dtype, casting="unsafe")
    except ValueError:  # (width, 1) and (width,) mixed
        flat = np.concatenate([np.reshape(a, (1, -1)) for a in arrays], dtype=dtype, casting="unsafe")
    if flat.size != len(arrays) * width:
        return None
    return flat.reshape(len(arrays), width)


def _remember(arrays, X, dtype):
    """Remember ``X``, the stack of ``arrays`` just made; ``(matrix, rows)`` to use for them."""
    entry = _Stack()
    entry.hashes, entry.dtype = row_hashes(X), dtype
    if dtype == np.float64:
        X = _narrowed(X)
    entry.matrix = X
    private(X)  # nothing writes it: what is prepared from it (input_layout) is kept without fingerprinting
    ids = np.fromiter(map(id, arrays), dtype=np.int64, count=len(arrays))
    by_address = np.argsort(ids, kind="stable")
    entry.ids, entry.rows = ids[by_address], by_address
    entry.refs = list(map(weakref.ref, map(arrays.__getitem__, by_address.tolist())))
    _stacks.append(entry)
    del _stacks[:-MEMO_STACKS]
    weakref.finalize(arrays[0], _forget, weakref.ref(entry))  # the learner dropped the list: drop its copy
    return X, np.arange(len(arrays), dtype=np.int64)


def _narrowed(X):
    """``X`` in float32 when every value is exact there (byte / 256, or values a float32 source gave): the same
    numbers for the kernels, half the memory kept; else ``X``. Checked block by block (no full-size temporary)."""
    narrow = np.empty(X.shape, dtype=np.float32)
    for start in range(0, len(X), 4096):
        part = narrow[start:start + 4096]
        part[:] = X[start:start + 4096]
        if not np.array_equal(part, X[start:start + 4096]):
            return X
    return narrow


def _forget(entry_ref):
    entry = entry_ref()
    if entry is not None and entry in _stacks:
        _stacks.remove(entry)


def _remembered_stack(columns, width):
    """``(matrix, rows)`` of a remembered stack holding every one of ``columns`` as it holds them now, or None.

    The columns are visited in the order of their addresses, not the list's: a list ``SGD`` shuffled
    visited in its own order cost three times as much (every column's header, weak reference and
    numbers a cache miss)."""
    ids = np.fromiter(map(id, columns), dtype=np.int64, count=len(columns))
    by_address = np.argsort(ids, kind="stable")
    ids = ids[by_address]
    for entry in reversed(_stacks):
        at = np.searchsorted(entry.ids, ids)
        np.minimum(at, len(entry.ids) - 1, out=at)
        if not np.array_equal(entry.ids[at], ids):
            continue  # not all of them stacked in this entry (ids compared first: no object is touched)
        ordered = list(map(columns.__getitem__, by_address.tolist()))
        if not all(map(operator.is_, map(_call, map(entry.refs.__getitem__, at.tolist())), ordered)):
            return None  # an id now names another array: the one stacked then is gone
        stored = entry.rows[at]
        step = max(HASH_COLUMNS, HASH_BYTES // (width * entry.dtype.itemsize))
        for start in range(0, len(ordered), step):
            block = _stacked(ordered[start:start + step], width, entry.dtype)
            if block is None or not np.array_equal(row_hashes(block), entry.hashes[stored[start:start + step]]):
                _stacks.remove(entry)  # a column changed in place (or was reshaped): stack them all afresh
                return None
        rows = np.empty(len(columns), dtype=np.int64)
        rows[by_address] = stored
        return entry.matrix, rows
    return None


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
    xs, ys = _split_pairs(training_data, "training_data")
    X, x_rows = stack_columns(xs, n_in, "training input")
    Y, y_rows = stack_columns(ys, n_out, "training target")
    return X, x_rows, Y, y_rows


def test_matrices(test_data, n_in, n_out):
    """(X (n, n_in), labels (n,) int64) from the book's list of (x (n_in, 1), int label).

    A label may also be a one-hot column (the book's training format), read as its argmax.
    """
    xs, _ = _split_pairs(test_data, "test_data")
    X, rows = stack_columns(xs, n_in, "test input")
    if rows.shape[0] != X.shape[0] or np.any(rows != np.arange(len(rows))):
        X = X[rows]
    labels = np.empty(len(test_data), dtype=np.int64)
    for i, (_, y) in enumerate(test_data):
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
