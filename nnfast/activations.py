"""Activation functions on numpy arrays: the book's sigmoid, and those its chapter 3 problems try.

Each works elementwise on a column ``(n, 1)`` or on a whole mini-batch
``(n, m)``, one sample per column (``softmax`` normalises each column), so the
same function serves the book's per-sample code and code built on
``nnfast.engine.matrix_path`` (marked ``columnwise``: it needs no check there). The sigmoid is shared by ``nnfast.network``
(the public module-level functions) and ``nnfast.twins.network``; the kernels
in ``nnfast.engine.kernels`` have their own scalar twin, compiled by numba.
"""

import numpy as np

from .engine.column_check import columnwise


@columnwise
def sigmoid(z):
    """Elementwise 1 / (1 + exp(-z)), without overflow for large |z|.

    For z >= 0 it is the book's formula; for z < 0 the algebraically equal
    exp(z) / (1 + exp(z)), so ``exp`` only ever sees non-positive arguments
    and ``sigmoid(-1000)`` is 0.0 without a RuntimeWarning.
    Keeps the float dtype of ``z`` (ints become float64); scalars stay scalars.
    """
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    e = np.exp(-np.abs(z))
    out = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)
    return out[()] if out.ndim == 0 else out


@columnwise
def sigmoid_prime(z):
    """Derivative of the sigmoid: sigmoid(z) * (1 - sigmoid(z))."""
    s = sigmoid(z)
    return s * (1 - s)


@columnwise
def tanh(z):
    """Elementwise hyperbolic tangent, the sigmoid's rescaling ``2 sigmoid(2z) - 1`` (chapter 3's problem)."""
    return np.tanh(z)


@columnwise
def tanh_prime(z):
    """Derivative of tanh: 1 - tanh(z)**2."""
    t = np.tanh(z)
    return 1 - t * t


@columnwise
def softmax(z):
    """Chapter 3's softmax of each column of ``z``: ``exp(z_j) / sum_k exp(z_k)``, computed from
    ``z - max(z)`` so that no exp overflows (the same value)."""
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)
