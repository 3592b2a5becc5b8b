"""Chapter 6's leading convolutional layers, forward or backward, for a part of a mini-batch in one call.

The mini-batch is cut into parts of whole samples; each part goes through every layer on its own
thread (numba's ``prange``, one part per thread; the products are numba's ``np.dot``, SciPy's
BLAS on one thread each, or register tiles fused with the pooling where patches are long: ``conv_tile``;
a first layer of one channel has neither patch rows nor maps: ``conv_first``). One compiled call per mini-batch and direction is what lets threads pay
at the book's mini-batch of 10. Measured on 2 cores, the two-conv net's forward pass on 10 images:
one thread 0.94-0.95 ms; two parts on Python threads, with Python between the layers (each thread
waits for the GIL at every call), 0.73-0.82 ms (1.15-1.31x); two parts in one ``prange``,
0.53-0.72 ms (1.32-1.77x).

Layers come as ``geometry (L, 9)`` rows ``C, H, W, F, fh, fw, ph, pw, act`` and tuples of arrays, one
per layer. Every map is channels-last (``kernels.conv``): the first layer's input ``(m, H, W, C)``, each
layer's output ``(m, Hp, Wp, F)``; the caller transposes at the ends. Filters ``Ks[k] (F, fh*fw*C)``,
flipped (a true convolution), columns ``(u, v, c)``. Workspaces have a leading part axis and room for
the largest part: patch rows ``cols`` ``(P, rows, fh*fw*C)``, maps ``Z (P, rows, F)``, pooled outputs
``out`` and the winners ``arg`` ``(P, m, Hp*Wp*F)``; the caller keeps them from forward to backward.

``forward_part``/``backward_part`` hold every way a layer may run, so numba compiles them all; the engine calls
``forward_layers``/``backward_layers`` instead: the same tests choose the way, which runs as a kernel of its own at
the address a bound geometry holds (``conv_ways``), only the ways a net takes compiled.
"""

import numpy as np
from numba import prange, types

from . import by_address, conv_grad_tile, conv_ways
from .activation import _sigmoid_inplace, _tanh_inplace
from .conv import SIGMOID, TANH, im2col, pool_backward_filters, pool_forward, pool_input_gradient
from .conv_first import backward_first, forward_first, fused_first
from .conv_tile import MIN_TAPS, conv_pool_forward
from .jit import kernel


@kernel(inline="always")
def _unpack(geometry, k):
    g = geometry[k]
    return g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8]


