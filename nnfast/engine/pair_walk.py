"""A learner's remembered list found again, and every number of it read again, in one compiled pass.

``nnfast.engine.column_memo`` promises that a list is trained from its remembered stack only while every
column holds exactly what its row holds. Its Python check spent most of its time on interpreter work per
object (ids, weak references, dtypes, shapes, buffers of 50,000 pairs and 100,000 arrays: about 35 ms of CPU
a call, the reading and comparing of the numbers 17-30 ms). Here the same facts are read from the objects'
memory in compiled code (``kernels.own_pairs``, offsets from ``object_memory``), the numbers compared in
vectorised loops, the arrays in the order of their addresses.

What makes an id enough: each stacked array's weak reference counts its death (``column_memo.Deaths``); while
no stacked array has died, an object of the list whose id is a stacked id is that very array (ids are unique
among live objects). Once one has died, the weak references of the rows the list uses are asked too. Then each one is checked as the Python path checks it: exactly an ndarray, of the dtype
stacked (numpy's own dtype object: a byteswapped dtype is another), shaped ``(width, 1)`` or ``(width,)``,
contiguous, every number equal to its row's (a NaN never is). Anything else (a stacked array died, an item
that is not exactly a tuple or list of two, a strided or subclassed array, a changed number, an interpreter
whose objects are laid out otherwise) answers None, and the Python path decides: restacks, or finds it
unchanged the slow way. The fast path never answers what the Python path would not.
"""

import itertools
import operator

import numpy as np

from . import column_memo
from .object_memory import offsets

MIN_PAIRS = 256  # below this the Python path is as quick, and no kernel is loaded for it


def remembered_pairs(data, n_in, n_out, targets_too):
    """``(X, x_rows, Y, y_rows)`` for the list ``data`` of ``(x, y)`` pairs whose inputs (and targets, when
    ``targets_too``; else Y and y_rows are None) are all in remembered stacks and hold what they held; None
    where this cannot be said here (see the module's note)."""
    n = len(data)
    if type(data) is not list or n < MIN_PAIRS or not column_memo._stacks:
        return None
    layout = offsets()
    if layout is None:
        return None
    from .kernels import own_pairs
    xids, yids = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    if own_pairs.pair_ids(id(data), n, layout, id(tuple), id(list), xids, yids) != -1:
        return None
    inputs = _found(own_pairs, data, 0, xids, n_in, layout)
    if inputs is None:
        return None
    if not targets_too:
        return (*inputs, None, None)
    targets = _found(own_pairs, data, 1, yids, n_out, layout)
    return None if targets is None else (*inputs, *targets)


def _found(own_pairs, data, which, ids, width, layout):
    """``(matrix, rows)`` of the newest remembered stack of ``width`` columns that holds every array ``ids``
    names (item ``which`` of each pair of ``data``), unchanged; or None."""
    for entry in reversed(column_memo._stacks):
        if entry.matrix.shape[1] != width or entry.dtype not in _ITEMSIZE:
            continue
        if entry.table is None:
            slots = 1 << (2 * len(entry.ids)).bit_length()  # under half full: short probes
            keys, key_rows = np.zeros(slots, dtype=np.int64), np.empty(slots, dtype=np.int64)
            own_pairs.build_table(entry.ids, keys, key_rows)
            entry.table = keys, key_rows
        rows, seen = np.empty(len(ids), dtype=np.int64), np.zeros(len(entry.ids), dtype=np.bool_)
        dtype = entry.dtype
        found = own_pairs.rows_unchanged(id(data), id(tuple), id(list), which, ids, layout, id(np.ndarray), id(dtype),
                                         _ITEMSIZE[dtype], *entry.table, entry.ids, entry.matrix, rows, seen)
        if found == -1:
            if entry.deaths.count and _any_gone(entry.refs, seen):
                return None  # an id stacked then now names a new object (the kernel read only live objects)
            return entry.matrix, rows
        if found != -2:
            return None  # the list or an array of this stack changed, or is not as stacked: the Python path decides
    return None


def _any_gone(refs, seen):
    """Whether the weak reference of a row ``seen`` marks is dead: only asked once a stacked array has died (a
    few ms for 50,000 rows), since while none has, every stacked id names its stacked array."""
    return any(map(operator.is_, map(_call, map(refs.__getitem__, np.flatnonzero(seen).tolist())),
                   itertools.repeat(None)))


_call = operator.methodcaller("__call__")
_ITEMSIZE = {np.dtype(np.float32): 4, np.dtype(np.float64): 8}
