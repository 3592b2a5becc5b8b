"""numba kernels of chapter 6's convolutional layers: 'valid' convolution and max-pooling, both ways.

Shapes (the book's, Theano's): inputs ``X (m, C, H, W)``, filters ``K (F, C, fh, fw)``, convolution
``Z (m, F, H-fh+1, W-fw+1)``, pooled ``P (m, F, (H-fh+1)//ph, (W-fw+1)//pw)`` (ignore_border: a
partial pooling window at the edge is dropped). The convolution is a true one, as Theano's
``conv2d``: the callers pass the filters already flipped (``K[:, :, ::-1, ::-1]``), so these
kernels compute a correlation with them. Bias and activation come after pooling, in the caller.

Every kernel runs its outer loop over samples (or filters, for the weight gradient) with
``prange``: a convolutional mini-batch is ~100 MFLOP, enough work for every core. The thread count
is numba's, set in one place (``nnfast._dense.compute_threads`` via ``numba.set_num_threads``).
Nothing compiles at import; ``cache=True`` keeps the machine code for the next process.
"""

import numpy as np
from numba import njit, prange

from ._kernels import FASTMATH

CONV_OPTIONS = dict(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", boundscheck=False, parallel=True)


@njit(**CONV_OPTIONS)
def conv_pool_forward(X, K, ph, pw, P, arg):
    """P = max-pool(correlate(X, K)); ``arg[n, f, a, b]`` = the flat index (i * Wz + j) of the winner
    in the convolution map, the first of equal values (for the gradient's routing).

    X (m, C, H, W), K (F, C, fh, fw) flipped filters, P and arg (m, F, Hp, Wp).
    """
    m, C, H, W = X.shape
    F, _, fh, fw = K.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    Hp, Wp = P.shape[2], P.shape[3]
    for n in prange(m):
        z = np.empty((Hz, Wz), dtype=X.dtype)  # this sample's convolution map, one filter at a time
        x = X[n]
        for f in range(F):
            z[:, :] = 0
            for c in range(C):
                xc = x[c]
                kc = K[f, c]
                for u in range(fh):
                    for v in range(fw):
                        k = kc[u, v]
                        for i in range(Hz):
                            zi = z[i]
                            xi = xc[i + u]
                            for j in range(Wz):
                                zi[j] += k * xi[j + v]
            for a in range(Hp):
                for b in range(Wp):
                    best = z[a * ph, b * pw]
                    where = (a * ph) * Wz + b * pw
                    for di in range(ph):
                        for dj in range(pw):
                            val = z[a * ph + di, b * pw + dj]
                            if val > best:
                                best = val
                                where = (a * ph + di) * Wz + b * pw + dj
                    P[n, f, a, b] = best
                    arg[n, f, a, b] = where


@njit(**CONV_OPTIONS)
def conv_pool_backward(X, K, dP, arg, dK, dX, want_dX):
    """From dP (the gradient at the pooled maps, before bias and activation), route each to its
    winner and return the gradients of the flipped filters ``dK (F, C, fh, fw)`` and, when
    ``want_dX``, of the inputs ``dX (m, C, H, W)``.

    dK[f, c, u, v] = sum_n sum_(i,j) dZ[n, f, i, j] X[n, c, i+u, j+v];
    dX[n, c, y, x] = sum_f sum_(u,v) dZ[n, f, y-u, x-v] K[f, c, u, v].
    """
    m, C, H, W = X.shape
    F, _, fh, fw = K.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    Hp, Wp = dP.shape[2], dP.shape[3]
    # the weight gradient sums over samples: one filter per thread, no two threads write the same place
    for f in prange(F):
        dK[f] = 0
        for n in range(m):
            for a in range(Hp):
                for b in range(Wp):
                    g = dP[n, f, a, b]
                    if g == 0:
                        continue
                    i, j = divmod(arg[n, f, a, b], Wz)
                    for c in range(C):
                        xc = X[n, c]
                        dkc = dK[f, c]
                        for u in range(fh):
                            for v in range(fw):
                                dkc[u, v] += g * xc[i + u, j + v]
    if want_dX:
        for n in prange(m):
            dX[n] = 0
            for f in range(F):
                for a in range(Hp):
                    for b in range(Wp):
                        g = dP[n, f, a, b]
                        if g == 0:
                            continue
                        i, j = divmod(arg[n, f, a, b], Wz)
                        for c in range(C):
                            dxc = dX[n, c]
                            kc = K[f, c]
                            for u in range(fh):
                                for v in range(fw):
                                    dxc[i + u, j + v] += g * kc[u, v]
