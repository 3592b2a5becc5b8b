"""The backward pass and SGD step of one of chapter 6's fully connected layers, in one pass over its weights.

At the book's mini-batch of 10 a 1000 x 1000 layer's weights (4 MB) are far larger than the work
on them: numpy's way (dw = xd.T @ dz, dx = dz @ w.T, then dw *= eta and w -= dw) reads or writes the
weights or a weight-sized gradient seven times a step. Here each row of ``w`` is read once while it is
in the L1 cache, gives its column of ``dx`` (the old weights, as the book's gradient needs), and is
updated in place. Inputs dropped by dropout (zero in ``xd``) are skipped: half the work at p = 0.5.
"""

import numpy as np

from numba import prange

from .jit import kernel


@kernel(parallel=True)
def backward_step(w, xd, mask, has_mask, dz, step, keep, want_dx, dx, want_l2, parts):
    """``backward_rows`` over all of ``w``'s rows, cut into ``parts`` runs of rows on numba's threads (each
    row's work is its own: its column of ``dx``, its weights); returns the sum of their sum(w^2)."""
    n_in = w.shape[0]
    l2 = 0.0
    for p in prange(parts):
        q = np.int64(p)  # p is unsigned in a prange: as int64 the kernel compiled for one part serves here too
        l2 += backward_rows(w, xd, mask, has_mask, dz, step, keep, want_dx, dx, want_l2,
                            q * n_in // parts, (q + 1) * n_in // parts)
    return l2


@kernel
def backward_rows(w, xd, mask, has_mask, dz, step, keep, want_dx, dx, want_l2, lo, hi):
    """One fully connected layer, ``w (n_in, n_out)``, inputs as used ``xd (m, n_in)`` (after dropout),
    dropout ``mask (m, n_in)`` when ``has_mask``, ``dz (m, n_out)`` the gradient at its weighted input:
    ``dx (m, n_in) = (dz @ w.T) * mask`` with the weights before the step (when ``want_dx``), then
    ``w = keep * w - step * (xd.T @ dz)`` (``keep`` = 1 - eta * lmbda / n: the L2 term's share).
    Returns sum(w^2) of the weights before the step when ``want_l2`` (the cost's L2 term), else 0.
    Only rows ``lo:hi`` of ``w`` (columns of ``xd``, ``mask``, ``dx``) are read and written."""
    m = xd.shape[0]
    n_out = w.shape[1]
    un_out = np.uint64(n_out)  # unsigned indices: numba wraps no negative index, which would stop the vectoriser
    wide = n_out >= 32  # rows long enough for several samples a pass (a row of 10: one a pass, no list, is faster)
    rows = np.empty(m, dtype=np.int64)
    coef = np.empty(m, dtype=w.dtype)
    zero = w.dtype.type(0)
    l2 = 0.0
    for i in range(lo, hi):
        wr = w[i]
        if want_l2:
            row_l2 = zero
            for j in range(n_out):
                row_l2 += wr[j] * wr[j]
            l2 += row_l2
        if want_dx and not wide:  # a sample at a time, no list (narrow rows: the softmax's 10)
            for b in range(m):
                if has_mask and mask[b, i] == 0:
                    dx[b, i] = zero
                    continue
                db = dz[b]
                acc = zero
                for j in range(n_out):
                    acc += db[j] * wr[j]
                dx[b, i] = acc
        elif want_dx:
            k = 0  # the samples the mask keeps, eight, four, two, one a pass along the row: independent sums (a sample
            # at a time, a dot of 100 was one chain; the book's 640 x 100 dx+step 84 -> 74 us, 640 x 1000 at p = 0.5 248 -> 200)
            for b in range(m):
                if has_mask and mask[b, i] == 0:
                    dx[b, i] = zero
                else:
                    rows[k] = b
                    k += 1
            q = 0
            while q + 8 <= k:
                b0, b1, b2, b3 = rows[q], rows[q + 1], rows[q + 2], rows[q + 3]
                b4, b5, b6, b7 = rows[q + 4], rows[q + 5], rows[q + 6], rows[q + 7]
                a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = zero
                for j in range(un_out):
                    v = wr[j]
                    a0 += dz[b0, j] * v
                    a1 += dz[b1, j] * v
                    a2 += dz[b2, j] * v
                    a3 += dz[b3, j] * v
                    a4 += dz[b4, j] * v
                    a5 += dz[b5, j] * v
                    a6 += dz[b6, j] * v
                    a7 += dz[b7, j] * v
                dx[b0, i], dx[b1, i], dx[b2, i], dx[b3, i] = a0, a1, a2, a3
                dx[b4, i], dx[b5, i], dx[b6, i], dx[b7, i] = a4, a5, a6, a7
                q += 8
            while q + 4 <= k:
                b0, b1, b2, b3 = rows[q], rows[q + 1], rows[q + 2], rows[q + 3]
                d0, d1, d2, d3 = dz[b0], dz[b1], dz[b2], dz[b3]
                a0 = a1 = a2 = a3 = zero
                for j in range(un_out):
                    v = wr[j]
                    a0 += d0[j] * v
                    a1 += d1[j] * v
                    a2 += d2[j] * v
                    a3 += d3[j] * v
                dx[b0, i], dx[b1, i], dx[b2, i], dx[b3, i] = a0, a1, a2, a3
                q += 4
            if q + 2 <= k:
                b0, b1 = rows[q], rows[q + 1]
                d0, d1 = dz[b0], dz[b1]
                a0 = a1 = zero
                for j in range(un_out):
                    v = wr[j]
                    a0 += d0[j] * v
                    a1 += d1[j] * v
                dx[b0, i], dx[b1, i] = a0, a1
                q += 2
            while q < k:
                b0 = rows[q]
                d0 = dz[b0]
                a0 = zero
                for j in range(n_out):
                    a0 += d0[j] * wr[j]
                dx[b0, i] = a0
                q += 1
        if keep != 1:
            for j in range(n_out):
                wr[j] *= keep
        k = 0
        for b in range(m):
            c = step * xd[b, i]
            if c != 0:
                rows[k] = b
                coef[k] = c
                k += 1
        q = 0
        while q + 8 <= k and wide:  # eight samples a pass: eight multiply-adds per load and store of the row
            c0, c1, c2, c3 = coef[q], coef[q + 1], coef[q + 2], coef[q + 3]
            c4, c5, c6, c7 = coef[q + 4], coef[q + 5], coef[q + 6], coef[q + 7]
            r0, r1, r2, r3 = rows[q], rows[q + 1], rows[q + 2], rows[q + 3]
            r4, r5, r6, r7 = rows[q + 4], rows[q + 5], rows[q + 6], rows[q + 7]
            for j in range(un_out):
                wr[j] -= (((c0 * dz[r0, j] + c1 * dz[r1, j]) + (c2 * dz[r2, j] + c3 * dz[r3, j]))
                          + ((c4 * dz[r4, j] + c5 * dz[r5, j]) + (c6 * dz[r6, j] + c7 * dz[r7, j])))
            q += 8
        while q + 4 <= k:  # four samples a pass: four multiply-adds per load and store of the row
            c0, c1, c2, c3 = coef[q], coef[q + 1], coef[q + 2], coef[q + 3]
            d0, d1, d2, d3 = dz[rows[q]], dz[rows[q + 1]], dz[rows[q + 2]], dz[rows[q + 3]]
            for j in range(n_out):
                wr[j] -= (c0 * d0[j] + c1 * d1[j]) + (c2 * d2[j] + c3 * d3[j])
            q += 4
        while q < k:
            c0 = coef[q]
            d0 = dz[rows[q]]
            for j in range(n_out):
                wr[j] -= c0 * d0[j]
            q += 1
    return l2


@kernel(parallel=True)
def forward(x, w, b, z, parts):
    """``forward_rows`` on all of ``x``'s rows, cut into ``parts`` runs of samples on numba's threads."""
    m = x.shape[0]
    for p in prange(parts):
        q = np.int64(p)  # as in backward_step
        forward_rows(x, w, b, z, q * m // parts, (q + 1) * m // parts)


@kernel
def forward_rows(x, w, b, z, lo, hi):
    """Rows ``lo:hi`` of ``z = x @ w + b`` (``x (m, n_in)``, ``w (n_in, n_out)``), one sample at a time:
    each input that is not zero adds its row of weights to the sample's ``z`` row (in the L1 cache).
    With dropout and ReLU most inputs are zero: measured at m = 10, a quarter of them non-zero,
    640 x 1000 149 us and 1000 x 1000 245 us, where BLAS took 236 and 371 (it multiplies the zeros), and
    101 us for the latter with its samples on two threads; for dense inputs BLAS is faster (the caller picks)."""
    n_in = x.shape[1]
    n_out = w.shape[1]
    for s in range(lo, hi):
        zr = z[s]
        for j in range(n_out):
            zr[j] = b[j]
        xr = x[s]
        for i in range(n_in):
            c = xr[i]
            if c != 0:
                wr = w[i]
                for j in range(n_out):
                    zr[j] += c * wr[j]


@kernel
def forward_inputs(x, w, b, z):
    """``z = x @ w + b`` (``x (m, n_in)``, ``w (n_in, n_out)``) on one thread, each row of weights read once:
    the samples whose input ``i`` is not zero add ``w[i]`` to their row of ``z`` (``m`` rows, in the L1/L2
    cache). Measured on one thread, the dropout net's three products at a quarter of the inputs non-zero
    (4 MB of other data read between calls, as a step's conv layers do): BLAS 625 us, ``forward_rows``
    (each row of weights re-read per sample) 390 us, this 345; at 35% non-zero 650-730 / 540 / 470; at half,
    BLAS as fast."""
    m, n_in = x.shape
    n_out = w.shape[1]
    for s in range(m):
        zr = z[s]
        for j in range(n_out):
            zr[j] = b[j]
    for i in range(n_in):
        wr = w[i]
        for s in range(m):
            c = x[s, i]
            if c != 0:
                zr = z[s]
                for j in range(n_out):
                    zr[j] += c * wr[j]


@kernel
def dense_product(x, w, b, z):
    """``z = x @ w + b`` (``x (m, n_in)``, ``w (n_in, n_out)``) on one thread, for dense inputs and rows of at least
    a few vectors: two samples' rows of ``z`` at a time, each pass along them adding four rows of weights (eight
    multiply-adds per load and store of the pair), no array view made in the loops (each costs two atomic
    reference counts) and unsigned indices (numba wraps no negative index, which would stop the vectoriser).
    Measured on one thread, float32, the two-conv net's 640 x 100 at m = 10: BLAS (numba's ``np.dot``) 38-43 us,
    this 21 us (1000 x 1000: 684 -> 261; the dropout net's sparse inputs stay on ``forward_inputs``)."""
    m, n_in = x.shape
    n_out = np.uint64(w.shape[1])
    for s in range(m):
        for j in range(n_out):
            z[s, j] = b[j]
    for s in range(0, m - 1, 2):
        t = s + 1
        i = 0
        while i + 4 <= n_in:
            x0, x1, x2, x3 = x[s, i], x[s, i + 1], x[s, i + 2], x[s, i + 3]
            y0, y1, y2, y3 = x[t, i], x[t, i + 1], x[t, i + 2], x[t, i + 3]
            for j in range(n_out):
                w0, w1, w2, w3 = w[i, j], w[i + 1, j], w[i + 2, j], w[i + 3, j]
                z[s, j] += (x0 * w0 + x1 * w1) + (x2 * w2 + x3 * w3)
                z[t, j] += (y0 * w0 + y1 * w1) + (y2 * w2 + y3 * w3)
            i += 4
        while i < n_in:
            x0, y0 = x[s, i], x[t, i]
            for j in range(n_out):
                z[s, j] += x0 * w[i, j]
                z[t, j] += y0 * w[i, j]
            i += 1
    if m % 2:  # the last of an odd count alone
        s = m - 1
        i = 0
        while i + 4 <= n_in:
            x0, x1, x2, x3 = x[s, i], x[s, i + 1], x[s, i + 2], x[s, i + 3]
            for j in range(n_out):
                z[s, j] += (x0 * w[i, j] + x1 * w[i + 1, j]) + (x2 * w[i + 2, j] + x3 * w[i + 3, j])
            i += 4
        while i < n_in:
            x0 = x[s, i]
            for j in range(n_out):
                z[s, j] += x0 * w[i, j]
            i += 1
