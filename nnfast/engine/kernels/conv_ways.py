"""Each way a conv layer can run, forward and backward, as a kernel of its own; only the ways a net takes get compiled.

``conv_stack.forward_part`` and ``backward_part`` hold every way a layer may run (the first layer's own kernels,
``conv_first``; register tiles, ``conv_tile`` and ``conv_grad_tile``; patch rows with numba's ``np.dot`` and
``conv``'s pooling), chosen at run time: numba compiles every branch, so the book's nets, which take only the first
two, paid for the third too, and each linked callee was optimised again in them (6-7 s of CPU each, float32, cold).
Here each way is a kernel of its own, called by address (``kernels.by_address``) from ``conv_stack.forward_layers``
and ``backward_layers``, which choose the way at run time by the very same tests (``forward_way``,
``backward_way``) and read the kernel's address from the layer's row of a bound geometry (``bind``): the columns
after the nine of ``conv_stack`` hold the addresses of the ways ``bind`` compiled for it, 0 for the others. ``bind``
compiles the ways the tests give for parts of 1 to ``m`` samples in these workspaces; a way asked for at run time
that was not bound raises (never a silent other way). The book's nets compile ``FIRST`` and ``TILE``; a learner's
layer that takes ``GENERIC`` compiles it at its first compiled call (``bind``).

The kernels take one layer's arrays (not the tuples): one compile serves nets of any number of conv layers. Only
kernels call them: no wrapper for Python is built (``jit.helper``).
"""

import numpy as np
from numba import types

from . import by_address, conv_grad_tile
from .activation import _sigmoid_inplace, _tanh_inplace
from .conv import SIGMOID, TANH, im2col, pool_backward_filters, pool_forward, pool_input_gradient
from .conv_first import backward_first, forward_first, fused_first
from .conv_tile import MIN_TAPS, conv_pool_forward
from .jit import helper, kernel

FIRST, TILE, GENERIC = range(3)  # the ways a layer runs
NAMES = ("first", "tile", "generic")
GEOMETRY = 9  # conv_stack's columns: C, H, W, F, fh, fw, ph, pw, act
FORWARD_AT, BACKWARD_AT = GEOMETRY, GEOMETRY + 3  # each way's address, forward then backward: FORWARD_AT + way
BOUND = GEOMETRY + 6  # a bound geometry's columns


@kernel(inline="always")
def forward_way(k, C, H, W, F, fh, fw, ph, pw, m, cols_size, Z_size):
    """The way ``conv_stack.forward_part`` takes layer ``k`` for a part of ``m`` samples whose patch rows and maps
    workspaces hold ``cols_size`` and ``Z_size`` values."""
    if fused_first(k, C, H, W, F, fh, fw, ph, pw, m, cols_size, Z_size):  # no patches, no maps
        return FIRST
    if (ph * pw) % 4 == 0 and fh * fw * C >= MIN_TAPS:  # the book's second layer: tiles, no maps
        return TILE
    return GENERIC


@kernel(inline="always")
def backward_way(k, C, H, W, F, fh, fw, ph, pw, m, cols_size, Z_size, like):
    """The way ``conv_stack.backward_part`` takes layer ``k`` (``like``: an array of the net's dtype)."""
    if fused_first(k, C, H, W, F, fh, fw, ph, pw, m, cols_size, Z_size):
        return FIRST
    if conv_grad_tile.fits(like, fh * fw * C):  # long patches (the book's second layer): register tiles
        return TILE
    return GENERIC


def _fits(dtype, n_k):
    """``conv_grad_tile.fits`` in Python (its blocks are constants of the machine code there)."""
    size = np.dtype(dtype).itemsize
    return n_k >= conv_grad_tile.FILTER_BYTES // size and n_k >= conv_grad_tile.INPUT_BYTES // size


@kernel(inline="always")
def _activate(o, act):
    if act == SIGMOID:
        _sigmoid_inplace(o)
    elif act == TANH:
        _tanh_inplace(o)


@kernel(inline="always")
def _row(geometry, k):
    g = geometry[k]
    return g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8]


# forward: layer k of part p, input a (m, H*W*C): out[p, :m] and arg[p, :m] written, as forward_part's branches do

