"""A learner's remembered list checked in compiled code: its pairs' items read from their objects' memory.

``nnfast.engine.pair_walk`` calls these with the field offsets ``nnfast.engine.object_memory`` checked on live
objects. They run holding the GIL (``nogil=False``): no Python code runs meanwhile, so the list, its pairs and
their arrays can neither change nor be freed while their memory is read. Each object's type is compared with
the expected type before any field of that type is read. No fastmath: a NaN must compare unequal.
"""

import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.extending import intrinsic

from .jit import helper, kernel

_GOLDEN = 0x9E3779B97F4A7C15
_OPTIONS = dict(nogil=False, fastmath=False)

# the offsets' places in the ``layout`` array (``object_memory.FIELDS``)
TYPE, SIZE, TUPLE_ITEMS, LIST_ITEMS, DATA, ND, DIMS, STRIDES, DESCR = range(9)


def _load(nb_type, ir_type):
    @intrinsic
    def load(typingctx, address):
        def codegen(context, builder, sig, args):
            return builder.load(builder.inttoptr(args[0], ir_type.as_pointer()))
        return nb_type(types.int64), codegen
    return load


def _pointer(nb_type, ir_type):
    @intrinsic
    def pointer(typingctx, address):
        def codegen(context, builder, sig, args):
            return builder.inttoptr(args[0], ir_type.as_pointer())
        return types.CPointer(nb_type)(types.int64), codegen
    return pointer


_word = _load(types.int64, ir.IntType(64))
_int = _load(types.int32, ir.IntType(32))
_floats32 = _pointer(types.float32, ir.FloatType())
_floats64 = _pointer(types.float64, ir.DoubleType())


@helper
def _slot(key, mask):
    """Where ``key`` (an object's address) starts its probe in a table of ``mask + 1`` slots."""
    return np.int64((np.uint64(key) * np.uint64(_GOLDEN)) >> np.uint64(32)) & mask


@kernel(**_OPTIONS)
def build_table(ids, keys, rows):
    """Fill the open-addressing table ``keys``/``rows`` (a power of two slots, more than ``len(ids)``, keys 0)
    so that the slot holding ``ids[k]`` holds ``k``; ``ids`` distinct and nonzero."""
    mask = len(keys) - 1
    for k in range(len(ids)):
        h = _slot(ids[k], mask)
        while keys[h] != 0:
            h = (h + 1) & mask
        keys[h] = ids[k]
        rows[h] = k


@helper
def _pair_items(list_address, i, layout, tuple_type, list_type):
    """The address of the first of the two items of the list's ``i``-th pair, or 0 where that item is not exactly
    a tuple or a list of two."""
    pair = _word(_word(list_address + layout[LIST_ITEMS]) + 8 * i)
    kind = _word(pair + layout[TYPE])
    if (kind != tuple_type and kind != list_type) or _word(pair + layout[SIZE]) != 2:
        return 0
    return pair + layout[TUPLE_ITEMS] if kind == tuple_type else _word(pair + layout[LIST_ITEMS])


@kernel(**_OPTIONS)
def pair_ids(list_address, n, layout, tuple_type, list_type, xids, yids):
    """The addresses of the two items of each of the ``n`` pairs of the list at ``list_address`` into ``xids``
    and ``yids``; -1, or the index of the first item that is not exactly a tuple or a list of two (or 0 when
    the list does not hold ``n`` items)."""
    if _word(list_address + layout[SIZE]) != n:
        return 0
    for i in range(n):
        at = _pair_items(list_address, i, layout, tuple_type, list_type)
        if at == 0:
            return i
        xids[i] = _word(at)
        yids[i] = _word(at + 8)
    return -1


@helper
def _still_held(list_address, layout, tuple_type, list_type, ids, which):
    """Whether the list at ``list_address`` still holds ``len(ids)`` pairs whose item ``which`` (0 or 1) is the
    object ``ids`` names at its place. Python code runs between two kernel calls (a gc pass, a ``__del__``, a
    weak reference's callback, another thread) and may drop pairs; while the list, held by the caller, holds
    them, every object ``ids`` names is alive for as long as this kernel holds the GIL."""
    n = len(ids)
    if _word(list_address + layout[SIZE]) != n:
        return False
    for i in range(n):
        at = _pair_items(list_address, i, layout, tuple_type, list_type)
        if at == 0 or _word(at + 8 * which) != ids[i]:
            return False
    return True


@helper
def _equal(column, row, width):
    """Whether the two hold equal numbers (all compared, no early exit: the loop vectorises)."""
    differ = 0
    for j in range(width):
        differ += column[j] != row[j]
    return differ == 0


@kernel(**_OPTIONS)
def rows_unchanged(list_address, tuple_type, list_type, which, ids, layout, array_type, descr, itemsize, keys,
                   key_rows, stacked_ids, matrix, rows, seen):
    """-3 unless the list at ``list_address`` still holds, at each place, a pair whose item ``which`` is the
    object ``ids`` names (``_still_held``: only then are those objects alive to be read). Then, whether each object ``ids`` names is a stacked array (``stacked_ids``, ascending; the table
    ``keys``/``key_rows`` finds one's row) that is still a contiguous ``(width, 1)`` or ``(width,)`` ndarray of
    the dtype ``descr`` (``itemsize`` bytes) holding exactly the numbers of its row of ``matrix``. Sets
    ``rows[i]``, the row of ``ids[i]``, and ``seen`` (False on entry) for the rows used. -1 when all hold; -2
    when an id is not among ``stacked_ids``; else the first row found otherwise. The arrays are read in the order of their addresses (the matrix's
    rows in order): read in a shuffled list's order, twice the time in cache misses."""
    if not _still_held(list_address, layout, tuple_type, list_type, ids, which):
        return -3
    mask = len(keys) - 1
    for i in range(len(ids)):
        a = ids[i]
        h = _slot(a, mask)
        while keys[h] != a:
            if keys[h] == 0:
                return -2  # not stacked
            h = (h + 1) & mask
        rows[i] = key_rows[h]
        seen[key_rows[h]] = True
    width = matrix.shape[1]
    for k in range(len(stacked_ids)):
        if not seen[k]:
            continue
        a = stacked_ids[k]
        if _word(a + layout[TYPE]) != array_type or _word(a + layout[DESCR]) != descr:
            return k
        nd = _int(a + layout[ND])
        dims = _word(a + layout[DIMS])
        if not (nd == 1 or (nd == 2 and _word(dims + 8) == 1)) or _word(dims) != width:
            return k
        if _word(_word(a + layout[STRIDES])) != itemsize:
            return k  # a strided view: the Python path compares its numbers
        data = _word(a + layout[DATA])
        if data % itemsize != 0:
            return k  # not aligned: the Python path
        if itemsize == 4:
            same = _equal(carray(_floats32(data), (width,)), matrix[k], width)
        else:
            same = _equal(carray(_floats64(data), (width,)), matrix[k], width)
        if not same:
            return k
    return -1
