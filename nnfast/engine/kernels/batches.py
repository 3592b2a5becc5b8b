"""``run_batches``: the one entry point from Python; a whole epoch's mini-batches, or an evaluation, per call.

Every Python call into the dense kernels comes through here, so a process
compiles (or loads from the cache) one function per parameter dtype.
"""

import numpy as np

from .forward import _block_columns, _columns, _forward_layers, _span, _view
from .gradient import _backward_layers
from .jit import helper, kernel


SORT_MAX = 128  # batches up to this size are ordered by where their inputs end (insertion sort: O(m^2))


@helper
def _batch_rows(x_rows, y_rows, start, m, x_lo, x_hi, ordered, bx, by, blo, bhi):
    """Fill bx/by[:m] with the batch's rows of X and Y, and blo/bhi[:m] with their nonzero columns;
    ``ordered``: by x_hi, so that each block of four samples spans few columns (the batch's
    gradient is a sum over its samples: their order changes its rounding only)."""
    for t in range(m):
        r = x_rows[start + t]
        key = x_hi[r]
        u = t
        if ordered:
            while u > 0 and bhi[u - 1] > key:
                bx[u] = bx[u - 1]
                by[u] = by[u - 1]
                blo[u] = blo[u - 1]
                bhi[u] = bhi[u - 1]
                u -= 1
        bx[u] = r
        by[u] = y_rows[start + t]
        blo[u] = x_lo[r]
        bhi[u] = key


# What the bytes of the input matrix hold (``run_batches``'s ``x_kind``): the kernels take every input
# matrix as bytes, so one compiled run_batches per parameter dtype serves float32, float64 and byte
# inputs (each input dtype was a whole compilation of it, about 6 s, and nnfast train compiled two).
BYTES, FLOAT32, FLOAT64 = 0, 1, 2


@helper
def _load_inputs(Xb, x_kind, bx, m, lo, hi, dst, scale):
    """dst[t] = input row bx[t] * scale for t < m, in dst's dtype; the input matrix's rows are the
    rows of ``Xb`` (bytes) read as ``x_kind`` (bytes with scale 1/256 are exact). With column
    ranges (``lo`` not empty, see ``_columns``) only the columns of the row's block of four, the
    ones the kernels read (the input's zeros included, so nothing stale is read)."""
    n_in = dst.shape[1]
    s = dst.dtype.type(scale)
    for t in range(m):
        k0, k1 = _columns(lo, hi, t, n_in)
        d = _span(dst, t, k0, k1)
        row = Xb[bx[t]]
        if x_kind == FLOAT32:
            x = row.view(np.float32)[k0:k1]
            for k in range(k1 - k0):
                d[k] = x[k] * s
        elif x_kind == FLOAT64:
            x64 = row.view(np.float64)[k0:k1]
            for k in range(k1 - k0):
                d[k] = x64[k] * s
        else:
            x8 = row[k0:k1]
            for k in range(k1 - k0):
                d[k] = x8[k] * s


@helper
def _load_rows(src, rows, m, dst):
    """dst[t] = src[rows[t]] for t < m (targets: already in dst's dtype)."""
    for t in range(m):
        d = dst[t]
        r = src[rows[t]]
        for k in range(d.shape[0]):
            d[k] = r[k]


@kernel
def run_batches(params, grads, w_off, b_off, sizes, Xb, x_kind, x_rows, Y, y_rows, batch, eta, cost, decay,
                x_lo, x_hi, x_scale, acts, deltas, ybuf, out):
    """The one entry point: every Python call into the kernels comes through here, so a
    process compiles (or loads from the cache) one function per dtype, not three.

    Sample i is input X[x_rows[i]] (X (N, sizes[0]), passed as its bytes ``Xb`` (N, sizes[0] *
    itemsize) with ``x_kind`` BYTES, FLOAT32 or FLOAT64) with target Y[y_rows[i]] (Y (N',
    sizes[-1])); the samples are cut into consecutive batches of ``batch`` (the last may be
    shorter). For each batch:

    - ``out.shape[0] > 0`` (forward only): out[i] = the network's output for sample i;
      Y, y_rows, grads, deltas and ybuf are not touched;
    - ``eta > 0`` (the book's training step): params -= (eta / len(batch)) * gradient,
      the weights (not the biases) first multiplied by ``decay`` (chapter 3's
      1 - eta * lmbda / n; 1.0 for chapter 1);
    - ``eta == 0`` (gradient only): grads = the summed gradient of the last batch.

    The gradient is that of ``cost`` (``QUADRATIC`` or ``CROSS_ENTROPY``).

    ``x_lo``/``x_hi`` (N,): row r of X is zero outside columns x_lo[r]..x_hi[r]-1, and
    the first layer skips those zeros; empty arrays: every row is dense. With them, a
    training batch of up to SORT_MAX samples is taken in order of x_hi (its gradient is a
    sum: only rounding changes). The inputs are X's values times ``x_scale`` (1.0, or 1/256
    for X holding bytes).

    Scratch: ``acts``/``deltas`` of ``cap * sum(sizes)`` with ``cap >= batch``, ``ybuf`` (cap, sizes[-1]).
    """
    n = x_rows.shape[0]
    n_layers = sizes.shape[0]
    n_in = sizes[0]
    n_out = sizes[n_layers - 1]
    total = 0
    for layer in range(n_layers):
        total += sizes[layer]
    cap = acts.shape[0] // total
    forward_only = out.shape[0] > 0
    extents = x_lo.shape[0] > 0
    ordered = extents and not forward_only and batch <= SORT_MAX
    width = max(min(batch, n), 1)
    bx = np.empty(width, np.int64)  # this batch's rows of X and Y
    by = np.empty(width, np.int64)
    blo = np.empty(width, x_lo.dtype)  # and where each is nonzero
    bhi = np.empty(width, x_lo.dtype)
    block_lo = np.empty((width + 3) // 4, x_lo.dtype)  # and each block of four
    block_hi = np.empty((width + 3) // 4, x_lo.dtype)
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
        _load_inputs(Xb, x_kind, bx, m, lo, hi, acts[:m * n_in].reshape((m, n_in)), x_scale)
        _forward_layers(params, w_off, b_off, sizes, m, cap, acts, lo, hi)
        if forward_only:
            result = _view(acts, cap * (total - n_out), m, n_out)
            for s in range(m):
                for j in range(n_out):
                    out[start + s, j] = result[s, j]
            continue
        Y_batch = ybuf.ravel()[:m * n_out].reshape((m, n_out))
        _load_rows(Y, by, m, Y_batch)
        _backward_layers(params, grads, w_off, b_off, sizes, m, cap, acts, deltas, Y_batch, eta / m, cost, decay,
                         lo, hi)
