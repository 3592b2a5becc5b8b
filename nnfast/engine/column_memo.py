"""A learner's own columns, stacked once and found again while they hold what they held.

A learner's loader makes a fresh ``(784, 1)`` array per image, and scripts call ``SGD`` on the same
list again and again (one epoch a call, a slice, the list as the last call left it shuffled, a new list
of the same arrays). Stacking 50,000 columns and preparing the matrix again (``input_layout``) cost
0.45-0.7 s of CPU per call, several epochs' worth. So a large list is stacked once, its rows in the
order of the arrays' addresses, and remembered (``Stack``); a later list is looked up by its arrays'
ids (sorted and searched as integers: no object touched) and a weak reference to each array stacked
(a dead one gives None: an id reused by a new array is never taken for the old one).

What is promised, and why a column changed in place cannot be missed: before the remembered matrix is
used, every number of every column is read again, block by block, and compared exactly with its row (any
changed number differs, except 0.0 becoming -0.0, which trains the same; a NaN never equals itself, so a
list holding one is stacked afresh, and refused as training always refused it). No sample and no digest:
the check costs one read of the columns and one of the stack (50,000 MNIST columns, float32: about 20 ms
of CPU, float64: about 30 ms, less than an epoch). Any difference stacks the whole list afresh. Reading the
columns in address order, the rows compared are a slice of the matrix, and the columns' headers and numbers
are read in the order they lie in memory (a list ``SGD`` shuffled, read in its own order, cost three times
as much in cache misses); the one pass in the list's order is the one that reads which arrays it holds.

A list of pairs (``SGD``'s training_data and test_data) is checked first in compiled code (``pair_walk``: the same
facts read from the objects' memory, about 17-28 ms of CPU a call for 50,000 pairs where this check took 56-70);
this Python check decides whatever that one cannot say.
"""

import itertools
import operator
import weakref

import numpy as np

from .content_memo import private

MEMO_MIN_BYTES = 1 << 20  # lists are remembered from this size on (MNIST's 50,000 images: 157-314 MB)
MEMO_STACKS = 4  # the most recent stacks kept: a training set, its targets, a test and a validation set
CHECK_BYTES = 1 << 20  # columns read back at a time when checking a remembered stack (the block stays in cache)

_stacks = []  # the most recent last
_call = operator.methodcaller("__call__")
_DTYPE = operator.attrgetter("dtype")
_SHAPE = operator.attrgetter("shape")


class Stack:
    """A learner's columns stacked once: ``matrix`` row k holds the column whose id is ``ids[k]`` (ascending)
    and which ``refs[k]`` (a weak reference) gives while it lives; float32 when every value is exact in
    float32 (half the memory, the same numbers); ``dtype``: what the columns were stacked as. ``deaths``
    counts the stacked arrays that died since (each reference's callback): while it is 0, an object whose id
    is in ``ids`` is the very array stacked (``nnfast.engine.pair_walk`` relies on it). ``table``: where
    ``pair_walk`` finds an id's row, made on its first look."""

    __slots__ = ("matrix", "dtype", "ids", "refs", "deaths", "table", "__weakref__")


class Deaths:
    """A weak reference's callback that counts the deaths of the objects it was given for."""

    __slots__ = ("count",)

    def __init__(self):
        self.count = 0

    def __call__(self, ref):
        self.count += 1


def stacked(arrays, width, dtype):
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


def ids_of(arrays):
    """``(n,)`` int64: ``id`` of each array, in one C-level pass."""
    return np.fromiter(map(id, arrays), dtype=np.int64, count=len(arrays))


def remember(arrays, width, dtype):
    """Stack ``arrays`` (checked: ndarrays of ``width`` numbers) and remember them; ``(matrix, rows)``,
    array ``i`` in row ``rows[i]``."""
    ids = ids_of(arrays)
    by_address = np.argsort(ids, kind="stable")
    ordered = list(map(arrays.__getitem__, by_address.tolist()))
    entry = Stack()
    entry.matrix = _narrow_stack(ordered, width) if dtype == np.float64 else stacked(ordered, width, dtype)
    entry.deaths, entry.table = Deaths(), None
    entry.dtype, entry.ids = dtype, ids[by_address]
    entry.refs = list(map(weakref.ref, ordered, itertools.repeat(entry.deaths, len(ordered))))
    private(entry.matrix)  # nothing writes it: what is prepared from it (input_layout) is kept without fingerprinting
    _stacks.append(entry)
    del _stacks[:-MEMO_STACKS]
    weakref.finalize(ordered[0], _forget, weakref.ref(entry))  # the learner dropped the list: drop its copy
    rows = np.empty(len(ids), dtype=np.int64)
    rows[by_address] = np.arange(len(ids), dtype=np.int64)
    return entry.matrix, rows


