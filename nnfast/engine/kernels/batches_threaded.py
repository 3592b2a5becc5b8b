"""``run_batches_threaded``: ``run_batches``'s training on several cores, the first layer's units split over threads.

In chapter 1 and 3's nets nearly all the work is the first layer (784 x 30 of
784-30-10's 23,860 weights): its forward products and its gradient step. Each
of its units (a row of W) is computed on its own, so the units are cut into
``parts`` runs of whole blocks of four, one per numba thread (a ``prange``),
twice per mini-batch: the weighted inputs, then the gradient step. The rest
of a mini-batch (loading its inputs, the layers above, the deltas) is a few
percent of the work and stays on the calling thread.

Every unit is computed by the very helpers ``run_batches`` calls, over the same
samples in the same order and the same blocks of four rows (the cuts fall on
multiples of four), so the trained weights are bit for bit those of
``run_batches``: the thread count changes the speed only. The helpers are
called with ``run_batches``'s own signatures, so only this function itself
compiles anew (lazily: ``nnfast.engine.dense_threads`` compiles it only where
threads may pay, and a parallel region per step costs about 2 us).
"""

import numpy as np
from numba import prange

from .activation import _sigmoid_inplace
from .batches import SORT_MAX, _batch_rows, _load_inputs, _load_rows
from .forward import _block_columns, _columns, _dense_rows2, _dense_rows4, _dense_sigmoid, _view
from .gradient import _accumulate_row, _accumulate_rows2, _accumulate_rows4, _hidden_delta, _layer_gradient, \
    _output_delta
from .jit import helper, kernel


@helper
def _weighted_inputs(W, b, A_in, Z, lo, hi):
    """Z = A_in W^T + b for a run of the first layer's units (W (n, n_in), b (n,), Z (m, n)), the sigmoid
    not yet applied: ``_dense_sigmoid``'s loop over blocks of four samples (``lo``/``hi``: see ``_columns``)."""
    m = A_in.shape[0]
    n_in = A_in.shape[1]
    full = m - m % 4
    for s in range(0, full, 4):
        k0, k1 = _columns(lo, hi, s, n_in)
        _dense_rows4(W, b, A_in, Z, s, k0, k1)
    s = full
    while s < m:
        count = min(2, m - s)
        k0, k1 = _columns(lo, hi, s, n_in)
        _dense_rows2(W, b, A_in, Z, s, count, k0, k1)
        s += count


@helper
def _rows_gradient(D, A_prev, gW, gb, W, b, step, decay, lo, hi, j0, j1):
    """``_layer_gradient`` for rows j0..j1-1 of the layer only (j0 a multiple of four, j1 too unless it is the
    layer's last row): the same blocks of four rows, then two, then one, so each row's sums are the same."""
    if step == 0:
        for j in range(j0, j1):
            gW[j, :] = 0
        target = gW
    else:
        target = W
        if decay != 1.0:
            d = W.dtype.type(decay)
            for j in range(j0, j1):
                w = W[j]
                for k in range(w.shape[0]):
                    w[k] *= d
    scale = W.dtype.type(1 if step == 0 else -step)
    n = j1 - j0
    full = j0 + n - n % 4
    for j in range(j0, full, 4):
        _accumulate_rows4(D, A_prev, target, j, scale, lo, hi)
    pair = j0 + n - n % 2
    for j in range(full, pair, 2):
        _accumulate_rows2(D, A_prev, target, j, scale, lo, hi)
    for j in range(pair, j1):
        _accumulate_row(D, A_prev, target, j, scale, lo, hi)
    m = D.shape[0]
    for j in range(j0, j1):
        acc = D[0, j]
        for s in range(1, m):
            acc += D[s, j]
        gb[j] = acc
        if step != 0:
            b[j] -= step * acc


