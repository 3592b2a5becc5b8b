"""The book's arguments checked before the engine uses them: layer sizes, integers, eta, lmbda, finite inputs.

Each check returns the value in the form the engine wants (a list of ints, a
float) or raises the one-line ``ValueError``/``TypeError`` a learner reads.
"""

import math
import numbers

import numpy as np


def check_sizes(sizes):
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a list of layer widths, got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least two layers (input and output), got {sizes!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"layer widths must be positive integers, got {sizes!r}")
    return [int(s) for s in sizes]


def check_int(value, name, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_eta(eta):
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta (the learning rate) must be a finite number > 0, got {eta!r}")
    return float(eta)


def check_lmbda(lmbda):
    if isinstance(lmbda, bool) or not isinstance(lmbda, numbers.Real) or not math.isfinite(lmbda) or lmbda < 0:
        raise ValueError(f"lmbda (the L2 regularisation parameter) must be a finite number >= 0, got {lmbda!r}")
    return float(lmbda)


def check_finite(X, what):
    # A float64 sum is NaN/inf if any element is, and needs no temporary array (np.isfinite(X)
    # made a 47 MB one for MNIST); only a sum that overflows from finite values needs the full test.
    if X.size and not math.isfinite(np.sum(X, dtype=np.float64)) and not np.all(np.isfinite(X)):
        raise ValueError(f"{what} holds NaN or infinity")


def check_labels(y, classes, what):
    """Chapter 6's labels as class indices ``0 .. classes-1``: any other (a -1 would silently pick the last
    class where the layers' own code indexes the softmax's outputs; 3.5 would be cut to 3) is one clear error."""
    y = np.asarray(y)
    if y.dtype.kind not in "iub":
        if y.dtype.kind != "f":
            raise TypeError(f"{what} labels must be class numbers, got an array of {y.dtype}")
        with np.errstate(invalid="ignore"):
            whole = np.floor(y) == y
    else:
        whole = True
    bad = np.flatnonzero(~((y >= 0) & (y < classes) & whole))
    if bad.size:
        raise ValueError(f"label {y[bad[0]]} of {what} sample {bad[0]} is not a class of the {classes}-way "
                         f"softmax (0 to {classes - 1})")


def as_list(data):
    """The book's data as a list: Python 3's ``zip`` iterators would be empty after one pass."""
    return data if isinstance(data, list) else list(data)


SMALL = 1 << 16  # elements: below this one |X| temporary is cheaper than three passes without it


def _largest_input(X):
    """The largest ``|x|`` of the training inputs ``X``; ValueError if any is NaN or infinite."""
    if not X.size:
        return 0.0
    if X.size <= SMALL:  # a mini-batch: one pass (the max of |X| is NaN or inf if any element is)
        largest = float(np.max(np.abs(X)))
        if not math.isfinite(largest):
            raise ValueError("training inputs hold NaN or infinity")
        return largest
    check_finite(X, "training inputs")
    return max(float(X.max()), -float(X.min()))  # no |X| temporary
