"""One of chapter 6's conv-pool layers on a batch: forward and backward, numpy's BLAS for the products.

This is ``network3.ConvPoolLayer``'s own arithmetic (its ``forward`` and ``backward`` call these), the path
of a layer used alone, by ``Network.gradients``, or on Python threads without SciPy; training and
inference of a net run its leading conv layers in ``conv_parts`` instead. Shapes: inputs ``x (m, C*H*W)``
in the book's order, filters ``w (F, C, fh, fw)``, bias ``b (F,)``, outputs ``(m, F*Hp*Wp)``.
Inside, maps are channels-last (``kernels.conv``).
"""

import numpy as np

from .kernels.conv import LINEAR, RELU, SIGMOID, TANH

CODES = {"linear": LINEAR, "ReLU": RELU, "sigmoid": SIGMOID, "tanh": TANH}  # activation names -> kernel codes


def forward(x, w, b, image_shape, poolsize, act):
    """``(outputs (m, F*Hp*Wp), cache for backward)``; ``act`` one of ``CODES``' values.

    The convolution is one matrix product: every filter-sized patch of the input as a row (im2col,
    numba) times the flipped filters (a true convolution, as Theano's conv2d), then pooling with the bias
    and activation (numba)."""
    from .kernels import conv as ck
    m = x.shape[0]
    F, C, fh, fw = w.shape
    H, W = image_shape[2:]
    ph, pw = poolsize
    Hz, Wz = H - fh + 1, W - fw + 1
    X = np.ascontiguousarray(x.reshape(m, C, H, W).transpose(0, 2, 3, 1))
    cols = np.empty((m * Hz * Wz, fh * fw * C), dtype=x.dtype)
    Kflat = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(0, 2, 3, 1).reshape(F, -1), dtype=x.dtype)
    out = np.empty((m, Hz // ph, Wz // pw, F), dtype=x.dtype)
    arg = np.empty(out.shape, dtype=np.int64)
    if m:
        ck.im2col(X, fh, fw, cols)
        ck.pool_forward(cols @ Kflat.T, Hz, Wz, ph, pw, np.ascontiguousarray(b, dtype=x.dtype), act, out, arg)
        if act == SIGMOID:
            from .kernels.activation import _sigmoid_inplace
            _sigmoid_inplace(out.reshape(m, -1))
        elif act == TANH:
            np.tanh(out, out=out)
    return out.transpose(0, 3, 1, 2).reshape(m, -1), (cols, Kflat, arg, out, (C, H, W, fh, fw), act)


def backward(cache, d_out, want_dx):
    """``(dw (F, C, fh, fw), db (F,), dx (m, C*H*W) or None)`` from the gradient ``d_out (m, F*Hp*Wp)`` at
    the layer's outputs."""
    from .kernels import conv as ck
    cols, Kflat, arg, out, (C, H, W, fh, fw), act = cache
    m, Hp, Wp, F = out.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    dZ = np.empty((m * Hz * Wz, F), dtype=out.dtype)
    db = np.empty(F, dtype=out.dtype)
    d_out = np.ascontiguousarray(np.asarray(d_out, dtype=out.dtype).reshape(m, F, Hp, Wp).transpose(0, 2, 3, 1))
    # each window's gradient, times the activation's slope, goes to its winner
    ck.pool_backward(d_out, out, act, arg, Hz, Wz, dZ, db)
    dw = (dZ.T @ cols).reshape(F, fh, fw, C).transpose(0, 3, 1, 2)[:, :, ::-1, ::-1]
    dx = None
    if want_dx:
        dX = np.empty((m, H, W, C), dtype=out.dtype)
        ck.col2im(dZ @ Kflat, fh, fw, dX)
        dx = dX.transpose(0, 3, 1, 2).reshape(m, -1)
    return dw, db, dx
