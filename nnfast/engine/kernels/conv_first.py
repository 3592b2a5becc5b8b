"""Chapter 6's first convolutional layer (one input channel: MNIST's images) without patch rows or GEMM.

The book's first layer is 20 filters of 5x5 on 28x28 images: patches of 25 taps, too short for BLAS or
``conv_tile``'s register tiles (numba's ``np.dot`` on the 5,760 x 25 patch rows: 72 us a mini-batch of 10, their
copy 57 us more). Here each filter's map is a correlation of the flat image: with the map's rows at the image's
row pitch W, tap (u, v) of every position is one run of the image, ``x[p + u*W + v]``, so a filter row's five
taps are five shifted loads along one long loop that LLVM vectorises (``_taps5``: two filters a pass, sharing the
loads); the map is then pooled into the channels-last outputs ``conv.pool_forward`` writes (the same values and
winners). The backward pass needs only the filter gradient (the layer's input has none): each filter's pooled
gradient routed to its winners, a map of the same flat layout (zeros elsewhere), correlated with the image in
``conv_tile._dot4x4``'s 4 x 4 register tiles (four filters by four taps, sums along the whole map, loads only).
That is four times the multiply-adds of summing the winners' patch rows (``conv.pool_backward_filters``), at
several times the speed. Measured on one thread, m = 10, CPU time, the first layer alone against the patch rows
(im2col, ``np.dot``, ``pool_forward``; ``pool_backward_filters``; ``python -m benchmarks.conv_ab OLD NEW --layer1``,
busy machine): float32 sigmoid forward 184 -> 138 us, backward 141 -> 83; ReLU 181 -> 116, 103 -> 82; float64
sigmoid 260 -> 217, 154 -> 116; ReLU 235 -> 178, 119 -> 120 (ReLU's zero gradients, which the winners' rows
skip, cost the dense maps as much as any). Compiling costs more: ``conv_stack``'s parts about +4 s and +2.3 s.

``forward_first`` keeps the image in the patch workspace (``keep``: the backward pass reads it there) and uses
the maps' workspace (``work``) for one filter pair's maps at a time and, at 2x2 pooling, an image's pooled
values and winners, filter by filter; ``fused_first`` says where both fit.
"""

import numpy as np

from .conv import RELU, SIGMOID, TANH
from .conv_tile import _dot4x4
from .jit import helper, kernel

_1 = np.uint64(1)


@helper(inline="always")
def _taps5(z1, z2, xs, a0, a1, a2, a3, a4, c0, c1, c2, c3, c4):
    """Two filters' maps ``z1``, ``z2`` (flat, row pitch W) += five taps of a filter row each, from the image
    ``xs`` shifted to the row's first tap: the five shifted loads serve both filters."""
    for p in range(len(z1)):
        x0, x1, x2, x3, x4 = xs[p], xs[p + 1], xs[p + 2], xs[p + 3], xs[p + 4]
        z1[p] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3) + a4 * x4
        z2[p] += (c0 * x0 + c1 * x1) + (c2 * x2 + c3 * x3) + c4 * x4


@helper(inline="always")
def _taps1(z1, z2, xs, a0, c0):
    """``_taps5`` for one tap."""
    for p in range(len(z1)):
        z1[p] += a0 * xs[p]
        z2[p] += c0 * xs[p]