@kernel
def forward_part(x, geometry, Ks, bs, cols, Z, out, arg, p):
    """Part ``p``'s samples ``x (m, H*W*C)`` through every layer: ``out[-1][p, :m]`` holds the last output."""
    m = x.shape[0]
    a = x
    for k in range(len(Ks)):
        C, H, W, F, fh, fw, ph, pw, act = _unpack(geometry, k)
        Hz, Wz = H - fh + 1, W - fw + 1
        rows = m * Hz * Wz
        c, z, o = cols[k][p, :rows], Z[k][p, :rows], out[k][p, :m]
        shape = (m, Hz // ph, Wz // pw, F)
        if fused_first(k, C, H, W, F, fh, fw, ph, pw, m, cols[k][p].size, Z[k][p].size):  # no patches, no maps
            forward_first(a, H, W, fh, fw, ph, pw, Ks[k], bs[k], act, o.reshape(shape), arg[k][p, :m].reshape(shape),
                          cols[k][p].reshape(-1), Z[k][p].reshape(-1))
        else:
            im2col(a.reshape((m, H, W, C)), fh, fw, c)
            if (ph * pw) % 4 == 0 and fh * fw * C >= MIN_TAPS:  # the book's second layer: tiles, no maps
                conv_pool_forward(c, Ks[k], Hz, Wz, ph, pw, bs[k], act, o.reshape(shape), arg[k][p, :m].reshape(shape))
            else:
                np.dot(c, Ks[k].T, z)
                pool_forward(z, Hz, Wz, ph, pw, bs[k], act, o.reshape(shape), arg[k][p, :m].reshape(shape))
        if act == SIGMOID:
            _sigmoid_inplace(o)
        elif act == TANH:
            _tanh_inplace(o)
        a = o


@kernel
def backward_part(d, geometry, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows, p):
    """From part ``p``'s ``d (m, Hp*Wp*F)``, the gradient at the last layer's output: each layer's filter
    gradient ``dKs[k][p] (F, fh*fw*C)`` (flipped, as ``Ks``) and bias gradient ``dbs[k][p]``, summed over the
    part's samples, from the pooling winners' patch rows (``conv.pool_backward_filters``; ``win_g``, ``win_rows``
    ``(P, F, m*Hp*Wp)`` its workspaces). ``Z`` is reused for the maps' gradients, ``dX (P, m, H*W*C)`` for the
    inputs' (``conv.pool_input_gradient``: from the winners' rows too). Long patches (the book's second layer)
    take the same two from register tiles (``conv_grad_tile``)."""
    m = d.shape[0]
    g = d
    for k in range(len(Ks) - 1, -1, -1):
        C, H, W, F, fh, fw, ph, pw, act = _unpack(geometry, k)
        Hz, Wz = H - fh + 1, W - fw + 1
        rows = m * Hz * Wz
        c, z = cols[k][p, :rows], Z[k][p, :rows]
        shape = (m, Hz // ph, Wz // pw, F)
        if fused_first(k, C, H, W, F, fh, fw, ph, pw, m, cols[k][p].size, Z[k][p].size):  # the image, kept by forward_part
            backward_first(g.reshape(shape), out[k][p, :m].reshape(shape), act, arg[k][p, :m].reshape(shape),
                           cols[k][p].reshape(-1), H, W, fh, fw, ph, pw, dKs[k][p], dbs[k][p], Z[k][p].reshape(-1))
            continue
        tiles = conv_grad_tile.fits(z, fh * fw * C)  # long patches (the book's second layer): register tiles
        args = (g.reshape(shape), out[k][p, :m].reshape(shape), act, arg[k][p, :m].reshape(shape), Hz, Wz, c,
                dKs[k][p], dbs[k][p], win_g[k][p], win_rows[k][p], k > 0, z)
        if tiles:
            conv_grad_tile.pool_backward_filters(*args)
        else:
            pool_backward_filters(*args)
        if k > 0:
            dx = dX[k][p, :m]
            if tiles:
                conv_grad_tile.pool_input_gradient(z, Ks[k], fh, fw, dx.reshape((m, H, W, C)))
            else:
                pool_input_gradient(z, Ks[k], fh, fw, dx.reshape((m, H, W, C)))
            g = dx


@kernel
def forward_layers(x, geometry, Ks, bs, cols, Z, out, arg, p):
    """``forward_part`` on a bound geometry (``conv_ways.bind``): each layer's way, chosen by the same tests, runs
    at the address its row holds (each way compiled once, and only those a net takes)."""
    m = x.shape[0]
    if geometry.shape[1] < conv_ways.BOUND:
        raise ValueError("forward_layers needs a bound geometry (conv_ways.bind)")
    a = x
    for k in range(len(Ks)):
        C, H, W, F, fh, fw, ph, pw, act = _unpack(geometry, k)
        way = conv_ways.forward_way(k, C, H, W, F, fh, fw, ph, pw, m, cols[k][p].size, Z[k][p].size)
        at = geometry[k, conv_ways.FORWARD_AT + way]
        if at == 0:
            raise ValueError("a conv layer's forward way was not bound (conv_ways.bind)")
        conv_ways.forward_way_at(at, a, geometry, np.int64(k), Ks[k], bs[k], cols[k], Z[k], out[k], arg[k], p)
        a = out[k][p, :m]


@kernel
def backward_layers(d, geometry, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows, p):
    """``backward_part`` on a bound geometry, as ``forward_layers``."""
    m = d.shape[0]
    if geometry.shape[1] < conv_ways.BOUND:
        raise ValueError("backward_layers needs a bound geometry (conv_ways.bind)")
    g = d
    for k in range(len(Ks) - 1, -1, -1):
        C, H, W, F, fh, fw, ph, pw, act = _unpack(geometry, k)
        way = conv_ways.backward_way(k, C, H, W, F, fh, fw, ph, pw, m, cols[k][p].size, Z[k][p].size, Z[k])
        at = geometry[k, conv_ways.BACKWARD_AT + way]
        if at == 0:
            raise ValueError("a conv layer's backward way was not bound (conv_ways.bind)")
        conv_ways.backward_way_at(at, g, geometry, np.int64(k), Ks[k], cols[k], Z[k], out[k], arg[k], dX[k], dKs[k],
                                  dbs[k], win_g[k], win_rows[k], p)
        if k > 0:
            g = dX[k][p, :m]


def part_signatures(dtype, conv_layers):
    """The argument types of ``forward_part`` and ``backward_part`` for ``conv_layers`` layers in ``dtype`` (numpy's
    or numba's, or its name): the kernels that call them by address (``kernels.by_address``) are checked
    against these, and the compile helper compiles them for these (``parallel_kernels``)."""
    name = str(dtype) if isinstance(dtype, types.Type) else np.dtype(dtype).name
    F = {"float32": types.float32, "float64": types.float64}[name]
    A = {d: types.Array(F, d, "C") for d in (1, 2, 3)}
    I = {d: types.Array(types.int64, d, "C") for d in (2, 3)}

    def per_layer(t):
        return types.UniTuple(t, conv_layers)
    return ((A[2], I[2], per_layer(A[2]), per_layer(A[1]), per_layer(A[3]), per_layer(A[3]), per_layer(A[3]),
             per_layer(I[3]), types.int64),
            (A[2], I[2], per_layer(A[2]), per_layer(A[3]), per_layer(A[3]), per_layer(A[3]), per_layer(I[3]),
             per_layer(A[3]), per_layer(A[3]), per_layer(A[2]), per_layer(A[3]), per_layer(I[3]), types.int64))


def _part_types(which):
    def expected(args):  # (x or d, geometry, Ks, ...): the dtype of the first, the layers of Ks
        return part_signatures(args[0].dtype, args[2].count)[which]
    return expected


# forward_layers and backward_layers (or forward_part and backward_part, same types) by address
# (kernels.by_address): their code compiled once, not again in each caller
forward_part_at = by_address.caller(types.none, _part_types(0), "forward_part")
backward_part_at = by_address.caller(types.none, _part_types(1), "backward_part")


def addresses(dtype, layers):
    """``(forward_layers, backward_layers)``'s addresses for ``layers`` conv layers in ``dtype``, compiled here or
    loaded from numba's cache at the first ask: the kernels that call them take it as their argument, and a bound
    geometry (``conv_ways.bind``)."""
    key = (np.dtype(dtype).name, int(layers))
    if key not in _ADDRESSES:
        forward_sig, backward_sig = part_signatures(key[0], layers)
        _ADDRESSES[key] = (by_address.address(forward_layers, forward_sig),
                           by_address.address(backward_layers, backward_sig))
    return _ADDRESSES[key]


_ADDRESSES = {}


@kernel(parallel=True)
def forward(x, starts, geometry, Ks, bs, cols, Z, out, arg, part_at):
    """Every part's forward pass, the parts on numba's threads: ``forward_part``, at ``part_at``."""
    for p in prange(len(starts) - 1):
        # p is unsigned in a prange: as int64 the part kernel compiled for one part serves here too
        q = np.int64(p)
        forward_part_at(part_at, x[starts[q]:starts[q + 1]], geometry, Ks, bs, cols, Z, out, arg, q)


@kernel(parallel=True)
def backward(d, starts, geometry, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows, part_at):
    """Every part's backward pass, the parts on numba's threads: ``backward_part``, at ``part_at``."""
    for p in prange(len(starts) - 1):
        q = np.int64(p)  # as in forward
        backward_part_at(part_at, d[starts[q]:starts[q + 1]], geometry, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g,
                         win_rows, q)
