"""numba kernels of chapter 6's convolutional layers: the data movement around one matrix product.

Maps are channels-last throughout: inputs ``X (m, H, W, C)``, filters flattened with columns ordered
``(u, v, c)``, convolution maps ``Hz x Wz = (H-fh+1) x (W-fw+1)`` as the product's rows ``Z (m*Hz*Wz, F)``,
pooled ``P (m, Hp, Wp, F)`` with ``Hp, Wp = Hz//ph, Wz//pw`` (ignore_border: a partial pooling window
at the edge is dropped). The callers (``nnfast.engine.conv_layer``, ``kernels.conv_stack``) compute the
'valid' convolution as ``im2col(X) @ flipped_filters.T`` (a true convolution, as Theano's ``conv2d``),
then pool; its gradients are two more products and ``col2im`` (the layer's own ``backward``), or, in
``conv_stack``, sums over the pooling winners only (``pool_backward_filters``, ``pool_input_gradient``).
These kernels do the rest: patches in, patches out, pooling with the winner's index, and routing the
gradient to it. One layout, one kernel
each: numba compiles each kernel once per run (the book's order ``(m, C, H, W)`` is a transpose in
numpy at the net's ends, free for MNIST's one channel).
Measured against direct convolution loops (one thread, 50,000 images, batch 10): the book's one-conv
net 8.5 -> 5.2 s an epoch, its two-conv net 35.8 -> 9.0 s.
Nothing compiles at import; ``cache=True`` keeps the machine code for the next process.
"""

import numpy as np

from .jit import helper, kernel


LINEAR, RELU, SIGMOID, TANH = 0, 1, 2, 3  # activation codes: the pooling kernels apply and differentiate them


@kernel
def im2col(X, fh, fw, cols):
    """cols[(n*Hz + i)*Wz + j, (u*fw + v)*C + c] = X[n, i+u, j+v, c] for ``X (m, H, W, C)``: every
    filter-sized patch as a row, fh runs of fw*C contiguous values (channels-last: a patch's row is one run
    of the input; copies that vectorise: the book's second layer 39 -> 19 us at m = 10, against fh*fw runs of
    C)."""
    m, H, W, C = X.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    run = fw * C
    flat = X.reshape(m * H * W * C)
    for n in range(m):
        for i in range(Hz):
            for j in range(Wz):
                r = (n * Hz + i) * Wz + j
                if C == 1:  # one map (MNIST's input): runs of 5 are too short for vector copies
                    for u in range(fh):
                        k0 = u * fw
                        for v in range(fw):
                            cols[r, k0 + v] = X[n, i + u, j + v, 0]
                    continue
                dst = cols[r]
                for u in range(fh):
                    o = ((n * H + i + u) * W + j) * C
                    d, s = dst[u * run:(u + 1) * run], flat[o:o + run]  # views: indices from range() vectorise
                    for e in range(run):
                        d[e] = s[e]


@kernel
def col2im(dcols, fh, fw, dX):
    """The adjoint of im2col: dX[n, i+u, j+v, c] += dcols[(n*Hz + i)*Wz + j, (u*fw + v)*C + c]."""
    m, H, W, C = dX.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    dX[:] = 0
    for n in range(m):
        for i in range(Hz):
            for j in range(Wz):
                r = (n * Hz + i) * Wz + j
                for u in range(fh):
                    for v in range(fw):
                        k0 = (u * fw + v) * C
                        for c in range(C):
                            dX[n, i + u, j + v, c] += dcols[r, k0 + c]


