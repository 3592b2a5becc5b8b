"""The book's sigmoid and its derivative, in numpy, safe for any float input.

Shared by ``nnfast.network`` (the public module-level functions) and
``nnfast.twins.network`` (the per-sample yardstick). The kernels in
``nnfast.engine.kernels`` have their own scalar twin, compiled by numba.
"""

import numpy as np


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


def sigmoid_prime(z):
    """Derivative of the sigmoid: sigmoid(z) * (1 - sigmoid(z))."""
    s = sigmoid(z)
    return s * (1 - s)