def remembered(ids, width, order=None):
    """``(matrix, rows, order)``: a remembered stack holding every array whose id is in ``ids`` (the columns of
    a list, in its order: ``rows[i]`` holds column ``i``) with the numbers it holds now, and the permutation
    that sorts ``ids``; or None (see the module's note). ``order``: a permutation that likely sorts ``ids``
    (the one returned for a list's inputs, given with its targets, made at the same time): sorting is then
    one pass (numpy's stable sort on sorted input), else 3-7 ms for 50,000 ids."""
    if not _stacks:
        return None
    by_address = np.argsort(ids, kind="stable") if order is None else order[np.argsort(ids[order], kind="stable")]
    ids = ids[by_address]
    for entry in reversed(_stacks):
        if entry.matrix.shape[1] != width:
            continue
        if len(ids) == len(entry.ids) and np.array_equal(ids, entry.ids):
            at, used = None, None  # every array stacked, once each (a list, shuffled or not, or a new list of them)
        else:
            at = np.searchsorted(entry.ids, ids)
            np.minimum(at, len(entry.ids) - 1, out=at)
            if not np.array_equal(entry.ids[at], ids):
                continue  # not all of them stacked in this entry (ids compared first: no object is touched)
            used = at if len(at) < 2 or np.all(at[1:] != at[:-1]) else np.unique(at)
        # every array stacked then whose weak reference still gives it is the very array its id names now
        if not _unchanged(entry, entry.refs if used is None else list(map(entry.refs.__getitem__, used.tolist())),
                          used, width):
            _drop(entry)  # a column changed in place, or one stacked then is gone: stack them all afresh
            return None
        rows = np.empty(len(ids), dtype=np.int64)
        rows[by_address] = np.arange(len(ids), dtype=np.int64) if at is None else at
        return entry.matrix, rows, by_address
    return None


def _unchanged(entry, refs, used, width):
    """Whether each array ``refs`` (weak references) give holds exactly the numbers of its row of the stack:
    row ``k`` for the k-th, or ``used[k]`` (ascending) when given; False when one gives None (gone)."""
    step = max(64, CHECK_BYTES // (width * entry.dtype.itemsize))
    same = np.empty((min(step, len(refs)), width), dtype=np.bool_)
    # float64 columns kept as float32 are compared with their rows made float64 again (exact) in a buffer: the
    # mixed compare casts in small chunks (50,000 MNIST columns: 47 ms against 31 ms, joins included)
    wide = None if entry.matrix.dtype == entry.dtype else np.empty(same.shape, dtype=entry.dtype)
    for start in range(0, len(refs), step):
        # block by block, in the order of the arrays' addresses: each array's header is read twice while in cache
        part = list(map(_call, refs[start:start + step]))
        try:
            dtypes = set(map(_DTYPE, part))
        except AttributeError:  # None: an array stacked then is gone, and its id may name a new one
            return False
        # each array's shape, as a fresh stacking checks it: ``x.shape = (28, 28)`` or ``(1, 784)`` in place keeps
        # its bytes, the book's np.dot then refuses it, and a fresh list is refused (about 3.4 ms of CPU for
        # 50,000 columns)
        if not set(map(_SHAPE, part)) <= {(width, 1), (width,)}:
            return False
        # bytes.join takes numpy's buffers with no per-array Python work (784 float32 columns: 18 ms for 50,000
        # against np.concatenate's 26 ms, compare included); it only reads what each array holds as bytes, so
        # it is taken only when every array has the stacked dtype (a float32 array read as float64 would not
        # be its numbers)
        block = _joined(part, width, entry.dtype) if dtypes == {entry.dtype} else None
        if block is None:
            block = stacked(part, width, entry.dtype)
        if block is None:
            return False
        if used is None:
            rows = entry.matrix[start:start + len(block)]
        else:
            first, last = int(used[start]), int(used[start + len(block) - 1])
            # used ascends, so a block whose rows span exactly its length is consecutive rows: a view, no gather
            rows = entry.matrix[first:last + 1] if last - first == len(block) - 1 else entry.matrix[used[start:start + step]]
        if wide is not None:
            np.copyto(wide[:len(block)], rows)
            rows = wide[:len(block)]
        if not np.equal(block, rows, out=same[:len(block)]).all():  # NaN never equals itself: stacked afresh
            return False
    return True


def _joined(arrays, width, dtype):
    """``stacked`` for columns all of ``dtype``: their bytes joined (``bytes.join`` takes numpy's buffers;
    for 50,000 one-hot targets 5.6 ms against np.concatenate's 16 ms), read back as rows; None when an array
    is not one contiguous buffer or the sizes do not add up."""
    try:
        flat = np.frombuffer(b"".join(arrays), dtype=dtype)
    except (BufferError, TypeError, ValueError):
        return None
    return flat.reshape(len(arrays), width) if flat.size == len(arrays) * width else None


def _narrow_stack(arrays, width):
    """The float64 ``arrays`` stacked in float32 when every value is exact there (byte / 256, or values a float32
    source gave): the same numbers for the kernels, half the memory kept, and no float64 matrix made on the way
    (blocks of 4096 are stacked, checked and narrowed); else stacked in float64."""
    out = np.empty((len(arrays), width), dtype=np.float32)
    for start in range(0, len(arrays), 4096):
        block = stacked(arrays[start:start + 4096], width, np.dtype(np.float64))
        part = out[start:start + 4096]
        part[:] = block
        if not np.array_equal(part, block):
            return stacked(arrays, width, np.dtype(np.float64))
    return out


def _forget(entry_ref):
    entry = entry_ref()
    if entry is not None:
        _drop(entry)


def _drop(entry):
    try:
        _stacks.remove(entry)
    except ValueError:  # another thread (or the finaliser) dropped it first
        pass
