"""Chapter 6's whole mini-batch step in one compiled call: forward, cost, backward and the SGD update of every layer.

A net of nnfast's own layers (convolutional layers at the front, then fully connected layers and the softmax) is
described once (``nnfast.engine.net_step``): the convolutional layers as ``kernels.conv_stack`` takes them
(``geometry`` rows, tuples of one array per layer), the dense layers as a table (one row per layer, columns
below) whose offsets point into two flat buffers, ``ws`` (the layers' activations and gradients for ``m`` samples; its last ``m * n_in`` values hold the gradient at the
first dense layer's input, channels-last)
and ``masks`` (this step's dropout masks, drawn by the caller in the book's order). The weights stay the layers'
own arrays: the filters ``Ws[k] (F, C, fh, fw)`` in the book's layout (flipped into ``Ks``, the stack's layout, at
each step, and stepped in place from the stack's gradients), the dense ``dws[j] (n_in, n_out)`` stepped in place
by ``kernels.dense_step`` (each row read once); ``dws``/``dbd`` are tuples of ``SLOTS`` arrays (unused slots
hold dummies) so that the kernels' types depend on the number of convolutional layers alone
(``kernels.parallel_kernels``). Measured, two-conv net, one thread: about 0.3 ms of the 1.38 ms step was Python
between the layers' kernels (the filters' transposes, the dense layers' numpy, the cost, the updates).

``steps_one`` runs a run of consecutive steps (one or more mini-batches: the Python and dispatch around a
call, ~44 us of a ~900 us two-conv step, paid once a run) on the calling thread; ``step_region.step_region``
one step on numba's threads, in two parallel regions, with this module's helpers and these arguments (``threaded``
in ``signature``). Both stop before a step whose sample ``s``'s label is not a class of the softmax, changing
nothing of it.
"""

import numpy as np

from . import conv_stack, dense_calls
from .activation import _sigmoid_inplace, _tanh_inplace
from .conv import RELU, SIGMOID, TANH
from .jit import kernel

SOFTMAX = 4  # the last layer's code (the activation codes of kernels.conv otherwise)
SLOTS = 6  # dense layers a net may have on this path (more: the layers' own code)
# the dense table's columns: sizes, activation, whether masked, offsets into ws (input before dropout, input as
# used, output, gradient at the weighted input, gradient at the input) and into masks; the addresses of the dense
# kernels the step calls (kernels.dense_calls: compiled once, not again in each caller; the same in every row)
N_IN, N_OUT, CODE, HAS_MASK, IN, XD, OUT, DZ, DX, MASK = range(10)
BACKWARD_ROWS_AT, FORWARD_INPUTS_AT, PRODUCT_AT = range(10, 13)  # in dense_calls' order
COLUMNS = 13


@kernel(inline="always")
def _view(buf, at, rows, cols):
    return buf[at:at + rows * cols].reshape((rows, cols))


@kernel
def _flip_filters(w, K):
    """K[f, (u*fw + v)*C + c] = w[f, c, fh-1-u, fw-1-v]: the book's filters as conv_stack's flipped rows. Unsigned
    indices (numba checks a signed one for wrap-around at every access), each filter's row of ``K`` written in
    order from row views made here: the book's two conv layers 8.0 -> 4.4 us (float32, process CPU)."""
    F, C, fh, fw = w.shape
    n, taps = np.uint64(C), np.uint64(fh * fw)
    flat = w.reshape((F, C * fh * fw))
    last = taps - np.uint64(1)
    for f in range(np.uint64(F)):
        src, dst = flat[f], K[f]
        for t in range(taps):
            at, back = t * n, last - t
            for c in range(n):
                dst[at + c] = src[c * taps + back]


@kernel
def _step_filters(w, b, dKs, dbs, count, step, keep, want_l2):
    """``w = keep * w - step * dK`` and ``b -= step * db``, in place, the gradients summed over the first ``count``
    parts of ``dKs (P, F, fh*fw*C)`` (flipped, as ``Ks``) and ``dbs (P, F)``; returns sum(w^2) before the step
    when ``want_l2``."""
    return _step_filter_range(w, b, dKs, dbs, count, step, keep, want_l2, np.int64(0), np.int64(w.shape[0]))


