"""The book's two costs, summed over outputs in float64 for monitoring and ``total_cost``."""

import math

from .jit import helper, kernel

# Cost codes shared with nnfast.engine.dense (plain ints: one compiled kernel serves both costs).
QUADRATIC = 0
CROSS_ENTROPY = 1


@kernel
def cost_sum(out, Y, y_rows, cost):
    """Sum over samples i of the cost of output ``out[i]`` against target ``Y[y_rows[i]]``, in float64.

    out (n, n_out); Y (N, n_out) (for int labels pass the identity matrix and
    the labels as ``y_rows``). The quadratic cost is 0.5 * ||a - y||^2. The
    cross-entropy is the book's sum of -y ln a - (1 - y) ln(1 - a) with its
    ``np.nan_to_num``: a term that is NaN (0 * ln 0) counts 0 and an infinite
    one (a saturated output on the wrong side) counts as the largest float.
    """
    big = 1.7976931348623157e308
    total = 0.0
    for i in range(out.shape[0]):
        y = Y[y_rows[i]]
        a = out[i]
        c = 0.0
        for j in range(out.shape[1]):
            aj = float(a[j])
            yj = float(y[j])
            if cost == CROSS_ENTROPY:
                # one-hot targets need one log: with y 0 or 1 the other term is -0, or NaN where the
                # whole element is NaN in the book too (0 * log 0), which the book's nan_to_num makes 0
                if yj == 0.0:
                    t = -_log0(1.0 - aj)
                elif yj == 1.0:
                    t = -_log0(aj)
                else:
                    t = -yj * _log0(aj) - (1.0 - yj) * _log0(1.0 - aj)
                if t != t:
                    t = 0.0
                elif t > big:
                    t = big
                elif t < -big:
                    t = -big
                c += t
            else:
                c += (aj - yj) * (aj - yj)
        total += c if cost == CROSS_ENTROPY else 0.5 * c
    return total


@helper
def _log0(x):
    """numpy's log at the edges: log(0) = -inf (numba's math.log would raise), log(1) = 0."""
    return -math.inf if x <= 0.0 else math.log(x)
