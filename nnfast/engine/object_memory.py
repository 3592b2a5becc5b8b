"""Where CPython keeps a list's items, a pair's two items and an ndarray's header fields, checked on live objects.

A learner's list of 50,000 ``(x, y)`` pairs is checked at every ``SGD`` call (``nnfast.engine.pair_walk``). In
Python each of its 150,000 objects costs a few passes of interpreter work (its id, its weak reference, its
dtype, its shape, its buffer): about 35 ms of CPU a call, more than half of the check. A compiled kernel reads
the same facts from the objects' memory instead, under the GIL, so nothing can change or free them meanwhile.

It reads only fields whose places are fixed by CPython's and numpy's C structures (``PyObject``,
``PyVarObject``, ``PyTupleObject``, ``PyListObject``, numpy's ``PyArrayObject_fields``), and only where they are
found where the standard 64-bit layout puts them on objects made here, whose values Python states
(``id(type(o))``, ``len``, ``id(t[0])``, ``a.ctypes.data``, ``a.ndim``, ``a.shape``, ``a.strides``,
``id(a.base)``, ``id(a.dtype)``). Anything else (PyPy, a free-threaded build, a 32-bit build, a layout moved
by a later version) gives None, and the check takes its Python path: slower, never different.
"""

import ctypes
import struct
import sys
import sysconfig

import numpy as np

# the places of the fields read, in this order (``OFFSETS``): what a kernel is given
FIELDS = ("type", "size", "tuple_items", "list_items", "data", "nd", "dims", "strides", "descr")
_STANDARD = dict(type=8, size=16, list_items=24, data=16, nd=24, dims=32, strides=40, base=48, descr=56)
_found = []


def offsets():
    """``(len(FIELDS),)`` int64: the byte offset of each field of ``FIELDS`` in its object, or None where this
    interpreter's objects are not laid out as they were checked to be."""
    if not _found:
        try:
            _found.append(_measured())
        except Exception:  # a probe that does not read as expected: take no chances
            _found.append(None)
    return _found[0]


def _words(obj, size):
    """The first ``size`` bytes of ``obj``'s own memory (within its basic size) as int64 words."""
    return np.frombuffer(ctypes.string_at(id(obj), size), dtype=np.int64)


def _word_at(address):
    return ctypes.c_int64.from_address(address).value


def _measured():
    if (sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED")
            or struct.calcsize("P") != 8 or sys.byteorder != "little"):
        return None
    s = _STANDARD
    # PyObject's type and PyVarObject's size, on tuples and lists of two lengths
    first, second = object(), object()
    for probe in ((first, second), (first, second, first, second, first), [first, second], [first] * 5):
        words = _words(probe, 24)
        if words[s["type"] // 8] != id(type(probe)) or words[s["size"] // 8] != len(probe):
            return None
    # a tuple's items follow its header (their place has moved between versions: found, not assumed)
    pair = (first, second)
    words = _words(pair, type(pair).__basicsize__ + 2 * 8)
    at = [k for k in range(len(words) - 1) if words[k] == id(first) and words[k + 1] == id(second)]
    if len(at) != 1:
        return None
    tuple_items = 8 * at[0]
    # a list's items: the pointer after its size
    held = [first, second]
    items = _word_at(id(held) + s["list_items"])
    if items == 0 or _word_at(items) != id(first) or _word_at(items + 8) != id(second):
        return None
    # numpy's array header: a view (so that base is set) with two dimensions and unequal strides
    owner = np.arange(12.0).reshape(3, 4)
    view = owner[:, 1:3]
    words = _words(view, 64)
    nd = int(np.frombuffer(words[s["nd"] // 8].tobytes()[:4], dtype=np.int32)[0])
    if (words[s["type"] // 8] != id(np.ndarray) or words[s["data"] // 8] != view.ctypes.data or nd != view.ndim
            or words[s["base"] // 8] != id(view.base) or words[s["descr"] // 8] != id(view.dtype)):
        return None
    dims, strides = int(words[s["dims"] // 8]), int(words[s["strides"] // 8])
    if (_word_at(dims), _word_at(dims + 8)) != view.shape or (_word_at(strides), _word_at(strides + 8)) != view.strides:
        return None
    # the dtype objects of the learner's columns are numpy's own: the kernel compares these addresses
    column = np.ones((4, 1), dtype=np.float32)
    if column.dtype is not np.dtype(np.float32) or (column / 2.0).astype(np.float64).dtype is not np.dtype(np.float64):
        return None
    place = dict(s, tuple_items=tuple_items)
    return np.array([place[f] for f in FIELDS], dtype=np.int64)