@helper
def forward_first_way(a, geometry, k, K, b, cols, Z, out, arg, p):
    m = a.shape[0]
    C, H, W, F, fh, fw, ph, pw, act = _row(geometry, k)
    Hz, Wz = H - fh + 1, W - fw + 1
    o = out[p, :m]
    shape = (m, Hz // ph, Wz // pw, F)
    forward_first(a, H, W, fh, fw, ph, pw, K, b, act, o.reshape(shape), arg[p, :m].reshape(shape),
                  cols[p].reshape(-1), Z[p].reshape(-1))
    _activate(o, act)


@helper
def forward_tile_way(a, geometry, k, K, b, cols, Z, out, arg, p):
    m = a.shape[0]
    C, H, W, F, fh, fw, ph, pw, act = _row(geometry, k)
    Hz, Wz = H - fh + 1, W - fw + 1
    c, o = cols[p, :m * Hz * Wz], out[p, :m]
    shape = (m, Hz // ph, Wz // pw, F)
    im2col(a.reshape((m, H, W, C)), fh, fw, c)
    conv_pool_forward(c, K, Hz, Wz, ph, pw, b, act, o.reshape(shape), arg[p, :m].reshape(shape))
    _activate(o, act)


@helper
def forward_generic_way(a, geometry, k, K, b, cols, Z, out, arg, p):
    m = a.shape[0]
    C, H, W, F, fh, fw, ph, pw, act = _row(geometry, k)
    Hz, Wz = H - fh + 1, W - fw + 1
    rows = m * Hz * Wz
    c, z, o = cols[p, :rows], Z[p, :rows], out[p, :m]
    shape = (m, Hz // ph, Wz // pw, F)
    im2col(a.reshape((m, H, W, C)), fh, fw, c)
    np.dot(c, K.T, z)
    pool_forward(z, Hz, Wz, ph, pw, b, act, o.reshape(shape), arg[p, :m].reshape(shape))
    _activate(o, act)


# backward: from g (m, Hp*Wp*F), the gradient at layer k's output: dK[p], db[p], and for k > 0 dX[p, :m], the
# gradient at its input, as backward_part's branches do

@helper
def backward_first_way(g, geometry, k, K, cols, Z, out, arg, dX, dK, db, win_g, win_rows, p):
    m = g.shape[0]
    C, H, W, F, fh, fw, ph, pw, act = _row(geometry, k)
    shape = (m, (H - fh + 1) // ph, (W - fw + 1) // pw, F)
    backward_first(g.reshape(shape), out[p, :m].reshape(shape), act, arg[p, :m].reshape(shape), cols[p].reshape(-1),
                   H, W, fh, fw, ph, pw, dK[p], db[p], Z[p].reshape(-1))


@helper
def backward_tile_way(g, geometry, k, K, cols, Z, out, arg, dX, dK, db, win_g, win_rows, p):
    m = g.shape[0]
    C, H, W, F, fh, fw, ph, pw, act = _row(geometry, k)
    Hz, Wz = H - fh + 1, W - fw + 1
    rows = m * Hz * Wz
    c, z = cols[p, :rows], Z[p, :rows]
    shape = (m, Hz // ph, Wz // pw, F)
    conv_grad_tile.pool_backward_filters(g.reshape(shape), out[p, :m].reshape(shape), act,
                                         arg[p, :m].reshape(shape), Hz, Wz, c, dK[p], db[p], win_g[p], win_rows[p],
                                         k > 0, z)
    if k > 0:
        conv_grad_tile.pool_input_gradient(z, K, fh, fw, dX[p, :m].reshape((m, H, W, C)))


@helper
def backward_generic_way(g, geometry, k, K, cols, Z, out, arg, dX, dK, db, win_g, win_rows, p):
    m = g.shape[0]
    C, H, W, F, fh, fw, ph, pw, act = _row(geometry, k)
    Hz, Wz = H - fh + 1, W - fw + 1
    rows = m * Hz * Wz
    c, z = cols[p, :rows], Z[p, :rows]
    shape = (m, Hz // ph, Wz // pw, F)
    pool_backward_filters(g.reshape(shape), out[p, :m].reshape(shape), act, arg[p, :m].reshape(shape), Hz, Wz, c,
                          dK[p], db[p], win_g[p], win_rows[p], k > 0, z)
    if k > 0:
        pool_input_gradient(z, K, fh, fw, dX[p, :m].reshape((m, H, W, C)))


FORWARD = (forward_first_way, forward_tile_way, forward_generic_way)
BACKWARD = (backward_first_way, backward_tile_way, backward_generic_way)


def signatures(dtype):
    """``(forward, backward)``: the argument types of every forward way and of every backward way in ``dtype``
    (numpy's or numba's, or its name)."""
    name = str(dtype) if isinstance(dtype, types.Type) else np.dtype(dtype).name
    F = {"float32": types.float32, "float64": types.float64}[name]
    A = {d: types.Array(F, d, "C") for d in (1, 2, 3)}
    I2, I3, i = types.Array(types.int64, 2, "C"), types.Array(types.int64, 3, "C"), types.int64
    return ((A[2], I2, i, A[2], A[1], A[3], A[3], A[3], I3, i),
            (A[2], I2, i, A[2], A[3], A[3], A[3], I3, A[3], A[3], A[2], A[3], I3, i))


def _types(which):
    def expected(args):  # the first argument's dtype is the net's
        return signatures(args[0].dtype)[which]
    return expected


forward_way_at = by_address.caller(types.none, _types(0), "a conv layer's forward way")
backward_way_at = by_address.caller(types.none, _types(1), "a conv layer's backward way")


def ways(geometry, dtype, m):
    """``(forward, backward)``: the sets of ways (``FIRST``...) the layers of ``geometry`` (``conv_stack``'s nine
    columns) take, each layer's own, for parts of 1 to ``m`` samples in workspaces made for ``m``
    (``conv_parts.CompiledConvs._workspace``): the tests of ``forward_way`` and ``backward_way``, in Python."""
    forward, backward = [], []
    for k, row in enumerate(np.asarray(geometry)[:, :GEOMETRY].tolist()):
        C, H, W, F, fh, fw, ph, pw, act = row
        rows = m * (H - fh + 1) * (W - fw + 1)
        cols_size, Z_size = rows * C * fh * fw, rows * F
        first = {n: fused_first.py_func(k, C, H, W, F, fh, fw, ph, pw, n, cols_size, Z_size) for n in range(1, m + 1)}
        forward.append({FIRST if first[n] else TILE if (ph * pw) % 4 == 0 and fh * fw * C >= MIN_TAPS else GENERIC
                        for n in first})
        backward.append({FIRST if first[n] else TILE if _fits(dtype, fh * fw * C) else GENERIC for n in first})
    return forward, backward


def bind(geometry, dtype, m):
    """``geometry`` (nine columns) with each layer's ways' addresses after them (``BOUND`` columns): those ``ways``
    gives compiled here or loaded from numba's cache, 0 for the others."""
    forward, backward = ways(geometry, dtype, m)
    bound = np.zeros((len(geometry), BOUND), dtype=np.int64)
    bound[:, :GEOMETRY] = np.asarray(geometry)[:, :GEOMETRY]
    forward_sig, backward_sig = signatures(dtype)
    for k in range(len(geometry)):
        for way in forward[k]:
            bound[k, FORWARD_AT + way] = _address(FORWARD[way], forward_sig)
        for way in backward[k]:
            bound[k, BACKWARD_AT + way] = _address(BACKWARD[way], backward_sig)
    return bound


def _address(kernel, signature):
    key = (kernel, tuple(signature))
    if key not in _ADDRESSES:
        _ADDRESSES[key] = by_address.address(kernel, signature)
    return _ADDRESSES[key]


_ADDRESSES = {}


def book_kernels(dtype):
    """``[(kernel, argument types)]``: the ways the book's conv layers take (``FIRST``, ``TILE``), forward and
    backward, for a compile helper (``parallel_kernels``); ``GENERIC`` compiles where a net takes it (``bind``)."""
    forward_sig, backward_sig = signatures(dtype)
    return [(FORWARD[w], forward_sig) for w in (FIRST, TILE)] + [(BACKWARD[w], backward_sig) for w in (FIRST, TILE)]
