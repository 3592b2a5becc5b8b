"""The compiled step's dense-layer kernels called by address (``kernels.by_address``), not linked into it.

``net_step.steps_one`` (the one-thread step) ran ``dense_step.backward_rows``, ``dense_step.forward_inputs`` and
``_blas_product`` (here: ``dense_step.dense_product`` or numba's ``np.dot``) linked into its own code, so its
compile paid again for their module optimisation and machine code, which their own compile (the helper compiles them
first: ``parallel_kernels.serial_kernels``) had paid already. Called at the addresses ``addresses`` gives, each is
compiled once. Each runs for tens to hundreds of microseconds a call: the indirect call costs nothing measurable.
"""

import numpy as np
from numba import types

from . import by_address, dense_step
from .jit import helper

BACKWARD_ROWS, FORWARD_INPUTS, PRODUCT = range(3)  # each kernel's place in ``signatures`` and ``addresses``


def signatures(dtype):
    """The argument types of ``backward_rows``, ``forward_inputs`` and ``_blas_product`` as the compiled step calls
    them for parameters in ``dtype`` (numpy's or numba's, or its name)."""
    name = str(dtype) if isinstance(dtype, types.Type) else np.dtype(dtype).name
    F = {"float32": types.float32, "float64": types.float64}[name]
    A1, A2 = types.Array(F, 1, "C"), types.Array(F, 2, "C")
    i, b = types.int64, types.boolean
    return ((A2, A2, A2, b, A2, F, F, b, A2, b, i, i),  # dense_step.backward_rows
            (A2, A2, A1, A2),  # dense_step.forward_inputs
            (A2, A2, A1, A2))  # _blas_product


@helper
def _blas_product(xd, w, b, z):
    """``z = xd @ w + b`` for dense inputs: rows of a few vectors by ``dense_step.dense_product`` (faster than
    BLAS at the book's mini-batch), narrow ones (the softmax's 10) by BLAS."""
    if w.shape[1] >= 32:
        dense_step.dense_product(xd, w, b, z)
        return
    np.dot(xd, w, z)
    for s in range(z.shape[0]):
        for j in range(z.shape[1]):
            z[s, j] += b[j]


def kernels():
    """The three kernels, in ``signatures``' order."""
    return dense_step.backward_rows, dense_step.forward_inputs, _blas_product


def _types(which):
    def expected(args):  # the first argument's dtype is the parameters'
        return signatures(args[0].dtype)[which]
    return expected


backward_rows_at = by_address.caller(types.float64, _types(BACKWARD_ROWS), "backward_rows")
forward_inputs_at = by_address.caller(types.none, _types(FORWARD_INPUTS), "forward_inputs")
product_at = by_address.caller(types.none, _types(PRODUCT), "_blas_product")


def addresses(dtype):
    """The three kernels' addresses for ``dtype``, compiled here or loaded from numba's cache at the first ask."""
    key = np.dtype(dtype).name
    if key not in _ADDRESSES:
        _ADDRESSES[key] = tuple(by_address.address(kernel, signature)
                                for kernel, signature in zip(kernels(), signatures(key)))
    return _ADDRESSES[key]


_ADDRESSES = {}