@kernel(parallel=True)
def run_batches_threaded(params, grads, w_off, b_off, sizes, Xb, x_kind, x_rows, Y, y_rows, batch, eta, cost, decay,
                         x_lo, x_hi, x_scale, acts, deltas, ybuf, zbuf, parts):
    """``run_batches`` for training and gradients (``eta >= 0``; no forward-only calls), the first layer's units
    in ``parts`` runs on numba's threads (set ``numba.set_num_threads(parts)`` first). Arguments as
    ``run_batches``'s, less ``out``; ``zbuf``: scratch of ``cap * sizes[1]`` values."""
    n = x_rows.shape[0]
    n_layers = sizes.shape[0]
    n_in = sizes[0]
    n1 = sizes[1]
    n_out = sizes[n_layers - 1]
    total = 0
    for layer in range(n_layers):
        total += sizes[layer]
    cap = acts.shape[0] // total
    offsets = np.zeros(n_layers, np.int64)  # start of each layer's block in acts / deltas
    for layer in range(1, n_layers):
        offsets[layer] = offsets[layer - 1] + cap * sizes[layer - 1]
    cuts = np.empty(parts + 1, np.int64)  # part p: units cuts[p]..cuts[p+1]-1, whole blocks of four
    for p in range(parts):
        c = n1 * p // parts + 2  # the nearest multiple of four
        cuts[p] = c - c % 4
    cuts[parts] = n1
    # The batch set-up below repeats run_batches' on purpose: shared, it raised chapter 1's first compile (which
    # compiles run_batches alone). run_batches' own compile, its callees cached, process CPU, medians of 5 fresh
    # processes alternated on 2 busy cores: three @kernel(inline="always") helpers 2.35 -> 2.55 s, the same as
    # @helper 2.45 -> 2.56 s, one @helper _next_batch over 2-D scratch 2.67 -> 2.90 s (its callees timed too).
    extents = x_lo.shape[0] > 0
    ordered = extents and batch <= SORT_MAX
    width = max(min(batch, n), 1)
    bx = np.empty(width, np.int64)
    by = np.empty(width, np.int64)
    blo = np.empty(width, x_lo.dtype)
    bhi = np.empty(width, x_lo.dtype)
    block_lo = np.empty((width + 3) // 4, x_lo.dtype)
    block_hi = np.empty((width + 3) // 4, x_lo.dtype)
    last = n_layers - 1
    for start in range(0, n, batch):
        m = min(batch, n - start)
        if extents:
            _batch_rows(x_rows, y_rows, start, m, x_lo, x_hi, ordered, bx, by, blo, bhi)
            _block_columns(blo, bhi, m, n_in, block_lo, block_hi)
            lo = block_lo[:(m + 3) // 4]
            hi = block_hi[:(m + 3) // 4]
        else:
            for t in range(m):
                bx[t] = x_rows[start + t]
                by[t] = y_rows[start + t]
            lo = block_lo[:0]
            hi = block_hi[:0]
        A0 = _view(acts, 0, m, n_in)
        _load_inputs(Xb, x_kind, bx, m, lo, hi, A0, x_scale)
        for p in prange(parts):  # the first layer's weighted inputs, each part's units into its own block
            j0 = cuts[p]
            j1 = cuts[p + 1]
            _weighted_inputs(_view(params, w_off[0] + j0 * n_in, j1 - j0, n_in),
                             params[b_off[0] + j0:b_off[0] + j1], A0, _view(zbuf, m * j0, m, j1 - j0), lo, hi)
        A1 = _view(acts, offsets[1], m, n1)
        for p in range(parts):
            j0 = cuts[p]
            Z = _view(zbuf, m * j0, m, cuts[p + 1] - j0)
            for s in range(m):
                for j in range(Z.shape[1]):
                    A1[s, j0 + j] = Z[s, j]
        _sigmoid_inplace(A1)
        for layer in range(1, last):  # the layers above, on this thread
            W = _view(params, w_off[layer], sizes[layer + 1], sizes[layer])
            b = params[b_off[layer]:b_off[layer] + sizes[layer + 1]]
            _dense_sigmoid(W, b, _view(acts, offsets[layer], m, sizes[layer]),
                           _view(acts, offsets[layer + 1], m, sizes[layer + 1]), lo[:0], hi[:0])
        Y_batch = ybuf.ravel()[:m * n_out].reshape((m, n_out))
        _load_rows(Y, by, m, Y_batch)
        step = eta / m
        _output_delta(_view(acts, offsets[last], m, n_out), Y_batch, _view(deltas, offsets[last], m, n_out), cost)
        for layer in range(last, 1, -1):  # each layer's delta below before its weights move, as _backward_layers
            n_o = sizes[layer]
            n_i = sizes[layer - 1]
            D = _view(deltas, offsets[layer], m, n_o)
            A_prev = _view(acts, offsets[layer - 1], m, n_i)
            W = _view(params, w_off[layer - 1], n_o, n_i)
            _hidden_delta(W, D, A_prev, _view(deltas, offsets[layer - 1], m, n_i))
            _layer_gradient(D, A_prev, _view(grads, w_off[layer - 1], n_o, n_i),
                            grads[b_off[layer - 1]:b_off[layer - 1] + n_o], W,
                            params[b_off[layer - 1]:b_off[layer - 1] + n_o], step, decay, lo[:0], hi[:0])
        D1 = _view(deltas, offsets[1], m, n1)
        gW1 = _view(grads, w_off[0], n1, n_in)
        gb1 = grads[b_off[0]:b_off[0] + n1]
        W1 = _view(params, w_off[0], n1, n_in)
        b1 = params[b_off[0]:b_off[0] + n1]
        for p in prange(parts):  # the first layer's gradient step, each part its own rows
            _rows_gradient(D1, A0, gW1, gb1, W1, b1, step, decay, lo, hi, cuts[p], cuts[p + 1])