@kernel
def _step_filter_range(w, b, dKs, dbs, count, step, keep, want_l2, first, stop):
    """``_step_filters`` for filters ``first`` to ``stop - 1`` only (``step_region`` cuts them over its threads).
    Each filter's gradient is summed over the parts first, part after part (each value's sum in the same order as
    one value at a time, but vectorised), into ``g``; then the filter is stepped in the book's order (sum(w^2)
    too), reading ``g`` flipped. The book's two conv layers, float32, process CPU: 2 parts 29-33 -> 11.0-11.5 us,
    1 part 16-17 -> 9.6-10.6 (the flipped read is most of what is left: a transpose, as in ``_flip_filters``).
    Weights bit for bit as before; sum(w^2) in float64 within 1e-14 (its vectorised order)."""
    F, C, fh, fw = w.shape
    n, taps = np.uint64(C), np.uint64(fh * fw)
    size = n * taps
    flat = w.reshape((F, C * fh * fw))
    last = taps - np.uint64(1)
    g = np.empty(C * fh * fw, dtype=w.dtype)
    parts = np.uint64(count)
    l2 = 0.0
    for f in range(np.uint64(first), np.uint64(stop)):
        part = dKs[0, f]
        for i in range(size):
            g[i] = part[i]
        for p in range(np.uint64(1), parts):
            part = dKs[p, f]
            for i in range(size):
                g[i] += part[i]
        row = flat[f]
        for c in range(n):
            at = c * taps
            for t in range(taps):
                old = row[at + t]
                if want_l2:
                    l2 += old * old
                row[at + t] = old * keep - step * g[(last - t) * n + c]
        gb = dbs[0, f]
        for p in range(np.uint64(1), parts):
            gb += dbs[p, f]
        b[f] -= step * gb
    return l2


@kernel
def _to_book_order(src, HW, F, dst):
    """``dst (m, F*HW)`` (the book's maps-first order) from ``src (m, HW*F)`` (channels-last)."""
    for s in range(src.shape[0]):
        for q in range(HW):
            for f in range(F):
                dst[s, f * HW + q] = src[s, q * F + f]


@kernel
def _to_channels_last(src, HW, F, dst):
    """The inverse of ``_to_book_order``."""
    for s in range(src.shape[0]):
        for q in range(HW):
            for f in range(F):
                dst[s, q * F + f] = src[s, f * HW + q]


@kernel
def _dropped(a, mask, has_mask, xd):
    """``xd = a * mask`` (or ``a``); returns how many of ``xd`` are not zero."""
    nonzero = 0
    for s in range(a.shape[0]):
        for i in range(a.shape[1]):
            v = a[s, i] * mask[s, i] if has_mask else a[s, i]
            xd[s, i] = v
            if v != 0:
                nonzero += 1
    return nonzero


@kernel
def _activate(z, code):
    """The layer's activation on its weighted inputs ``z (m, n)``, in place (softmax: by rows)."""
    if code == SIGMOID:
        _sigmoid_inplace(z)
    elif code == TANH:
        _tanh_inplace(z)
    elif code == RELU:
        for s in range(z.shape[0]):
            for j in range(z.shape[1]):
                v = z[s, j]
                if not v > 0:
                    z[s, j] = v * 0  # NaN stays NaN, as np.maximum keeps it
    elif code == SOFTMAX:
        for s in range(z.shape[0]):
            zr = z[s]
            top = zr[0]
            for j in range(1, zr.shape[0]):
                if zr[j] > top:
                    top = zr[j]
            total = zr.dtype.type(0)
            for j in range(zr.shape[0]):
                zr[j] = np.exp(zr[j] - top)
                total += zr[j]
            for j in range(zr.shape[0]):
                zr[j] = zr[j] / total


@kernel
def _gradient_at_z(code, d, out, y, dz):
    """``dz``, the gradient at the weighted input, from ``d`` at the output ``out`` (softmax: from the labels ``y``,
    the mean log-likelihood's (out - one-hot) / m)."""
    m, n = out.shape
    one, zero = out.dtype.type(1), out.dtype.type(0)
    for s in range(m):
        for j in range(n):
            a = out[s, j]
            if code == SOFTMAX:
                dz[s, j] = a - one if j == y[s] else a
                dz[s, j] = dz[s, j] / m
            else:
                g = d[s, j]
                if code == SIGMOID:
                    g = g * (a * (one - a))
                elif code == TANH:
                    g = g * (one - a * a)
                elif code == RELU:
                    g = g * (one if a > 0 else zero)
                dz[s, j] = g