@helper
def _pool2x2(z, W, Hp, Wp, bf, act, pooled, won, at):
    """A filter's map ``z`` (flat, row pitch W) max-pooled 2x2: ``pooled[at + a*Wp + bb]`` the window's maximum plus
    the bias ``bf`` (ReLU when ``act`` says), ``won[...]`` which of its four positions (row-major, the first of equal
    values: 0-3) holds it, as ``conv.pool_forward`` compares them (NaN too). Only the windows' own positions are
    read, and the stores are contiguous (a filter's outputs in the channels-last ``P`` are F apart: ``forward_first``
    transposes an image's at once). Measured on one thread, float32, the book's first layer at m = 10:
    ``forward_first`` 120-140 -> 110-129 us (0.91, A/B alternated; every position's window, then a strided store a
    window). Of the rest, about 50 us are the taps, 40 this, 30 the transpose. Then unsigned indices and selects
    in place of the (value, winner) tuple branches, so that LLVM vectorises the windows (stride-2 loads):
    ``forward_first`` float32 140 -> 112 us (0.78; float64 0.94; ``benchmarks.conv_ab --layer1``, load 3).
    """
    zero, one, two, three = won.dtype.type(0), won.dtype.type(1), won.dtype.type(2), won.dtype.type(3)
    relu = act == RELU
    w = np.uint64(W)
    for a in range(Hp):
        r, o = np.uint64((2 * a) * W), np.uint64(at + a * Wp)
        for bb in range(np.uint64(Wp)):  # unsigned, selects, no branch: LLVM vectorises the windows
            p = r + bb + bb
            z0, z1, z2, z3 = z[p], z[p + _1], z[p + w], z[p + w + _1]
            c = one if z1 > z0 else zero
            v = z1 if z1 > z0 else z0
            c = two if z2 > v else c
            v = z2 if z2 > v else v
            c = three if z3 > v else c
            v = z3 if z3 > v else v
            y = v + bf
            pooled[o + bb] = y * 0 if relu and not y > 0 else y  # NaN stays NaN, as np.maximum keeps it
            won[o + bb] = c


@helper
def _transpose2x2(pooled, won, Hp, Wp, F, Wz, Pf, af, n):
    """Image ``n``'s pooled values and winners (``_pool2x2``'s, filter-major) into the channels-last outputs ``Pf``
    and ``af`` (flat), the winners as flat map positions. Unsigned indices and no view: LLVM vectorises it."""
    hw, f_ = np.uint64(Hp * Wp), np.uint64(F)
    wz = np.int64(Wz)
    for a in range(np.uint64(Hp)):
        for bb in range(np.uint64(Wp)):
            q = a * np.uint64(Wp) + bb
            o = (np.uint64(n) * hw + q) * f_
            at = np.int64(a + a) * wz + np.int64(bb + bb)
            for ff in range(f_):
                Pf[o + ff] = pooled[ff * hw + q]
                c = np.int64(won[ff * hw + q])
                af[o + ff] = at + (c & 1) + (c >> 1) * wz


@helper
def _pool_filter(z, W, Wz, ph, pw, b, act, P, arg, f, n):
    """Filter ``f``'s map ``z`` (flat, row pitch W) pooled into ``P[n, :, :, f]``, its winners (flat positions
    i*Wz + j) into ``arg``, as ``conv.pool_forward`` writes them (windows other than 2x2: ``_pool2x2``'s)."""
    _, Hp, Wp, F = P.shape
    bf = b[f]
    pv, av = P[n, :, :, f], arg[n, :, :, f]
    for a in range(Hp):
        for bb in range(Wp):
            p0 = (a * ph) * W + bb * pw
            v, w = z[p0], (a * ph) * Wz + bb * pw
            for di in range(ph):
                for dj in range(pw):
                    zz = z[p0 + di * W + dj]
                    if zz > v:
                        v, w = zz, (a * ph + di) * Wz + bb * pw + dj
            y = v + bf
            if act == RELU and not y > 0:
                y = y * 0
            pv[a, bb] = y
            av[a, bb] = w


