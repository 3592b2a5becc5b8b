"""A learner's function on a whole mini-batch, only where that gives what the book's per-sample calls give.

The book calls a cost's ``delta``, ``cost_derivative`` or ``sigmoid`` on one
sample, an ``(n, 1)`` column. ``matrix_path`` calls them on ``(n, m)``
matrices, each sample a column, which is the same thing only for a function
that works column by column. A learner may write one that does not: chapter
3's softmax as ``e / np.sum(e)`` sums one sample's outputs in the book's code
and every sample's here, and the net would silently learn nothing. So
``apply`` compares a function's result on the matrix with its results one
column at a time on its first call, on calls 2, 4, 8, ... and then every
``CHECK_EVERY``-th; once they differ beyond rounding (or the matrix call fails,
or returns the wrong shape, where one column at a time works), that function
is called one sample at a time from then on, as the book does, and the
learner is told once which function and why.

numpy's ufuncs and the functions marked with ``columnwise`` are elementwise or
column-wise by construction and are called on the matrix unchecked.
"""

import numpy as np

from . import notes

CHECK_EVERY = 1024
_TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}


class OutputShapeError(ValueError):
    """A learner's function returned a result of the wrong shape, even for one sample at a time."""


class _Record:
    __slots__ = ("calls", "per_sample")

    def __init__(self):
        self.calls = 0
        self.per_sample = False


_records = {}


def columnwise(function):
    """Mark ``function`` as working column by column (nnfast's own activations): never checked."""
    function._nnfast_columnwise = True
    return function


def _trusted(function):
    return isinstance(function, np.ufunc) or getattr(function, "_nnfast_columnwise", False)


def _key(function):
    """What identifies a learner's function across calls: a bound method is made anew at each attribute
    access, its function is not (so ``self.cost_derivative`` keeps one record)."""
    return getattr(function, "__func__", function)


def forget():
    """Forget what the checks found (tests start each case afresh)."""
    _records.clear()


def apply(function, who, *arrays, shape):
    """``function(*arrays)`` for matrices whose columns are samples, as the book's per-sample calls give it.

    ``arrays``: ``(n_i, m)`` matrices with the same ``m``. ``shape``: what the
    result must be, ``(n_out, m)``. ``who`` names the function in messages
    ("cost MyCost.delta"; a callable giving the name is called only for a
    message). Raises ``OutputShapeError`` when the result has the wrong shape
    one sample at a time too.
    """
    if _trusted(function):
        return function(*arrays)
    if shape[1] == 1:  # one sample: the book's own call
        return _checked_shape(function(*arrays), shape, who, "one sample")
    record = _records.get(_key(function))
    if record is None:
        record = _records[_key(function)] = _Record()
    if record.per_sample:
        return _by_column(function, who, arrays, shape)
    try:
        out = np.asarray(function(*arrays))
    except Exception as error:  # e.g. a reshape to (n, 1): fine for one sample, as the book calls it
        by_column = _by_column(function, who, arrays, shape)  # the book's own error if it fails there too
        return _switch(record, function, who, by_column,
                       f"fails on a {shape} mini-batch ({type(error).__name__}: {error})")
    if out.shape != shape:
        by_column = _by_column(function, who, arrays, shape, matrix_shape=out.shape)
        return _switch(record, function, who, by_column, f"returns {out.shape} for a {shape} mini-batch")
    record.calls += 1
    calls = record.calls
    if calls < CHECK_EVERY and calls & (calls - 1) == 0 or calls % CHECK_EVERY == 0:
        by_column = _by_column(function, who, arrays, shape)
        difference = _difference(out, by_column)
        if difference is not None:
            return _switch(record, function, who, by_column,
                           f"gives other numbers on a {shape} mini-batch than one sample at a time "
                           f"(by up to {difference:.3g})")
    return out


def _by_column(function, who, arrays, shape, matrix_shape=None):
    """The book's calls: ``function`` on each sample's ``(n_i, 1)`` columns, the results side by side."""
    columns = []
    for j in range(shape[1]):
        out = function(*(a[:, j:j + 1] for a in arrays))
        columns.append(_checked_shape(out, (shape[0], 1), who, "one sample", matrix_shape, shape))
    return np.concatenate(columns, axis=1)


def _checked_shape(out, shape, who, what, matrix_shape=None, batch_shape=None):
    out = np.asarray(out)
    if out.shape != shape:
        who = who() if callable(who) else who
        also = (f" (and {matrix_shape} for a {batch_shape} mini-batch, expected {batch_shape})"
                if matrix_shape is not None else "")
        raise OutputShapeError(f"{who} returned {out.shape} for {what}; expected {shape}{also}: it must give "
                               f"one value per output neuron for each sample, as the book's costs do")
    return out


def _difference(out, by_column):
    """The largest difference between the two results when it is beyond rounding, else None."""
    tolerance = _TOLERANCE.get(np.result_type(out, by_column), 1e-9)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(out.astype(np.float64) - by_column.astype(np.float64))
        scale = np.abs(by_column).astype(np.float64)
        bad = ~(diff <= tolerance * (scale + scale.max(initial=0.0) * 1e-3 + 1e-300))
    bad &= ~(np.isnan(out) & np.isnan(by_column))  # NaN where the book's call gives NaN too is the same
    bad &= ~((out == by_column) & np.isinf(out))
    if not bad.any():
        return None
    return float(np.nanmax(np.where(bad, diff, 0.0))) if np.isfinite(diff[bad]).any() else float("inf")


def _switch(record, function, who, by_column, why):
    """From now on ``function`` runs one sample at a time; tell the learner once."""
    record.per_sample = True
    who = who() if callable(who) else who
    notes.say(("per sample", _key(function)), lambda: (
        f"nnfast: {who} {why}: it does not work column by column, each column a sample (a sum, mean or reshape "
        f"over the whole array does that: np.sum(e) sums every sample's outputs where the book's call had one "
        f"sample's). The book calls it on one sample at a time, so from now on nnfast does too (exact, slower). "
        f"To run it on whole mini-batches, make it work per column, e.g. np.sum(e, axis=0, keepdims=True)."),
        where=function)
    return by_column
