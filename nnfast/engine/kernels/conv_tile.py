"""A convolution's product and its max-pooling in one kernel, from register tiles: chapter 6's second layer.

``conv_pool_forward`` replaces ``np.dot(cols, K.T, Z)`` then ``conv.pool_forward`` where each pooling window
holds a multiple of four positions (the book's 2x2): every tile is one window's four patch rows against
four filters, sixteen dot products over the patch (``cols`` rows, contiguous), kept in registers
(``_dot4x4``: LLVM vectorises the sixteen sums along the patch) and maxed at once, so the maps ``Z`` are
never written and the positions no window covers (ignore_border) never computed. Measured on one thread,
float32, the book's second layer at m = 10 (640 x 500 patches, 40 filters, CPU time): numba's ``np.dot``
(OpenBLAS) and ``pool_forward`` 235 us -> 177 us. On the book's first layer (25 taps: too short for
these sums) it loses (118 -> 260 us): ``conv_stack`` keeps it for patches of at least ``MIN_TAPS``.
"""

from .conv import RELU
from .jit import kernel

MIN_TAPS = 64  # patch length from which the tiles beat the GEMM and pool_forward (500: 1.3x; 25: 0.45x)


@kernel(inline="always")
def _dot4x4(a0, a1, a2, a3, b0, b1, b2, b3):
    """The sixteen dot products of rows ``a0..a3`` with rows ``b0..b3`` (all of one length), by ``a`` row."""
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = a0.dtype.type(0)
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = a0.dtype.type(0)
    for k in range(len(a0)):
        x0, x1, x2, x3 = a0[k], a1[k], a2[k], a3[k]
        y0, y1, y2, y3 = b0[k], b1[k], b2[k], b3[k]
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s03 += x0 * y3
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s13 += x1 * y3
        s20 += x2 * y0
        s21 += x2 * y1
        s22 += x2 * y2
        s23 += x2 * y3
        s30 += x3 * y0
        s31 += x3 * y1
        s32 += x3 * y2
        s33 += x3 * y3
    return (s00, s01, s02, s03), (s10, s11, s12, s13), (s20, s21, s22, s23), (s30, s31, s32, s33)


@kernel(inline="always")
def _max4(v, w, t, q):
    """The running maxima ``v`` and their positions ``w`` of four filters after a position ``q`` whose
    values are ``t``: strictly greater wins (the first of equal values stays, as ``pool_forward``)."""
    v0, v1, v2, v3 = v
    w0, w1, w2, w3 = w
    if t[0] > v0:
        v0, w0 = t[0], q
    if t[1] > v1:
        v1, w1 = t[1], q
    if t[2] > v2:
        v2, w2 = t[2], q
    if t[3] > v3:
        v3, w3 = t[3], q
    return (v0, v1, v2, v3), (w0, w1, w2, w3)


@kernel(inline="always")
def _store(pr, ar, b, act, f, v, w):
    """Filter ``f``'s pooled output: its maximum ``v`` plus the bias, through ReLU when ``act`` says; winner ``w``."""
    y = v + b[f]
    if act == RELU and not y > 0:
        y = y * 0  # NaN stays NaN, as np.maximum keeps it
    pr[f] = y
    ar[f] = w


@kernel
def conv_pool_forward(cols, K, Hz, Wz, ph, pw, b, act, P, arg):
    """``pool_forward(cols @ K.T, Hz, Wz, ph, pw, b, act, P, arg)`` without the maps: patches ``cols
    (m*Hz*Wz, n_k)``, filters ``K (F, n_k)``, outputs ``P`` and winners ``arg`` ``(m, Hp, Wp, F)``, written
    as ``pool_forward`` writes them. Needs ``ph*pw`` a multiple of 4; any ``F`` (the last tile repeats a
    filter)."""
    m, Hp, Wp, F = P.shape
    for n in range(m):
        base = n * Hz * Wz
        for a in range(Hp):
            for bb in range(Wp):
                corner = (a * ph) * Wz + bb * pw
                pr, ar = P[n, a, bb], arg[n, a, bb]
                for f in range(0, F, 4):
                    f1, f2, f3 = min(f + 1, F - 1), min(f + 2, F - 1), min(f + 3, F - 1)
                    k0, k1, k2, k3 = K[f], K[f1], K[f2], K[f3]
                    v = (pr[f], pr[f], pr[f], pr[f])  # typed placeholders: position 0 sets both first
                    w = (0, 0, 0, 0)
                    for q in range(0, ph * pw, 4):  # four positions of the window, in row-major order
                        at0 = corner + (q // pw) * Wz + q % pw
                        at1 = corner + ((q + 1) // pw) * Wz + (q + 1) % pw
                        at2 = corner + ((q + 2) // pw) * Wz + (q + 2) % pw
                        at3 = corner + ((q + 3) // pw) * Wz + (q + 3) % pw
                        t0, t1, t2, t3 = _dot4x4(cols[base + at0], cols[base + at1], cols[base + at2],
                                                 cols[base + at3], k0, k1, k2, k3)
                        if q == 0:
                            v, w = t0, (at0, at0, at0, at0)
                        else:
                            v, w = _max4(v, w, t0, at0)
                        v, w = _max4(v, w, t1, at1)
                        v, w = _max4(v, w, t2, at2)
                        v, w = _max4(v, w, t3, at3)
                    _store(pr, ar, b, act, f, v[0], w[0])
                    if f1 > f:  # the last tile's repeated filters are not stored
                        _store(pr, ar, b, act, f1, v[1], w[1])
                    if f2 > f1:
                        _store(pr, ar, b, act, f2, v[2], w[2])
                    if f3 > f2:
                        _store(pr, ar, b, act, f3, v[3], w[3])