@kernel(inline="always")
def fused_first(k, C, H, W, F, fh, fw, ph, pw, m, keep_size, work_size):
    """Whether layer ``k`` runs on this file's kernels: the first layer, of one channel, where the workspaces
    hold the image (``keep``, for the backward pass) and a map buffer (``work``)."""
    Hz, Wz = H - fh + 1, W - fw + 1
    L = (Hz - 1) * W + Wz
    need = max(2 * L + 2 * F * (Hz // ph) * (Wz // pw), 4 * ((F + 3) // 4) * L)
    return k == 0 and C == 1 and m * H * W <= keep_size and need <= work_size


@kernel
def forward_first(x, H, W, fh, fw, ph, pw, K, b, act, P, arg, keep, work):
    """``conv_stack``'s first layer for images ``x (m, H*W)`` of one channel: ``P``, ``arg`` ``(m, Hp, Wp, F)``
    as ``im2col``, the product with the flipped filters ``K (F, fh*fw)`` and ``conv.pool_forward`` write them
    (bias ``b`` added, ReLU applied when ``act`` says; the caller applies the others). Each image's maps are
    computed a filter pair at a time into ``work`` (flat, row pitch W: ``(Hz-1)*W + Wz`` values a map, the
    columns past Wz never read) and pooled from there; the images are copied into ``keep`` for
    ``backward_first``. ``fused_first`` says whether ``keep`` and ``work`` are large enough."""
    m, Hp, Wp, F = P.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    L = (Hz - 1) * W + Wz
    for n in range(m):  # element by element: a slice assigned from an array costs numba a second more to compile
        xn, kn = x[n], keep[n * H * W:(n + 1) * H * W]
        for e in range(H * W):
            kn[e] = xn[e]
    z1, z2 = work[:L], work[L:2 * L]
    e = 2 * L  # 2x2 pooling: every filter's pooled values and winners (0-3 in the window), filter-major
    pooled, won = work[e:e + F * Hp * Wp], work[e + F * Hp * Wp:e + 2 * F * Hp * Wp]
    Pf, af = P.reshape(m * Hp * Wp * F), arg.reshape(m * Hp * Wp * F)
    for n in range(m):
        xf = x[n]
        for f in range(0, F, 2):
            g = min(f + 1, F - 1)
            k1, k2 = K[f], K[g]
            z1[:] = 0
            z2[:] = 0
            for u in range(fh):
                v = 0
                while v + 5 <= fw:
                    t = u * fw + v
                    _taps5(z1, z2, xf[u * W + v:], k1[t], k1[t + 1], k1[t + 2], k1[t + 3],
                           k1[t + 4], k2[t], k2[t + 1], k2[t + 2], k2[t + 3], k2[t + 4])
                    v += 5
                while v < fw:
                    t = u * fw + v
                    _taps1(z1, z2, xf[u * W + v:], k1[t], k2[t])
                    v += 1
            if ph == 2 and pw == 2:
                _pool2x2(z1, W, Hp, Wp, b[f], act, pooled, won, f * Hp * Wp)
                if g > f:
                    _pool2x2(z2, W, Hp, Wp, b[g], act, pooled, won, g * Hp * Wp)
                continue
            _pool_filter(z1, W, Wz, ph, pw, b, act, P, arg, f, n)
            if g > f:
                _pool_filter(z2, W, Wz, ph, pw, b, act, P, arg, g, n)
        if ph == 2 and pw == 2:  # the image's pooled maps, filter-major, into the channels-last outputs
            _transpose2x2(pooled, won, Hp, Wp, F, Wz, Pf, af, n)


@helper(inline="always")
def _slope(g, y, act, one):
    """The gradient ``g`` at an output ``y`` times the activation's slope there (as ``conv.pool_backward``)."""
    if act == RELU:
        return g if y > 0 else g * 0
    if act == SIGMOID:
        return g * (y * (one - y))
    if act == TANH:
        return g * (one - y * y)
    return g


@kernel
def backward_first(d_out, out, act, arg, keep, H, W, fh, fw, ph, pw, dK, db, work):
    """The filter gradient ``dK (F, fh*fw)`` (flipped, as ``K``) and bias gradient ``db (F,)``, summed over the
    images, from the gradient ``d_out`` at ``forward_first``'s outputs ``out`` (after ``act``) and winners
    ``arg`` (all ``(m, Hp, Wp, F)``), the images in ``keep``; ``work`` holds the routed gradient maps, of
    every filter (``fused_first``). Equal to ``pool_backward``'s ``dZ.T @ cols``: inf and NaN propagate as that
    product propagates them, zero gradients included (where an image holds an inf or a NaN, the sums run row
    by row over the maps' own columns only, so that no 0 * inf is added that the product does not add)."""
    m, Hp, Wp, F = d_out.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    L = (Hz - 1) * W + Wz
    T = fh * fw
    dK[:] = 0
    db[:] = 0
    x = keep[:m * H * W]
    one = d_out.dtype.type(1)
    bad = one * 0
    for e in range(len(x)):
        bad += x[e] * 0  # NaN once any pixel is inf or NaN
    whole = bad == 0
    Fq = 4 * ((F + 3) // 4)
    G = work[:Fq * L].reshape((Fq, L))
    Gf = work[:Fq * L]
    gv = np.empty(F, dtype=d_out.dtype)
    at = np.empty(F, dtype=np.int64)
    for n in range(m):
        xf = x[n * H * W:(n + 1) * H * W]
        Gf[:] = 0
        for a in range(Hp):
            for bb in range(Wp):
                q0 = (a * ph) * Wz + bb * pw
                p0 = (a * ph) * W + bb * pw
                dr, yr, ar = d_out[n, a, bb], out[n, a, bb], arg[n, a, bb]
                if ph == 2:
                    for f in range(F):  # vectorises: the gradients and where they go
                        gv[f] = _slope(dr[f], yr[f], act, one)
                        r = ar[f] - q0
                        below = np.int64(r >= Wz)  # the winner in the window's second row
                        at[f] = f * L + p0 + below * (W - Wz) + r
                else:
                    for f in range(F):
                        gv[f] = _slope(dr[f], yr[f], act, one)
                        r = ar[f] - q0
                        di = r * 0
                        for _ in range(ph - 1):  # the winner's row in its window, without a branch to mispredict
                            below = np.int64(r >= Wz)
                            r -= below * Wz
                            di += below
                        at[f] = f * L + p0 + di * W + r
                for f in range(F):
                    Gf[at[f]] = gv[f]
        for f in range(F):  # the bias gradient: each map's sum
            gr = G[f]
            s = one * 0
            for e in range(L):
                s += gr[e]
            db[f] += s
        for q in range((F + 3) // 4):  # four filters by four taps a tile; the last tiles repeat one
            f0 = 4 * q
            g0, g1, g2, g3 = G[f0], G[f0 + 1], G[f0 + 2], G[f0 + 3]
            f1, f2, f3 = min(f0 + 1, F - 1), min(f0 + 2, F - 1), min(f0 + 3, F - 1)
            for tq in range((T + 3) // 4):
                t0 = 4 * tq
                t1, t2, t3 = min(t0 + 1, T - 1), min(t0 + 2, T - 1), min(t0 + 3, T - 1)
                o0, o1 = (t0 // fw) * W + t0 % fw, (t1 // fw) * W + t1 % fw
                o2, o3 = (t2 // fw) * W + t2 % fw, (t3 // fw) * W + t3 % fw
                for i in range(1 if whole else Hz):
                    s, e = (0, L) if whole else (i * W, i * W + Wz)
                    r0, r1, r2, r3 = _dot4x4(g0[s:e], g1[s:e], g2[s:e], g3[s:e], xf[o0 + s:o0 + e], xf[o1 + s:o1 + e],
                                             xf[o2 + s:o2 + e], xf[o3 + s:o3 + e])
                    _add4(dK[f0], r0, t0, t1, t2, t3)
                    if f1 > f0:
                        _add4(dK[f1], r1, t0, t1, t2, t3)
                    if f2 > f1:
                        _add4(dK[f2], r2, t0, t1, t2, t3)
                    if f3 > f2:
                        _add4(dK[f3], r3, t0, t1, t2, t3)


@helper
def _add4(dk, r, t0, t1, t2, t3):
    """``dk[t] += r`` for a tile's four taps, a repeated tap once."""
    dk[t0] += r[0]
    if t1 > t0:
        dk[t1] += r[1]
    if t2 > t1:
        dk[t2] += r[2]
    if t3 > t2:
        dk[t3] += r[3]