@kernel
def _step_bias(b, dz, step):
    """``b -= step * dz.sum(axis=0)``, each column summed in sample order."""
    _step_bias_range(b, dz, step, np.int64(0), np.int64(dz.shape[1]))


@kernel
def _step_bias_range(b, dz, step, first, stop):
    """``_step_bias`` for columns ``first`` to ``stop - 1`` (``step_region`` cuts them over its threads): the
    columns summed a row at a time into ``g`` (vectorised; each column's sum in sample order, as before). The
    dropout net's three layers: 4.6-5.0 -> 0.9-1.1 us."""
    lo, hi = np.uint64(first), np.uint64(stop)
    g = np.empty(stop - first, dtype=dz.dtype)
    for j in range(lo, hi):
        g[j - lo] = dz[0, j]
    for s in range(np.uint64(1), np.uint64(dz.shape[0])):
        for j in range(lo, hi):
            g[j - lo] += dz[s, j]
    for j in range(lo, hi):
        b[j] -= step * g[j - lo]


@kernel
def _cost(out, y):
    """The mean log-likelihood cost of the softmax outputs ``out`` for labels ``y``."""
    total = 0.0
    for s in range(out.shape[0]):
        total -= np.log(out[s, y[s]])
    return total / out.shape[0]


@kernel
def _bad_label(y, classes):
    for s in range(y.shape[0]):
        if y[s] < 0 or y[s] >= classes:
            return s
    return -1


