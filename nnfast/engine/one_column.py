"""One sample through the dense layers: the book's own ``feedforward`` call, no dearer than the book's code.

For one ``(n, 1)`` column the kernels' set-up (a flat copy of every weight) costs more than the sample itself,
so numpy's matrix-vector products do it, as the book's code does. Around each product the book's code spends
five small ufunc calls and a little Python; so does this, each step as cheap as numpy allows (784-30-10: about
6 us in all, of which 2.7 the products):

- results written in place, constants as arrays of the layer's own shape: a Python float is converted at every
  call and a ``(1, 1)`` array broadcast (``z += 1.0`` and ``z += ones((1, 1))`` cost 0.6-0.66 us for 30 numbers,
  ``z += ones((30, 1))`` 0.22);
- ``w.dot(a)``, the method: ``np.dot``'s dispatch costs 0.2-0.4 us more, for the same product;
- a hidden layer hands the next one ``-a``: the next product is then ``-(w a)`` exactly (IEEE rounding is
  symmetric), and ``-(w a) - b`` is exactly ``-(w a + b)``, so no layer but the first spends a negation;
- a layer's shapes checked on its arrays' own attributes (``np.shape``/``np.reshape`` cost 0.1-0.6 us a layer).
"""

import numpy as np

# -z capped where exp still is finite (sigmoid of anything below is under 1e-37: what the cap changes): no warning
_CAP = {np.dtype(np.float64): 709.0, np.dtype(np.float32): 88.0}
_constants = {dtype: {} for dtype in _CAP}  # dtype -> {n: constants_for(dtype, n)}; nothing writes them
_ndarray = np.ndarray


def _constants_for(dtype, n):
    """The cap, 1.0 and -1.0 as ``(n, 1)`` arrays of ``dtype``, and the shape ``(n, 1)``."""
    found = _constants[dtype][n] = (*(np.full((n, 1), v, dtype=dtype) for v in (_CAP[dtype], 1.0, -1.0)), (n, 1))
    return found


def output(shapes, weights, biases, a, dtype):
    """The last layer's sigmoid output ``(n_last, 1)`` for the column ``a`` ``(n_in, 1)`` of ``dtype`` (float32 or
    float64), each layer ``1 / (1 + exp(-(w a + b)))``, the book's sigmoid; ``shapes``: ``(n_out, n_in)`` tuples
    per layer. None when a layer's weights or biases are not of its shape, or not one per layer (the caller says
    which)."""
    last = len(shapes) - 1
    if len(weights) != last + 1 or len(biases) != last + 1:
        return None
    constants = _constants[dtype]
    negated = False  # whether ``a`` holds minus the layer's input
    for k, (shape, w, b) in enumerate(zip(shapes, weights, biases)):
        cap, one, minus_one, column = constants.get(shape[0]) or _constants_for(dtype, shape[0])
        if type(w) is _ndarray and w.shape == shape:
            z = w.dot(a)
        elif np.shape(w) == shape:
            z = np.dot(w, a)
        else:
            return None
        if type(b) is not _ndarray or b.shape != column:
            if np.size(b) != shape[0]:
                return None
            b = np.reshape(b, column)
        if negated:
            z -= b  # -(w a) - b: minus the layer's weighted input
        else:
            z += b
            np.negative(z, z)
        np.minimum(z, cap, out=z)
        np.exp(z, z)
        z += one
        if k == last:
            return np.reciprocal(z, z)
        a = np.divide(minus_one, z, z)  # minus the sigmoid, for the next layer
        negated = True
    return a  # no layers
