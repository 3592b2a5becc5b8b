"""Every numba-compiled function of nnfast: forward, backward, update, fused epoch.

No I/O, no printing, no lists: only arrays, written into buffers the caller
preallocates (``nnfast.network`` owns the buffers and checks shapes first).

Layout shared with ``nnfast.network``:

- ``params``: one contiguous 1-D buffer holding, per layer ``l`` (0-based,
  mapping ``sizes[l]`` inputs to ``sizes[l+1]`` outputs), the weights
  ``(sizes[l+1], sizes[l])`` row-major at ``w_off[l]`` and the biases
  ``(sizes[l+1],)`` at ``b_off[l]``. ``grads`` has the same layout.
- Samples are rows: a batch of inputs is ``(m, sizes[0])``, C-contiguous, so
  every dot product below runs over contiguous memory.
- ``acts`` / ``deltas``: scratch of ``cap * sum(sizes)`` elements; layer ``l``
  of a batch of ``m <= cap`` rows lives at ``cap * sum(sizes[:l])``.

Nothing here compiles at import: numba compiles each function on first call
and caches the machine code on disk (``cache=True``), so a second process
starts warm.
"""

import math

import numpy as np
from numba import njit

# All compiler flags live here. "reassoc" lets LLVM vectorise the dot-product
# reductions and "contract" lets it use FMA: both change summation order and
# rounding only (never NaN/inf semantics), so results stay within float
# rounding of the per-sample reference. Full fastmath ("nnan", "ninf") is off:
# it would let the compiler assume away the NaNs a diverging run must report.
# No parallel=True: a mini-batch is too little work for threads to pay.
FASTMATH = {"reassoc", "contract"}
JIT_OPTIONS = dict(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", boundscheck=False)


@njit(**JIT_OPTIONS)
def _sigmoid_inplace(Z):
    """Z[:] = sigmoid(Z) for a 2-D array, never overflowing: exp only sees y = -|z| <= 0.

    exp is computed here, not by ``math.exp``: numba calls libm's exp one value
    at a time (no vector math library in pip's llvmlite), which was 12% of a
    784-100-10 epoch. Written branch-free, this loop vectorises: exp(y) =
    2^n exp(r) with n = round(y / ln 2) and |r| <= ln(2) / 2 (ln 2 split in two
    parts, so r is exact enough), exp(r) by its Taylor series to below half an
    ulp (degree 7 for float32, 13 for float64), and 2^n as a product of powers
    of two picked by n's bits (exact). Measured within 2.4 ulp of the true
    sigmoid, as libm's exp gave, and 3x faster (5 million values: float32 10.3
    -> 3.2 ms, float64 18.0 -> 6.9 ms). Below the smallest normal number
    (z < -87.3 in float32, -708.3 in float64) exp counts as 0 instead of a
    denormal; NaN stays NaN.
    """
    t = Z.dtype.type
    one = t(1)
    single = t(1e-300) == 0  # float32 (a constant: LLVM keeps one branch)
    low = t(-87.3) if single else t(-708.3)
    log2e = t(1.4426950408889634)
    ln2_hi = t(0.693145751953125)  # few significant bits: n * ln2_hi is exact
    ln2_lo = t(1.42860682030941723212e-6)
    for row in range(Z.shape[0]):
        zr = Z[row]
        for k in range(zr.shape[0]):
            x = zr[k]
            y = -abs(x)
            yc = y if y > low else low  # NaN and -inf too: every value below is finite
            n = np.floor(yc * log2e + t(0.5))
            r = (yc - n * ln2_hi) - n * ln2_lo
            # Horner, written out: loops over constants here stop LLVM from vectorising
            if single:
                p = t(1 / 720) + r * t(1 / 5040)
                p = t(1 / 120) + r * p
            else:
                p = t(1 / 479001600) + r * t(1 / 6227020800)
                p = t(1 / 39916800) + r * p
                p = t(1 / 3628800) + r * p
                p = t(1 / 362880) + r * p
                p = t(1 / 40320) + r * p
                p = t(1 / 5040) + r * p
                p = t(1 / 720) + r * p
                p = t(1 / 120) + r * p
            p = t(1 / 24) + r * p
            p = t(1 / 6) + r * p
            p = t(1 / 2) + r * p
            p = one + r * p
            p = one + r * p
            m = np.int64(-n)  # 0..1022: 2^-m is the product of 2^-(2^i) over m's set bits i
            scale = t(0.5) if m & 1 else one
            scale *= t(0.25) if m & 2 else one
            scale *= t(2.0 ** -4) if m & 4 else one
            scale *= t(2.0 ** -8) if m & 8 else one
            scale *= t(2.0 ** -16) if m & 16 else one
            scale *= t(2.0 ** -32) if m & 32 else one
            scale *= t(2.0 ** -64) if m & 64 else one
            if not single:
                scale *= t(2.0 ** -128) if m & 128 else one
                scale *= t(2.0 ** -256) if m & 256 else one
                scale *= t(2.0 ** -512) if m & 512 else one
            e = p * scale if y > low else t(0)
            q = one / (one + e)
            v = q if x >= 0 else e * q
            zr[k] = v if x == x else x


@njit(**JIT_OPTIONS)
def _span(M, i, k0, k1):
    """Row i of 2-D ``M``, columns k0..k1-1: one compiled slice that every kernel calls (dozens of
    inline slices were a second of numba's type inference and lowering at the first call)."""
    return M[i, k0:k1]


@njit(**JIT_OPTIONS)
def _view(buf, offset, rows, cols):
    """The ``(rows, cols)`` row-major block of 1-D ``buf`` starting at ``offset``."""
    return buf[offset:offset + rows * cols].reshape((rows, cols))


@njit(**JIT_OPTIONS)
def _dot(w, a, k0, k1):
    """w[k0:k1] . a[k0:k1]."""
    c = w.dtype.type(0)
    for k in range(k0, k1):  # one row in four at most: the negative-index check stays
        c += w[k] * a[k]
    return c


# Columns are skipped in blocks of this many: a range that starts and ends on a multiple of 16 leaves
# no scalar remainder after the vector loop (16 float32 lanes of AVX-512; two vectors of float64).
COLUMN_BLOCK = 16


@njit(inline="always", **JIT_OPTIONS)
def _columns(lo, hi, s, n):
    """The columns k0..k1-1 that row s of a batch may be nonzero in: those of its block of four
    rows (rows 4b..4b+3, the last block shorter), lo[b]..hi[b]-1 (see ``_block_columns``); all n
    when ``lo`` is empty (dense rows). Inlined: a call per block cost 4-14% of an epoch."""
    if lo.shape[0] == 0:
        return 0, n
    return lo[s >> 2], hi[s >> 2]


@njit(**JIT_OPTIONS)
def _block_columns(row_lo, row_hi, m, n, lo, hi):
    """lo[b]..hi[b]-1: the columns outside which rows 4b..4b+3 (of m) are all zero, given each
    row's bounds, widened to whole COLUMN_BLOCKs.

    MNIST's digits leave a third of each row zero at its ends in the book's pixel order, and about
    half once the columns are reordered (``nnfast._input_layout``). Skipping zeros skips products
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


@njit(**JIT_OPTIONS)
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


@njit(**JIT_OPTIONS)
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


@njit(inline="always", **JIT_OPTIONS)
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


@njit(inline="always", **JIT_OPTIONS)
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


# Cost codes shared with nnfast._dense (plain ints: one compiled kernel serves both costs).
QUADRATIC = 0
CROSS_ENTROPY = 1


@njit(**JIT_OPTIONS)
def _output_delta(A, Y, D, cost):
    """Output error at a sigmoid output, all (m, n_out): the quadratic cost's
    D = (A - Y) * A * (1 - A), or the cross-entropy's D = A - Y (chapter 3: the
    sigmoid's slope cancels, which is why that cost learns faster)."""
    m, n = A.shape
    one = A.dtype.type(1)
    for s in range(m):
        for j in range(n):
            a = A[s, j]
            if cost == CROSS_ENTROPY:
                D[s, j] = a - Y[s, j]
            else:
                D[s, j] = (a - Y[s, j]) * (a * (one - a))


@njit(**JIT_OPTIONS)
def _hidden_delta(W_next, D_next, A, D):
    """D[s, k] = (sum_j W_next[j, k] * D_next[s, j]) * A[s, k] * (1 - A[s, k]).

    W_next (n_next, n), D_next (m, n_next), A and D (m, n).
    """
    n_next, n = W_next.shape
    m = D.shape[0]
    one = A.dtype.type(1)
    for s in range(m):
        d = D[s]
        d_next = D_next[s]
        w = W_next[0]
        c = d_next[0]
        for k in range(n):
            d[k] = c * w[k]
        for j in range(1, n_next):
            w = W_next[j]
            c = d_next[j]
            for k in range(n):
                d[k] += c * w[k]
        a = A[s]
        for k in range(n):
            d[k] *= a[k] * (one - a[k])


@njit(**JIT_OPTIONS)
def _accumulate_rows4(D, A_prev, T, j, scale, lo, hi):
    """T[j:j+4, :] += scale * sum_s outer(D[s, j:j+4], A_prev[s]) (``lo``/``hi``: see ``_columns``).

    Four rows of T by four samples per pass: 16 multiply-adds per 4 loads of
    inputs and 4 loads and stores of T (it was one load and store per
    multiply-add). Measured 65-77 GFLOP/s (float64) against 38 for two rows by
    four samples. ``scale`` has T's dtype, so float32 stays float32 throughout.
    """
    n_in = T.shape[1]
    m = D.shape[0]
    s = 0 * m  # an int64, not a literal 0: that would compile _columns and _span twice
    while s + 4 <= m:
        k0, k1 = _columns(lo, hi, s, n_in)
        g0, g1, g2, g3 = _span(T, j, k0, k1), _span(T, j + 1, k0, k1), _span(T, j + 2, k0, k1), _span(T, j + 3, k0, k1)
        a0 = _span(A_prev, s, k0, k1)
        a1 = _span(A_prev, s + 1, k0, k1)
        a2 = _span(A_prev, s + 2, k0, k1)
        a3 = _span(A_prev, s + 3, k0, k1)
        d00, d01, d02, d03 = scale * D[s, j], scale * D[s + 1, j], scale * D[s + 2, j], scale * D[s + 3, j]
        d10, d11, d12, d13 = (scale * D[s, j + 1], scale * D[s + 1, j + 1],
                              scale * D[s + 2, j + 1], scale * D[s + 3, j + 1])
        d20, d21, d22, d23 = (scale * D[s, j + 2], scale * D[s + 1, j + 2],
                              scale * D[s + 2, j + 2], scale * D[s + 3, j + 2])
        d30, d31, d32, d33 = (scale * D[s, j + 3], scale * D[s + 1, j + 3],
                              scale * D[s + 2, j + 3], scale * D[s + 3, j + 3])
        for k in range(k1 - k0):
            x0 = a0[k]
            x1 = a1[k]
            x2 = a2[k]
            x3 = a3[k]
            g0[k] += d00 * x0 + d01 * x1 + d02 * x2 + d03 * x3
            g1[k] += d10 * x0 + d11 * x1 + d12 * x2 + d13 * x3
            g2[k] += d20 * x0 + d21 * x1 + d22 * x2 + d23 * x3
            g3[k] += d30 * x0 + d31 * x1 + d32 * x2 + d33 * x3
        s += 4
    if s + 2 <= m:
        k0, k1 = _columns(lo, hi, s, n_in)
        g0, g1, g2, g3 = _span(T, j, k0, k1), _span(T, j + 1, k0, k1), _span(T, j + 2, k0, k1), _span(T, j + 3, k0, k1)
        a0 = _span(A_prev, s, k0, k1)
        a1 = _span(A_prev, s + 1, k0, k1)
        d00, d01 = scale * D[s, j], scale * D[s + 1, j]
        d10, d11 = scale * D[s, j + 1], scale * D[s + 1, j + 1]
        d20, d21 = scale * D[s, j + 2], scale * D[s + 1, j + 2]
        d30, d31 = scale * D[s, j + 3], scale * D[s + 1, j + 3]
        for k in range(k1 - k0):
            x0 = a0[k]
            x1 = a1[k]
            g0[k] += d00 * x0 + d01 * x1
            g1[k] += d10 * x0 + d11 * x1
            g2[k] += d20 * x0 + d21 * x1
            g3[k] += d30 * x0 + d31 * x1
        s += 2
    if s < m:
        k0, k1 = _columns(lo, hi, s, n_in)
        g0, g1, g2, g3 = _span(T, j, k0, k1), _span(T, j + 1, k0, k1), _span(T, j + 2, k0, k1), _span(T, j + 3, k0, k1)
        a0 = _span(A_prev, s, k0, k1)
        d0, d1, d2, d3 = scale * D[s, j], scale * D[s, j + 1], scale * D[s, j + 2], scale * D[s, j + 3]
        for k in range(k1 - k0):
            x0 = a0[k]
            g0[k] += d0 * x0
            g1[k] += d1 * x0
            g2[k] += d2 * x0
            g3[k] += d3 * x0


@njit(**JIT_OPTIONS)
def _accumulate_rows2(D, A_prev, T, j, scale, lo, hi):
    """T[j:j+2, :] += scale * sum_s outer(D[s, j:j+2], A_prev[s]), four samples per pass.

    For the two rows a layer of 4k + 2 leaves after the blocks of four (784-30-10
    has two such rows): one row at a time made 10 passes over them per batch.
    """
    n_in = T.shape[1]
    m = D.shape[0]
    full = m - m % 4
    for s in range(0, full, 4):
        k0, k1 = _columns(lo, hi, s, n_in)
        g0, g1 = _span(T, j, k0, k1), _span(T, j + 1, k0, k1)
        a0 = _span(A_prev, s, k0, k1)
        a1 = _span(A_prev, s + 1, k0, k1)
        a2 = _span(A_prev, s + 2, k0, k1)
        a3 = _span(A_prev, s + 3, k0, k1)
        d00, d01, d02, d03 = scale * D[s, j], scale * D[s + 1, j], scale * D[s + 2, j], scale * D[s + 3, j]
        d10, d11, d12, d13 = (scale * D[s, j + 1], scale * D[s + 1, j + 1],
                              scale * D[s + 2, j + 1], scale * D[s + 3, j + 1])
        for k in range(k1 - k0):
            x0 = a0[k]
            x1 = a1[k]
            x2 = a2[k]
            x3 = a3[k]
            g0[k] += d00 * x0 + d01 * x1 + d02 * x2 + d03 * x3
            g1[k] += d10 * x0 + d11 * x1 + d12 * x2 + d13 * x3
    for s in range(full, m):
        k0, k1 = _columns(lo, hi, s, n_in)
        g0, g1 = _span(T, j, k0, k1), _span(T, j + 1, k0, k1)
        a0 = _span(A_prev, s, k0, k1)
        d00 = scale * D[s, j]
        d10 = scale * D[s, j + 1]
        for k in range(k1 - k0):
            g0[k] += d00 * a0[k]
            g1[k] += d10 * a0[k]


@njit(**JIT_OPTIONS)
def _accumulate_row(D, A_prev, T, j, scale, lo, hi):
    """T[j] += scale * sum_s D[s, j] * A_prev[s]: the rows left over after blocks of four."""
    for s in range(D.shape[0]):
        k0, k1 = _columns(lo, hi, s, T.shape[1])
        g0 = _span(T, j, k0, k1)
        a0 = _span(A_prev, s, k0, k1)
        d0 = scale * D[s, j]
        for k in range(k1 - k0):
            g0[k] += d0 * a0[k]


@njit(inline="always", **JIT_OPTIONS)
def _layer_gradient(D, A_prev, gW, gb, W, b, step, decay, lo, hi):
    """With step == 0: gW = sum_s outer(D[s], A_prev[s]) and gb = sum_s D[s].
    With step != 0: the book's update W = decay * W - step * (that sum),
    b -= step * gb, without materialising gW (each sample's term is added to W
    pre-scaled by -step: the same update up to rounding, and no extra passes
    over memory). ``decay`` is chapter 3's L2 factor 1 - eta * lmbda / n
    (1.0 without regularisation: then W is not touched by it). ``lo``/``hi``: the
    columns each block of four rows of A_prev may be nonzero in, or empty (see ``_columns``).

    D (m, n_out), A_prev (m, n_in), gW and W (n_out, n_in), gb and b (n_out,).
    """
    n_out = gW.shape[0]
    if step == 0:
        gW[:, :] = 0
        target = gW
    else:
        target = W
        if decay != 1.0:  # one pass over W (in cache already) per batch; biases are not decayed
            d = W.dtype.type(decay)
            for j in range(n_out):
                w = W[j]
                for k in range(w.shape[0]):
                    w[k] *= d
    scale = W.dtype.type(1 if step == 0 else -step)
    full = n_out - n_out % 4
    for j in range(0, full, 4):
        _accumulate_rows4(D, A_prev, target, j, scale, lo, hi)
    pair = n_out - n_out % 2
    for j in range(full, pair, 2):
        _accumulate_rows2(D, A_prev, target, j, scale, lo, hi)
    for j in range(pair, n_out):
        _accumulate_row(D, A_prev, target, j, scale, lo, hi)
    m = D.shape[0]
    for j in range(n_out):
        acc = D[0, j]
        for s in range(1, m):
            acc += D[s, j]
        gb[j] = acc
        if step != 0:
            b[j] -= step * acc


@njit(inline="always", **JIT_OPTIONS)
def _backward_layers(params, grads, w_off, b_off, sizes, m, cap, acts, deltas, Y, step, cost, decay, lo, hi):
    """Summed gradient of the cost (``QUADRATIC`` or ``CROSS_ENTROPY``) over the ``m`` rows
    in ``acts`` into ``grads``; with step != 0 also the step params -= step * grads
    (weights first multiplied by ``decay``), layer by layer.

    Needs ``acts`` filled by ``_forward_layers`` and targets ``Y`` (m, n_out).
    Each layer's delta for the layer below is computed before its weights move.
    ``lo``/``hi``: the columns each block of four input rows may be nonzero in, or empty (see ``_columns``).
    """
    n_layers = sizes.shape[0]
    offsets = [0] * n_layers  # start of each layer's block in acts / deltas
    for layer in range(1, n_layers):
        offsets[layer] = offsets[layer - 1] + cap * sizes[layer - 1]
    last = n_layers - 1
    _output_delta(_view(acts, offsets[last], m, sizes[last]), Y,
                  _view(deltas, offsets[last], m, sizes[last]), cost)
    for layer in range(last, 0, -1):
        n_out = sizes[layer]
        n_in = sizes[layer - 1]
        D = _view(deltas, offsets[layer], m, n_out)
        A_prev = _view(acts, offsets[layer - 1], m, n_in)
        W = _view(params, w_off[layer - 1], n_out, n_in)
        if layer > 1:
            _hidden_delta(W, D, A_prev, _view(deltas, offsets[layer - 1], m, n_in))
        in_lo, in_hi = (lo, hi) if layer == 1 else (lo[:0], hi[:0])
        _layer_gradient(D, A_prev, _view(grads, w_off[layer - 1], n_out, n_in),
                        grads[b_off[layer - 1]:b_off[layer - 1] + n_out], W,
                        params[b_off[layer - 1]:b_off[layer - 1] + n_out], step, decay, in_lo, in_hi)


SORT_MAX = 128  # batches up to this size are ordered by where their inputs end (insertion sort: O(m^2))


@njit(**JIT_OPTIONS)
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


@njit(**JIT_OPTIONS)
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


@njit(**JIT_OPTIONS)
def _load_rows(src, rows, m, dst):
    """dst[t] = src[rows[t]] for t < m (targets: already in dst's dtype)."""
    for t in range(m):
        d = dst[t]
        r = src[rows[t]]
        for k in range(d.shape[0]):
            d[k] = r[k]


@njit(**JIT_OPTIONS)
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


@njit(**JIT_OPTIONS)
def cost_sum(out, Y, y_rows, cost):
    """Sum over samples i of the cost of output ``out[i]`` against target ``Y[y_rows[i]]``, in float64.

    out (n, n_out); Y (N, n_out) (for int labels pass the identity matrix and
    the labels as ``y_rows``). The quadratic cost is 0.5 * ||a - y||^2. The
    cross-entropy is the book's sum of -y ln a - (1 - y) ln(1 - a) with its
    ``np.nan_to_num``: a term that is NaN (0 * ln 0) counts 0 and an infinite
    one (a saturated output on the wrong side) counts as the largest float.
    """
    big = 1.7976931348623157e308
    total = 0.0
    for i in range(out.shape[0]):
        y = Y[y_rows[i]]
        a = out[i]
        c = 0.0
        for j in range(out.shape[1]):
            aj = float(a[j])
            yj = float(y[j])
            if cost == CROSS_ENTROPY:
                # one-hot targets need one log: with y 0 or 1 the other term is -0, or NaN where the
                # whole element is NaN in the book too (0 * log 0), which the book's nan_to_num makes 0
                if yj == 0.0:
                    t = -_log0(1.0 - aj)
                elif yj == 1.0:
                    t = -_log0(aj)
                else:
                    t = -yj * _log0(aj) - (1.0 - yj) * _log0(1.0 - aj)
                if t != t:
                    t = 0.0
                elif t > big:
                    t = big
                elif t < -big:
                    t = -big
                c += t
            else:
                c += (aj - yj) * (aj - yj)
        total += c if cost == CROSS_ENTROPY else 0.5 * c
    return total


@njit(**JIT_OPTIONS)
def _log0(x):
    """numpy's log at the edges: log(0) = -inf (numba's math.log would raise), log(1) = 0."""
    return -math.inf if x <= 0.0 else math.log(x)


@njit(**JIT_OPTIONS)
def _mt_next(mt, pos):
    """Python's MT19937 ``genrand_uint32``: (next 32-bit output, new position); refills ``mt`` in place."""
    if pos >= 624:
        for kk in range(624):
            y = (mt[kk] & 0x80000000) | (mt[(kk + 1) % 624] & 0x7FFFFFFF)
            v = mt[(kk + 397) % 624] ^ (y >> 1)
            if y & 1:
                v ^= 0x9908B0DF
            mt[kk] = v
        pos = 0
    y = mt[pos]
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y, pos + 1


@njit(**JIT_OPTIONS)
def shuffle_like_python(mt, pos, x):
    """Shuffle ``x`` in place exactly as ``random.shuffle`` would with the Mersenne Twister state
    ``mt`` (624 uint64 words holding 32-bit values) at position ``pos``; returns the new position.

    Same draws as CPython 3.11+: for i from len-1 down to 1, j = randbelow(i + 1)
    by rejection on getrandbits(k), k = (i + 1).bit_length() <= 32.
    """
    for i in range(x.shape[0] - 1, 0, -1):
        n = i + 1
        k = 0
        while (n >> k) != 0:
            k += 1
        while True:
            word, pos = _mt_next(mt, pos)
            r = word >> (32 - k)
            if r < n:
                break
        t = x[i]
        x[i] = x[r]
        x[r] = t
    return pos