@helper
def _pool_forward4(Z, Hz, Wz, ph, pw, b, act, P, arg):
    """``pool_forward`` for windows of four positions (the book's 2x2; 1x4, 4x1): the four rows of a window
    compared in one pass along the F maps, selects instead of branches, no running arrays, so the pass
    vectorises. Measured on one thread, float32, the book's first layer at m = 10: 45 -> 20 us."""
    m, Hp, Wp, F = P.shape
    for n in range(m):
        base = n * Hz * Wz
        for a in range(Hp):
            for bb in range(Wp):
                p0 = (a * ph) * Wz + bb * pw  # the window's positions in row-major order: the first maximum wins
                p1, p2, p3 = p0 + (1 // pw) * Wz + 1 % pw, p0 + (2 // pw) * Wz + 2 % pw, p0 + (3 // pw) * Wz + 3 % pw
                z0, z1, z2, z3 = Z[base + p0], Z[base + p1], Z[base + p2], Z[base + p3]
                pr, ar = P[n, a, bb], arg[n, a, bb]
                for f in range(F):
                    v, w = z0[f], p0
                    v, w = (z1[f], p1) if z1[f] > v else (v, w)
                    v, w = (z2[f], p2) if z2[f] > v else (v, w)
                    v, w = (z3[f], p3) if z3[f] > v else (v, w)
                    v = v + b[f]
                    if act == RELU and not v > 0:
                        v = v * 0  # NaN stays NaN, as np.maximum keeps it
                    pr[f] = v
                    ar[f] = w


@kernel
def pool_forward(Z, Hz, Wz, ph, pw, b, act, P, arg):
    """Max-pool the maps ``Z (m*Hz*Wz, F)`` (the GEMM's rows: one per position) into ``P (m, Hp, Wp, F)``,
    adding the bias ``b (F,)`` and applying ``act`` when it is LINEAR or RELU (the caller applies the others
    to P in place); ``arg`` (as P) gets each winner's flat position i*Wz + j, the first of equal values.
    Loops run along Z's rows (the F maps of a position are contiguous), keeping a window's running maxima
    in ``best``."""
    m, Hp, Wp, F = P.shape
    if ph * pw == 4:
        _pool_forward4(Z, Hz, Wz, ph, pw, b, act, P, arg)
        return
    best = np.empty(F, dtype=Z.dtype)
    where = np.empty(F, dtype=np.int64)
    for n in range(m):
        base = n * Hz * Wz
        for a in range(Hp):
            for bb in range(Wp):
                first = (a * ph) * Wz + bb * pw
                zr = Z[base + first]
                for f in range(F):
                    best[f] = zr[f]
                    where[f] = first
                for di in range(ph):
                    for dj in range(pw):
                        at = (a * ph + di) * Wz + bb * pw + dj
                        zr = Z[base + at]
                        for f in range(F):
                            if zr[f] > best[f]:
                                best[f] = zr[f]
                                where[f] = at
                pr, ar = P[n, a, bb], arg[n, a, bb]
                for f in range(F):
                    v = best[f] + b[f]
                    if act == RELU and not v > 0:
                        v = v * 0  # NaN stays NaN, as np.maximum keeps it
                    pr[f] = v
                    ar[f] = where[f]


@kernel
def pool_backward(d_out, out, act, arg, Hz, Wz, dZ, db):
    """The gradient at the maps: ``dZ (m*Hz*Wz, F)`` is 0 but at each window's winner, which gets
    ``d_out * act'(out)`` (``d_out``, ``out``, ``arg`` ``(m, Hp, Wp, F)``: the layer's output, its gradient
    and its winners); ``db (F,)`` gets the same summed over the batch and the windows."""
    m, Hp, Wp, F = d_out.shape
    dZ[:] = 0
    db[:] = 0
    zero = d_out.dtype.type(0)
    for n in range(m):
        base = n * Hz * Wz
        for a in range(Hp):
            for bb in range(Wp):
                yr, gr, ar = out[n, a, bb], d_out[n, a, bb], arg[n, a, bb]
                for f in range(F):
                    y, g = yr[f], gr[f]
                    if act == RELU:
                        g = g if y > 0 else zero
                    elif act == SIGMOID:
                        g = g * (y * (1 - y))
                    elif act == TANH:
                        g = g * (1 - y * y)
                    dZ[base + ar[f], f] += g
                    db[f] += g


@kernel
def pool_backward_filters(d_out, out, act, arg, Hz, Wz, cols, dK, db, gs, rows, want_dZ, dZ):
    """``pool_backward`` and the filter gradient ``dK = dZ.T @ cols`` in one, without ``dZ``: each window's
    gradient times the slope goes only to its winner, so ``dK[f]`` is a sum of the winners' patch rows of
    ``cols (m*Hz*Wz, fh*fw*C)``, a quarter of the product's multiply-adds at 2x2 pooling (fewer after ReLU,
    whose zeros are skipped). Measured on one thread, m = 10: the book's second layer's pool_backward and
    product 333-375 us -> 165-170 (sigmoid), 121-130 (ReLU); its first layer's 195-215 -> 128-131.
    ``gs``, ``rows`` ``(F, m*Hp*Wp)`` are workspaces (each filter's non-zero gradients and winners' rows).
    ``dZ`` is written as ``pool_backward`` writes it only when ``want_dZ`` (the input gradient needs it)."""
    m, F = d_out.shape[0], d_out.shape[3]
    starts = winner_lists(d_out, out, act, arg, Hz, Wz, dK, db, gs, rows, want_dZ, dZ)
    # a sample's patch rows at a time, for every filter: they stay in the caches (the book's second layer's
    # 640 rows of 500 do not; sigmoid 139 -> 120 us, one thread, float32)
    for n in range(m):
        for f in range(F):
            _add_rows(dK[f], gs[f], rows[f], starts[n, f], starts[n + 1, f], cols)


@helper
def winner_lists(d_out, out, act, arg, Hz, Wz, dK, db, gs, rows, want_dZ, dZ):
    """``pool_backward_filters``' first half: ``db``, ``dZ`` when ``want_dZ``, and each filter's non-zero
    gradients ``gs[f]`` and its winners' patch rows ``rows[f]``, sample by sample; ``dK`` zeroed. Returns
    ``starts (m+1, F)``: where each sample's winners begin in each filter's list (the last row: the counts)."""
    m, Hp, Wp, F = d_out.shape
    zero = d_out.dtype.type(0)
    counts = np.zeros(F, dtype=np.int64)
    starts = np.empty((m + 1, F), dtype=np.int64)  # where each sample's winners begin in each filter's list
    db[:] = 0
    for f in range(F):
        dK[f][:] = 0
    if want_dZ:
        dZ[:] = 0
    for n in range(m):
        base = n * Hz * Wz
        for f in range(F):  # element by element: a row assigned at once costs numba 1.5 s more to compile
            starts[n, f] = counts[f]
        for a in range(Hp):
            for bb in range(Wp):
                yr, gr, ar = out[n, a, bb], d_out[n, a, bb], arg[n, a, bb]
                for f in range(F):
                    y, g = yr[f], gr[f]
                    if act == RELU:
                        g = g if y > 0 else zero
                    elif act == SIGMOID:
                        g = g * (y * (1 - y))
                    elif act == TANH:
                        g = g * (1 - y * y)
                    db[f] += g
                    if want_dZ:
                        dZ[base + ar[f], f] += g
                    # always written, kept when non-zero (NaN and inf are kept: they must reach the weights, as
                    # the product takes them): no branch to mispredict on ReLU's zeros (152 -> 96 us, layer 1)
                    q = counts[f]
                    gs[f, q] = g
                    rows[f, q] = base + ar[f]
                    counts[f] = q + (g != 0)
    for f in range(F):
        starts[m, f] = counts[f]
    return starts


@helper
def _add_rows(dk, gf, rf, q, k, cols):
    """``dk += sum gf[i] * cols[rf[i]]`` for ``q <= i < k``."""
    n_k = cols.shape[1]
    while q + 4 <= k:  # four winners a pass: four multiply-adds per load and store of dk
        c0, c1, c2, c3 = gf[q], gf[q + 1], gf[q + 2], gf[q + 3]
        r0, r1, r2, r3 = cols[rf[q]], cols[rf[q + 1]], cols[rf[q + 2]], cols[rf[q + 3]]
        for j in range(n_k):
            dk[j] += (c0 * r0[j] + c1 * r1[j]) + (c2 * r2[j] + c3 * r3[j])
        q += 4
    while q < k:
        c0, r0 = gf[q], cols[rf[q]]
        for j in range(n_k):
            dk[j] += c0 * r0[j]
        q += 1


@kernel
def pool_input_gradient(dZ, K, fh, fw, dX):
    """``dX (m, H, W, C)`` = ``col2im(dZ @ K)`` for the maps' gradient ``dZ (m*Hz*Wz, F)`` of
    ``pool_backward_filters``, non-zero only at the pooling winners: each row with non-zero gradients sums its
    filters' rows of ``K (F, fh*fw*C)``, times its gradients, eight then four filters a pass over the whole
    patch (its list padded with zeros to a multiple of four, so no pass is narrower), then adds that patch gradient to
    its patch (fh runs of fw*C contiguous values). Measured on one thread, float32, the book's second layer at
    m = 10 (a quarter of dZ non-zero, as after sigmoid): the product and col2im 290-305 us -> 173-180
    (four filters a pass along each run of fw*C) -> 131 (this)."""
    m, H, W, C = dX.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    F, n_k = K.shape
    run = fw * C
    flat = dX.reshape(m * H * W * C)
    flat[:] = 0
    fs = np.empty(F + 3, dtype=np.int64)
    cs = np.empty(F + 3, dtype=dX.dtype)
    patch = np.empty(n_k, dtype=dX.dtype)
    for r in range(m * Hz * Wz):
        zr = dZ[r]
        k = 0
        for f in range(F):  # the row's non-zero gradients and their filters, without a branch to mispredict
            fs[k] = f
            cs[k] = zr[f]
            k += zr[f] != 0
        if k == 0:
            continue
        while k % 4:  # zeros add nothing (as in the product dZ @ K, an inf or NaN filter still gives NaN)
            fs[k] = 0
            cs[k] = 0
            k += 1
        patch[:] = 0
        q = 0
        while q + 8 <= k:
            c0, c1, c2, c3, c4, c5, c6, c7 = cs[q], cs[q + 1], cs[q + 2], cs[q + 3], cs[q + 4], cs[q + 5], cs[q + 6], cs[q + 7]
            k0, k1, k2, k3 = K[fs[q]], K[fs[q + 1]], K[fs[q + 2]], K[fs[q + 3]]
            k4, k5, k6, k7 = K[fs[q + 4]], K[fs[q + 5]], K[fs[q + 6]], K[fs[q + 7]]
            for e in range(n_k):
                patch[e] += (((c0 * k0[e] + c1 * k1[e]) + (c2 * k2[e] + c3 * k3[e]))
                             + ((c4 * k4[e] + c5 * k5[e]) + (c6 * k6[e] + c7 * k7[e])))
            q += 8
        if q < k:
            c0, c1, c2, c3 = cs[q], cs[q + 1], cs[q + 2], cs[q + 3]
            k0, k1, k2, k3 = K[fs[q]], K[fs[q + 1]], K[fs[q + 2]], K[fs[q + 3]]
            for e in range(n_k):
                patch[e] += (c0 * k0[e] + c1 * k1[e]) + (c2 * k2[e] + c3 * k3[e])
        n, i, j = r // (Hz * Wz), (r // Wz) % Hz, r % Wz
        for u in range(fh):
            o = ((n * H + i + u) * W + j) * C
            dst, src = flat[o:o + run], patch[u * run:(u + 1) * run]  # views: they vectorise
            for e in range(run):
                dst[e] += src[e]
