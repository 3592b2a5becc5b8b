"""numba kernels of chapter 6's convolutional layers: the data movement around one matrix product.

Maps are channels-last throughout: inputs ``X (m, H, W, C)``, filters flattened with columns ordered
``(u, v, c)``, convolution maps ``Hz x Wz = (H-fh+1) x (W-fw+1)`` as the product's rows ``Z (m*Hz*Wz, F)``,
pooled ``P (m, Hp, Wp, F)`` with ``Hp, Wp = Hz//ph, Wz//pw`` (ignore_border: a partial pooling window
at the edge is dropped). The callers (``nnfast.engine.conv_layer``, ``kernels.conv_stack``) compute the
'valid' convolution as ``im2col(X) @ flipped_filters.T`` (a true convolution, as Theano's ``conv2d``),
then pool; its gradients are two more products and ``col2im``. These kernels do the rest: patches in,
patches out, pooling with the winner's index, and routing the gradient to it. One layout, one kernel
each: numba compiles each kernel once per run (the book's order ``(m, C, H, W)`` is a transpose in
numpy at the net's ends, free for MNIST's one channel).
Measured against direct convolution loops (one thread, 50,000 images, batch 10): the book's one-conv
net 8.5 -> 5.2 s an epoch, its two-conv net 35.8 -> 9.0 s.
Nothing compiles at import; ``cache=True`` keeps the machine code for the next process.
"""

import numpy as np

from .jit import kernel


LINEAR, RELU, SIGMOID, TANH = 0, 1, 2, 3  # activation codes: the pooling kernels apply and differentiate them


@kernel
def im2col(X, fh, fw, cols):
    """cols[(n*Hz + i)*Wz + j, (u*fw + v)*C + c] = X[n, i+u, j+v, c] for ``X (m, H, W, C)``: every
    filter-sized patch as a row, fh*fw runs of C contiguous values (copies that vectorise)."""
    m, H, W, C = X.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    for n in range(m):
        for i in range(Hz):
            for j in range(Wz):
                r = (n * Hz + i) * Wz + j
                if C == 1:  # one map (MNIST's input): runs of fw along a row, not fh*fw runs of one value
                    for u in range(fh):
                        k0 = u * fw
                        for v in range(fw):
                            cols[r, k0 + v] = X[n, i + u, j + v, 0]
                    continue
                for u in range(fh):
                    for v in range(fw):
                        k0 = (u * fw + v) * C
                        for c in range(C):
                            cols[r, k0 + c] = X[n, i + u, j + v, c]


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


@kernel
def pool_forward(Z, Hz, Wz, ph, pw, b, act, P, arg):
    """Max-pool the maps ``Z (m*Hz*Wz, F)`` (the GEMM's rows: one per position) into ``P (m, Hp, Wp, F)``,
    adding the bias ``b (F,)`` and applying ``act`` when it is LINEAR or RELU (the caller applies the others
    to P in place); ``arg`` (as P) gets each winner's flat position i*Wz + j, the first of equal values.
    Loops run along Z's rows (the F maps of a position are contiguous), keeping a window's running maxima
    in ``best``."""
    m, Hp, Wp, F = P.shape
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
