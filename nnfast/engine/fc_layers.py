"""Chapter 6's fully connected and softmax layers on a mini-batch: dropout, products, gradients, the fused step.

``network3.FullyConnectedLayer`` and ``SoftmaxLayer`` call these (a subclass that overrides its layer's
``forward`` or ``backward`` keeps its own code). Shapes: inputs ``x (m, n_in)``, weights ``w (n_in, n_out)``,
bias ``b (n_out,)``, weighted inputs and outputs ``(m, n_out)``.
"""

import numpy as np



def dropped(x, p_dropout, mask_rng):
    """``(input used, mask or None)``: each input kept with probability 1 - p, not rescaled (the book's choice);
    the mask is drawn from ``mask_rng`` as the book draws it (``random_sample(x.shape) < 1 - p``)."""
    if mask_rng is None or p_dropout == 0:
        return x, None
    mask = (mask_rng.random_sample(x.shape) < 1 - p_dropout).astype(x.dtype)
    return x * mask, mask


def weighted(x, w, b, p_dropout, mask_rng, product=None):
    """``(z, input used, mask)``: training (``mask_rng`` given) drops inputs; inference scales the weighted
    input (not the bias) by 1 - p. ``product(xd, w, b)``, when given, computes ``xd @ w + b`` in training
    (``SparseProduct``)."""
    xd, mask = dropped(x, p_dropout, mask_rng)
    w, b = w.astype(x.dtype, copy=False), b.astype(x.dtype, copy=False)
    if mask_rng is None:
        return (1 - p_dropout) * (x @ w) + b, x, None
    return (xd @ w + b if product is None else product(xd, w, b)), xd, mask


def activate(z, name, fn):
    """``fn(z)`` for the activation called ``name``; the sigmoid compiled, in place on ``z`` when it is a float32
    or float64 matrix (the numpy one, safe for any input, took 20 us of a two-conv step's fully connected layer)."""
    if name == "sigmoid" and z.ndim == 2 and z.dtype in (np.float32, np.float64) and z.flags.c_contiguous \
            and z.flags.writeable:
        from .kernels.activation import _sigmoid_inplace
        _sigmoid_inplace(z)
        return z
    return fn(z).astype(z.dtype, copy=False)


def softmax(z):
    """Row-wise softmax of ``z (m, n)``, in z's dtype; exp never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(z.dtype, copy=False)


def softmax_dz(out, labels):
    """The gradient of the batch's mean log-likelihood at the softmax's weighted input: (out - one-hot) / m."""
    dz = out.copy()
    dz[np.arange(len(labels)), labels] -= 1
    return dz / len(labels)


def input_gradients(xd, mask, dz, w, want_dx):
    """``(dw, db, dx or None)`` from ``dz (m, n_out)``, the gradient at the weighted input."""
    dw = xd.T @ dz
    db = dz.sum(axis=0)
    dx = None
    if want_dx:
        dx = dz @ w.astype(dz.dtype, copy=False).T
        if mask is not None:
            dx = dx * mask
    return dw, db, dx


class SparseProduct:
    """``x @ w + b`` in training. Where few of ``x`` are non-zero (dropout, ReLU), compiled code that skips
    the zeros; otherwise numpy's BLAS. On several threads (at most half non-zero) the samples are split between
    the threads (``kernels.dense_step.forward_rows``): measured in the dropout net's step on 2 cores, its three
    products 0.36 ms, against about 1 ms for BLAS on one thread (BLAS's second thread gained 1.0-1.4x on
    these shapes). On one thread (at most 40% non-zero) each row of weights is read once
    (``kernels.dense_step.forward_inputs``): at a quarter non-zero, 345 us against BLAS's 625."""

    def __init__(self, threads, dtype):
        self.threads, self.dtype = threads, dtype

    def __call__(self, x, w, b):
        parts = min(self.threads, x.shape[0])
        if not (isinstance(w, np.ndarray) and w.ndim == 2 and w.flags.c_contiguous
                and w.dtype == x.dtype == b.dtype == self.dtype):
            return x @ w + b
        nonzero = np.count_nonzero(x)
        if not (2 * nonzero <= x.size if parts > 1 else 5 * nonzero <= 2 * x.size):
            return x @ w + b
        from .kernels import dense_step
        z = np.empty((x.shape[0], w.shape[1]), dtype=self.dtype)
        x, w, b = np.ascontiguousarray(x), w.view(np.ndarray), np.ascontiguousarray(b)
        if parts > 1:
            from .conv_parts import numba_threads
            numba_threads(parts)
            dense_step.forward(x, w, b, z, parts)
        else:
            dense_step.forward_inputs(x, w, b, z)
        return z


def can_step_fused(w, dtype):
    """Whether ``fused_step`` can update ``w`` in place: a writeable C-ordered matrix of ``dtype``."""
    return (isinstance(w, np.ndarray) and w.dtype == dtype and w.ndim == 2 and w.flags.c_contiguous
            and w.flags.writeable)


def fused_step(w, b, xd, mask, dz, step, keep, want_dx, want_l2, threads):
    """The layer's backward pass and SGD step in one pass over its weights (``kernels.dense_step``):
    ``w = keep * w - step * xd.T @ dz`` and ``b -= step * sum(dz)`` in place; returns ``(dx = (dz @ w.T) *
    mask with the weights before the step, or None; sum(w^2) before the step when ``want_l2``, else 0)``.
    On several threads each takes a run of rows (at least 64: a few hundred multiply-adds each)."""
    from .kernels.dense_step import backward_rows, backward_step
    dtype = w.dtype
    dz = np.ascontiguousarray(dz, dtype=dtype)
    has_mask = mask is not None
    dx = np.empty(xd.shape, dtype=dtype) if want_dx else np.empty((0, 0), dtype=dtype)
    args = (w.view(np.ndarray), np.ascontiguousarray(xd), mask if has_mask else dx, has_mask, dz, step, keep,
            want_dx, dx, want_l2)
    parts = min(threads, w.shape[0] // 64)
    if parts > 1:
        from .conv_parts import numba_threads
        numba_threads(parts)
        l2 = backward_step(*args, parts)
    else:
        l2 = backward_rows(*args, 0, w.shape[0])
    b -= step * dz.sum(axis=0)
    return (dx if want_dx else None), l2


def layer_step(layer, cache, d_out, want_dx, step, keep, want_l2, threads, fused):
    """Step ``layer`` (``w``, ``b``; ``backward``, ``_dz``) by its gradients from ``d_out``: ``(the gradient at
    its input or None, sum(w^2) before the step when ``want_l2``, else 0)``; ``fused`` (the layer's own backward is
    nnfast's): in one pass over its weights where ``can_step_fused``, else by the layer's ``backward``."""
    w, dtype = layer.w, step.dtype
    if fused and can_step_fused(w, dtype):
        xd, mask, _ = cache
        return fused_step(w, layer.b, xd, mask, layer._dz(cache, d_out), step, keep, want_dx, want_l2, threads)
    l2 = float(np.vdot(w, w)) if want_l2 else 0.0
    dw, db, dx = layer.backward(cache, d_out, want_dx)
    dw = np.asarray(dw, dtype=dtype)
    if keep != 1:
        layer.w *= keep
    layer.w -= step * dw  # in place: layer.params and net.params see the new values
    layer.b -= step * np.asarray(db, dtype=dtype)
    return dx, l2
