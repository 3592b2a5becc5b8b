"""The forward pass: blocked dense layers with the sigmoid, skipping the columns a block of rows has no ink in.

Layout shared with ``nnfast.engine.dense``:

Layout shared with ``nnfast.network``:

- ``params``: one contiguous 1-D buffer holding, per layer ``l`` (0-based,
  mapping ``sizes[l]`` inputs to ``sizes[l+1]`` outputs), the weights
  ``(sizes[l+1], sizes[l])`` row-major at ``w_off[l]`` and the biases
  ``(sizes[l+1],)`` at ``b_off[l]``. ``grads`` has the same layout.
- Samples are rows: a batch of inputs is ``(m, sizes[0])``, C-contiguous, so
  every dot product below runs over contiguous memory.
- ``acts`` / ``deltas``: scratch of ``cap * sum(sizes)`` elements; layer ``l``
  of a batch of ``m <= cap`` rows lives at ``cap * sum(sizes[:l])``.
"""

from .activation import _sigmoid_inplace
from .jit import helper, kernel


@helper
def _span(M, i, k0, k1):
    """Row i of 2-D ``M``, columns k0..k1-1: one compiled slice that every kernel calls (dozens of
    inline slices were a second of numba's type inference and lowering at the first call)."""
    return M[i, k0:k1]


@helper
def _view(buf, offset, rows, cols):
    """The ``(rows, cols)`` row-major block of 1-D ``buf`` starting at ``offset``."""
    return buf[offset:offset + rows * cols].reshape((rows, cols))


@helper
def _dot(w, a, k0, k1):
    """w[k0:k1] . a[k0:k1]."""
    c = w.dtype.type(0)
    for k in range(k0, k1):  # one row in four at most: the negative-index check stays
        c += w[k] * a[k]
    return c


# Columns are skipped in blocks of this many: a range that starts and ends on a multiple of 16 leaves
# no scalar remainder after the vector loop (16 float32 lanes of AVX-512; two vectors of float64).
COLUMN_BLOCK = 16


@kernel(inline="always")
def _columns(lo, hi, s, n):
    """The columns k0..k1-1 that row s of a batch may be nonzero in: those of its block of four
    rows (rows 4b..4b+3, the last block shorter), lo[b]..hi[b]-1 (see ``_block_columns``); all n
    when ``lo`` is empty (dense rows). Inlined: a call per block cost 4-14% of an epoch."""
    if lo.shape[0] == 0:
        return 0, n
    return lo[s >> 2], hi[s >> 2]


