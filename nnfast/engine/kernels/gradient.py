"""The backward pass: output and hidden deltas, and each layer's gradient fused with weight decay and the update.

Same layout as ``forward`` (``params``/``grads`` flat buffers, samples as rows).
"""

from .costs import CROSS_ENTROPY
from .forward import _columns, _span, _view
from .jit import helper, kernel


@helper
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


@helper
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


@helper
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


@helper
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


@helper
def _accumulate_row(D, A_prev, T, j, scale, lo, hi):
    """T[j] += scale * sum_s D[s, j] * A_prev[s]: the rows left over after blocks of four."""
    for s in range(D.shape[0]):
        k0, k1 = _columns(lo, hi, s, T.shape[1])
        g0 = _span(T, j, k0, k1)
        a0 = _span(A_prev, s, k0, k1)
        d0 = scale * D[s, j]
        for k in range(k1 - k0):
            g0[k] += d0 * a0[k]


@kernel(inline="always")
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


@kernel(inline="always")
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
