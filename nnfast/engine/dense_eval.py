"""Network outputs over whole data sets (accuracy, cost, prediction): ``Evaluation``, a part of ``DenseNet``.

Sets are taken in chunks that keep the scratch in L2 and, when large, split over ``compute_threads()``
Python threads (the kernels release the GIL). A set evaluated every epoch is laid out once per training
call the way training lays out its inputs (``nnfast.engine.input_layout``).
"""

import numpy as np

from .cores import compute_threads
from .input_layout import DENSE_INPUTS, prepared_inputs

EVAL_CHUNK = 1024  # rows per forward pass when evaluating: scratch stays in L2
EVAL_SCRATCH_BYTES = 64 * 2**20  # ... and fewer rows for a net so wide that 1024 would need more than this


def eval_chunk(n_units, itemsize):
    """Rows per evaluation pass for a net of ``n_units`` neurons in all: EVAL_CHUNK, fewer for a huge net."""
    return max(1, min(EVAL_CHUNK, EVAL_SCRATCH_BYTES // (2 * n_units * itemsize)))


MIN_ROWS_PER_THREAD = 4096  # below this a second thread costs more than it saves

_POOLS = {}


def _pool(threads):
    """A thread pool of that size, made once per process and reused."""
    if threads not in _POOLS:
        from concurrent.futures import ThreadPoolExecutor
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="nnfast-eval")
    return _POOLS[threads]


class Evaluation:
    """``DenseNet``'s forward passes over data sets (mixed into it; ``self`` is the network)."""

    def _forward_rows(self, params, X, rows=None, reuse=False):
        """Network outputs ``(n, sizes[-1])`` for input rows ``X[rows]`` (all of ``X (n, sizes[0])`` by default).

        ``reuse=True`` (a set evaluated every epoch) evaluates mostly-zero inputs
        the way training runs them (``nnfast.engine.input_layout``: columns reordered,
        each block of four rows' zero ends skipped), its rows taken in order of
        where they end, so that blocks of four span few columns; the outputs come
        back in the caller's order. Large sets are split over ``compute_threads()``
        threads: the kernels release the GIL and every sample is independent, so
        the outputs do not depend on it.
        """
        all_rows = rows is None
        rows = np.arange(X.shape[0], dtype=np.int64) if all_rows else rows
        n = len(rows)
        inputs, layout = self._prepared(X, None if all_rows else rows) if reuse else (X, DENSE_INPUTS)
        order = None
        if layout.lo.size:
            order = self._eval_order(X, None if all_rows else rows, layout)
            rows = rows[order]
            params = self._in_inputs_order(params, layout.perm)
        out = np.empty((n, self.sizes[-1]), dtype=self.dtype)
        chunk = eval_chunk(self._layout.n_units, self.dtype.itemsize)
        threads = min(compute_threads(), n // MIN_ROWS_PER_THREAD)
        if threads <= 1:
            if n:
                self._run(params, inputs, rows, batch=chunk, out=out, layout=layout)
        else:
            cuts = [n * t // threads for t in range(threads + 1)]
            parts = [(lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:])]
            list(_pool(threads).map(lambda part: self._run(params, inputs, rows[part[0]:part[1]], batch=chunk,
                                                           out=out[part[0]:part[1]], layout=layout), parts))
        if order is None:
            return out
        result = np.empty_like(out)
        result[order] = out
        return result

    def _prepared(self, X, rows=None):
        """``nnfast.engine.input_layout.prepared_inputs(X, rows)``, made once per training call (the sets it
        trains on and evaluates every epoch do not change during it; they may between calls). ``rows``: the
        rows of X used (their set chooses the column order), None for all."""
        cache = self.__dict__.setdefault("_prepared_inputs", {})
        hit = cache.get(id(X))
        if hit is not None and hit[0] is X and (hit[1] is rows or (hit[1] is not None and rows is not None
                                                                 and np.array_equal(hit[1], rows))):
            return hit[2], hit[3]
        inputs, layout = prepared_inputs(X, rows)
        cache[id(X)] = (X, rows, inputs, layout)
        return inputs, layout

    def _eval_order(self, X, rows, layout):
        """The order of ``rows`` by where each row's nonzeros end, kept until training ends (a set
        evaluated every epoch is sorted once)."""
        cache = self.__dict__.setdefault("_eval_orders", {})
        key = (id(X), id(rows))  # rows None: all of X's rows
        hit = cache.get(key)
        if hit is not None and hit[0] is X and hit[1] is rows:
            return hit[2]
        order = np.argsort(layout.hi if rows is None else layout.hi[rows], kind="stable")
        cache[key] = (X, rows, order)
        return order

    def _in_inputs_order(self, params, perm):
        """A copy of ``params`` whose first layer's weight columns are in the inputs' order (``perm``)."""
        if perm.size == 0:
            return params
        params = params.copy()
        lay = self._layout
        W1 = params[lay.w_off[0]:lay.w_off[0] + self.sizes[1] * self.sizes[0]].reshape(self.sizes[1], self.sizes[0])
        W1[:] = W1[:, perm]
        return params

    def _forget_training_caches(self):
        """Drop what a training call prepared once (``_prepared``, ``_eval_order``)."""
        self.__dict__.pop("_prepared_inputs", None)
        self.__dict__.pop("_eval_orders", None)

    def _count_correct(self, params, X, labels, reuse=False):
        if X.shape[0] == 0:
            return 0
        return int(np.count_nonzero(np.argmax(self._forward_rows(params, X, reuse=reuse), axis=1) == labels))

    def predict_rows(self, X):
        """The predicted class (argmax of the output) for each row of ``X (n, sizes[0])``."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"inputs have shape {X.shape}; expected (n, {self.sizes[0]})")
        if X.shape[0] == 0:
            return np.empty(0, dtype=np.int64)
        return np.argmax(self._forward_rows(self._pack(), self._input_rows(np.ascontiguousarray(X))), axis=1)