@helper
def _block_columns(row_lo, row_hi, m, n, lo, hi):
    """lo[b]..hi[b]-1: the columns outside which rows 4b..4b+3 (of m) are all zero, given each
    row's bounds, widened to whole COLUMN_BLOCKs.

    MNIST's digits leave a third of each row zero at its ends in the book's pixel order, and about
    half once the columns are reordered (``nnfast.engine.input_layout``). Skipping zeros skips products
    that are exactly zero: the sums are the same up to rounding order.
    """
    for b in range((m + 3) // 4):
        s = 4 * b
        k0 = row_lo[s]
        k1 = row_hi[s]
        for t in range(s + 1, min(s + 4, m)):
            k0 = min(k0, row_lo[t])
            k1 = max(k1, row_hi[t])
        if k1 <= k0:
            k0 = k1 = 0
        else:
            k0 -= k0 % COLUMN_BLOCK
            k1 = min(n, k1 + (-k1) % COLUMN_BLOCK)
        lo[b] = k0
        hi[b] = k1


@helper
def _dense_rows4(W, b, A_in, A_out, s, k0, k1):
    """Weighted input z = W a + b (before the sigmoid) for the four samples s..s+3, whose inputs are
    zero outside columns k0..k1-1, four weight rows at a time.

    Eight independent dot products share each loaded weight (by four samples)
    and each loaded input (by two rows): 6 loads per 8 multiply-adds, and enough
    independent accumulators to hide the FMA latency. Measured 65-70 GFLOP/s
    (float64) against 47 for two-by-two.
    """
    n_out = W.shape[0]
    n = k1 - k0  # loops run over 0..n-1 of slices: numba drops its negative-index check only then
    zero = W.dtype.type(0)
    a0 = _span(A_in, s, k0, k1)
    a1 = _span(A_in, s + 1, k0, k1)
    a2 = _span(A_in, s + 2, k0, k1)
    a3 = _span(A_in, s + 3, k0, k1)
    j = 0 * n_out  # an int64, not a literal 0 (see _accumulate_rows4)
    while j + 4 <= n_out:  # four weight rows by four samples: 16 sums share 8 loads
        w0 = _span(W, j, k0, k1)
        w1 = _span(W, j + 1, k0, k1)
        w2 = _span(W, j + 2, k0, k1)
        w3 = _span(W, j + 3, k0, k1)
        c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = zero
        c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = zero
        for k in range(n):
            x0 = a0[k]
            x1 = a1[k]
            x2 = a2[k]
            x3 = a3[k]
            c00 += w0[k] * x0
            c01 += w0[k] * x1
            c02 += w0[k] * x2
            c03 += w0[k] * x3
            c10 += w1[k] * x0
            c11 += w1[k] * x1
            c12 += w1[k] * x2
            c13 += w1[k] * x3
            c20 += w2[k] * x0
            c21 += w2[k] * x1
            c22 += w2[k] * x2
            c23 += w2[k] * x3
            c30 += w3[k] * x0
            c31 += w3[k] * x1
            c32 += w3[k] * x2
            c33 += w3[k] * x3
        A_out[s, j] = c00 + b[j]
        A_out[s + 1, j] = c01 + b[j]
        A_out[s + 2, j] = c02 + b[j]
        A_out[s + 3, j] = c03 + b[j]
        A_out[s, j + 1] = c10 + b[j + 1]
        A_out[s + 1, j + 1] = c11 + b[j + 1]
        A_out[s + 2, j + 1] = c12 + b[j + 1]
        A_out[s + 3, j + 1] = c13 + b[j + 1]
        A_out[s, j + 2] = c20 + b[j + 2]
        A_out[s + 1, j + 2] = c21 + b[j + 2]
        A_out[s + 2, j + 2] = c22 + b[j + 2]
        A_out[s + 3, j + 2] = c23 + b[j + 2]
        A_out[s, j + 3] = c30 + b[j + 3]
        A_out[s + 1, j + 3] = c31 + b[j + 3]
        A_out[s + 2, j + 3] = c32 + b[j + 3]
        A_out[s + 3, j + 3] = c33 + b[j + 3]
        j += 4
    while j + 2 <= n_out:
        w0 = _span(W, j, k0, k1)
        w1 = _span(W, j + 1, k0, k1)
        c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = zero
        for k in range(n):
            x = w0[k]
            y = w1[k]
            c00 += x * a0[k]
            c01 += x * a1[k]
            c02 += x * a2[k]
            c03 += x * a3[k]
            c10 += y * a0[k]
            c11 += y * a1[k]
            c12 += y * a2[k]
            c13 += y * a3[k]
        A_out[s, j] = c00 + b[j]
        A_out[s + 1, j] = c01 + b[j]
        A_out[s + 2, j] = c02 + b[j]
        A_out[s + 3, j] = c03 + b[j]
        A_out[s, j + 1] = c10 + b[j + 1]
        A_out[s + 1, j + 1] = c11 + b[j + 1]
        A_out[s + 2, j + 1] = c12 + b[j + 1]
        A_out[s + 3, j + 1] = c13 + b[j + 1]
        j += 2
    if j < n_out:
        for t in range(s, s + 4):
            A_out[t, j] = _dot(W[j], A_in[t], k0, k1) + b[j]


@helper
def _dense_rows2(W, b, A_in, A_out, s, count, k0, k1):
    """Weighted input z for the last ``count`` (1 or 2) samples from s (inputs zero outside
    columns k0..k1-1), two weight rows at a time.

    With one sample it computes that sample twice and stores it once: the
    tail of one batch in four does not earn a third code path (compile time).
    """
    n_out = W.shape[0]
    n = k1 - k0
    zero = W.dtype.type(0)
    a0 = _span(A_in, s, k0, k1)
    a1 = _span(A_in, s + count - 1, k0, k1)
    j = 0 * n_out  # an int64, not a literal 0 (see _accumulate_rows4)
    while j + 2 <= n_out:
        w0 = _span(W, j, k0, k1)
        w1 = _span(W, j + 1, k0, k1)
        c00 = c01 = c10 = c11 = zero
        for k in range(n):
            c00 += w0[k] * a0[k]
            c01 += w0[k] * a1[k]
            c10 += w1[k] * a0[k]
            c11 += w1[k] * a1[k]
        A_out[s, j] = c00 + b[j]
        A_out[s, j + 1] = c10 + b[j + 1]
        if count == 2:
            A_out[s + 1, j] = c01 + b[j]
            A_out[s + 1, j + 1] = c11 + b[j + 1]
        j += 2
    if j < n_out:
        for t in range(s, s + count):
            A_out[t, j] = _dot(W[j], A_in[t], k0, k1) + b[j]


@kernel(inline="always")
def _dense_sigmoid(W, b, A_in, A_out, lo, hi):
    """A_out[s, j] = sigmoid(W[j] . A_in[s] + b[j]).

    W (n_out, n_in), b (n_out,), A_in (m, n_in), A_out (m, n_out); ``lo``/``hi``:
    the columns each block of four input rows may be nonzero in, or empty (see ``_columns``).
    """
    m = A_in.shape[0]
    n_in = A_in.shape[1]
    full = m - m % 4
    # range() keeps the block index an ordinary int64: a literal 0 would make
    # numba compile a second, constant-specialised copy of each kernel.
    for s in range(0, full, 4):
        k0, k1 = _columns(lo, hi, s, n_in)
        _dense_rows4(W, b, A_in, A_out, s, k0, k1)
    s = full
    while s < m:  # the last 1-3 samples, two at a time
        count = min(2, m - s)
        k0, k1 = _columns(lo, hi, s, n_in)
        _dense_rows2(W, b, A_in, A_out, s, count, k0, k1)
        s += count
    _sigmoid_inplace(A_out)


@kernel(inline="always")
def _forward_layers(params, w_off, b_off, sizes, m, cap, acts, lo, hi):
    """Propagate the ``m`` input rows already in layer 0 of ``acts`` through every layer
    (``lo``/``hi``: the columns each block of four input rows may be nonzero in, or empty; see ``_columns``)."""
    a_off = 0 * cap  # an int64 from the start: a literal 0 would compile _view twice
    for layer in range(sizes.shape[0] - 1):
        n_in = sizes[layer]
        n_out = sizes[layer + 1]
        W = _view(params, w_off[layer], n_out, n_in)
        b = params[b_off[layer]:b_off[layer] + n_out]
        A_in = _view(acts, a_off, m, n_in)
        a_off += cap * n_in
        in_lo, in_hi = (lo, hi) if layer == 0 else (lo[:0], hi[:0])  # hidden activations are dense
        _dense_sigmoid(W, b, A_in, _view(acts, a_off, m, n_out), in_lo, in_hi)  # one call site: one copy of it