@kernel(inline="always")
def _last_maps(geometry):
    g = geometry[geometry.shape[0] - 1]
    return ((g[1] - g[4] + 1) // g[6]) * ((g[2] - g[5] + 1) // g[7]), g[3]


@kernel
def steps_one(xs, ys, count, geometry, Ws, cbs, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows, dws, dbd,
              table, ws, masks, mask_stride, step, keep, want_l2, costs, l2s, forward_at, backward_at):
    """A run of ``count`` consecutive mini-batch steps on this thread (one step: ``count`` 1): ``xs`` the run's
    inputs, mini-batch after mini-batch, each ``(m, H*W*C)`` channels-last, flattened; ``ys`` their labels
    ``(count * m,)``; ``masks`` each step's dropout masks, ``mask_stride`` apart (the book's order). Step ``i``'s
    cost and sum of w^2 before it (0 unless ``want_l2``) go to ``costs[i]`` and ``l2s[i]``. Returns ``(done, bad)``:
    the steps done, ``bad`` -1, or stopped early: after a step whose cost or sum is NaN (the caller raises
    "diverged" there, as the book's loop would, and no later step runs), or before step ``done``, changing nothing
    of it, whose sample ``bad`` has a label outside the softmax. One loop around the step's body, not a call of a
    one-step kernel: numba would optimise that kernel's linked code again in this one (seconds of compile).
    ``conv_stack.forward_part`` and ``backward_part`` are called at ``forward_at`` and ``backward_at``
    (``conv_stack.addresses``), the dense layers' kernels at the addresses the table's rows hold: compiled once, not
    again in here."""
    m = ys.shape[0] // count
    width = xs.shape[0] // ys.shape[0]
    nd = table.shape[0]
    nc = len(Ws)
    part = np.int64(0)
    want_dx = nc > 0  # True, typed as a plain boolean (a literal True would compile dense_step anew)
    HW, F = _last_maps(geometry)
    for i in range(count):
        y = ys[i * m:(i + 1) * m]
        bad = _bad_label(y, table[nd - 1, N_OUT])
        if bad >= 0:
            return np.int64(i), bad
        x = _view(xs, i * m * width, m, width)
        step_masks = masks[i * mask_stride:(i + 1) * mask_stride]
        for k in range(nc):
            _flip_filters(Ws[k], Ks[k])
        conv_stack.forward_part_at(forward_at, x, geometry, Ks, cbs, cols, Z, out, arg, part)
        _to_book_order(out[nc - 1][0, :m], HW, F, _view(ws, table[0, IN], m, table[0, N_IN]))
        for j in range(nd):
            n_in, n_out, code, has_mask = table[j, N_IN], table[j, N_OUT], table[j, CODE], table[j, HAS_MASK] != 0
            a, xd = _view(ws, table[j, IN], m, n_in), _view(ws, table[j, XD], m, n_in)
            z = _view(ws, table[j, OUT], m, n_out)
            mask = _view(step_masks, table[j, MASK], m, n_in) if has_mask else a
            if 5 * _dropped(a, mask, has_mask, xd) <= 2 * m * n_in:  # few non-zero: fc_layers.SparseProduct's choice
                dense_calls.forward_inputs_at(table[j, FORWARD_INPUTS_AT], xd, dws[j], dbd[j], z)
            else:
                dense_calls.product_at(table[j, PRODUCT_AT], xd, dws[j], dbd[j], z)
            _activate(z, code)
        cost = _cost(_view(ws, table[nd - 1, OUT], m, table[nd - 1, N_OUT]), y)
        l2 = 0.0
        d = _view(ws, table[nd - 1, OUT], m, table[nd - 1, N_OUT])  # not read: the softmax's gradient needs y only
        for j in range(nd - 1, -1, -1):
            n_in, n_out, code, has_mask = table[j, N_IN], table[j, N_OUT], table[j, CODE], table[j, HAS_MASK] != 0
            xd, dx = _view(ws, table[j, XD], m, n_in), _view(ws, table[j, DX], m, n_in)
            dz = _view(ws, table[j, DZ], m, n_out)
            mask = _view(step_masks, table[j, MASK], m, n_in) if has_mask else xd
            _gradient_at_z(code, d, _view(ws, table[j, OUT], m, n_out), y, dz)
            l2 += dense_calls.backward_rows_at(table[j, BACKWARD_ROWS_AT], dws[j], xd, mask, has_mask, dz, step, keep,
                                               want_dx, dx, want_l2, part, n_in)
            _step_bias(dbd[j], dz, step)
            d = dx
        dcl = _view(ws, ws.shape[0] - m * table[0, N_IN], m, table[0, N_IN])  # ws ends with it
        _to_channels_last(d, HW, F, dcl)
        conv_stack.backward_part_at(backward_at, dcl, geometry, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows,
                                    part)
        one = np.int64(1)
        for k in range(nc):
            l2 += _step_filters(Ws[k], cbs[k], dKs[k], dbs[k], one, step, keep, want_l2)
        costs[i], l2s[i] = cost, l2
        if cost != cost or l2 != l2:
            return np.int64(i + 1), np.int64(-1)
    return np.int64(count), np.int64(-1)


def signature(dtype, conv_layers, threaded):
    """The argument types ``nnfast.engine.net_step`` calls ``steps_one`` (``threaded``: ``step_region.step_region``) with."""
    from numba import types
    F = {np.dtype(np.float64): types.float64, np.dtype(np.float32): types.float32}[np.dtype(dtype)]
    A = {d: types.Array(F, d, "C") for d in (1, 2, 3, 4)}
    I = {d: types.Array(types.int64, d, "C") for d in (1, 2, 3)}

    def per_layer(t):
        return types.UniTuple(t, conv_layers)
    conv = (I[2], per_layer(A[4]), per_layer(A[1]), per_layer(A[2]), per_layer(A[3]), per_layer(A[3]),
            per_layer(A[3]), per_layer(I[3]), per_layer(A[3]), per_layer(A[3]), per_layer(A[2]), per_layer(A[3]),
            per_layer(I[3]))
    dense = (types.UniTuple(A[2], SLOTS), types.UniTuple(A[1], SLOTS), I[2], A[1], A[1], F, F, types.boolean)
    addresses = (types.int64, types.int64)  # conv_stack.forward_part's and backward_part's (kernels.by_address)
    if threaded:  # and step_region.part's
        return (A[2], I[1], I[1], types.int64) + conv + dense + addresses + (types.int64,)
    run = types.Array(types.float64, 1, "C")  # each step's cost and sum of w^2
    return (A[1], I[1], types.int64) + conv + dense[:5] + (types.int64,) + dense[5:] + (run, run) + addresses
