"""The sigmoid on whole matrices, in place, with an exp that vectorises.

numba calls libm's ``exp`` one value at a time (pip's llvmlite has no vector
math library), which was 12% of an epoch; this one is computed inline:
exact range reduction by ln 2, a Taylor series, 2^n built from n's bits.
"""

import numpy as np

from .jit import kernel


@kernel
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


@kernel
def _tanh_inplace(Z):
    """Z[:] = tanh(Z) for a 2-D array (a loop: numba compiles its ``np.tanh`` ufunc machinery slowly)."""
    for row in range(Z.shape[0]):
        zr = Z[row]
        for k in range(zr.shape[0]):
            zr[k] = np.tanh(zr[k])
