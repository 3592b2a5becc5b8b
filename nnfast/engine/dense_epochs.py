"""The epoch loops of the dense nets: ``Epochs``, a part of ``DenseNet``.

``_epochs`` trains in place of the book's loop (the book's ``random.shuffle`` draws, slices of whole
mini-batches per kernel call, L2 decay, several threads where ``dense_threads`` finds they pay, Ctrl-C
between calls); ``_book_epochs`` is the book's loop itself, for a network whose user code the kernels
cannot stand in for.
"""

import contextlib
import random
import time

import numpy as np

from . import dense_threads
from . import rng as _rng
from .checks import check_eta, check_int, check_lmbda
from .content_memo import one_look
from .cores import compute_threads
from .dense_kernels import kernels
from .input_layout import DENSE_INPUTS

# Kernel calls in training take whole mini-batches, at most SLICE_SAMPLES samples and about
# SLICE_FLOPS of work, so Ctrl-C (handled between calls) and progress reports come within a
# fraction of a second whatever the network's size (784-5000-10 took 15 s per 10,000 samples).
SLICE_SAMPLES = 10_000
SLICE_FLOPS = 4e9


class TrainingDiverged(ValueError):
    """A weight became NaN or infinite during training (the learning rate is too large)."""


class Epochs:
    """``DenseNet``'s training loops (mixed into it; ``self`` is the network)."""

    @contextlib.contextmanager
    def _inputs_order(self, params, perm):
        """The first layer's weights in ``params`` with their columns in the training inputs' order
        (column k is input perm[k], see ``nnfast.engine.input_layout``) inside the block, and back after it,
        even on Ctrl-C: ``params`` leaves the block in the network's own order. Exact: it only moves
        numbers (about 0.1 ms per epoch for 784-100-10)."""
        if perm.size == 0:
            yield
            return
        lay = self._layout
        W1 = params[lay.w_off[0]:lay.w_off[0] + self.sizes[1] * self.sizes[0]].reshape(self.sizes[1], self.sizes[0])
        W1[:] = W1[:, perm]
        try:
            yield
        finally:
            W1[:, perm] = W1.copy()

    def _book_update(self, changed, update):
        """``update`` (the face's call of ``update_mini_batch``) for ``_book_epochs``. A learner's own
        ``update_mini_batch`` whose first mini-batch calls the kernels' ``backprop`` one sample at a time
        (the book's style) is told once of ``mini_batch_gradient`` (the face's ``_note_sample_loop``); the
        other changes are told where they slow a step down."""
        if "update_mini_batch" not in changed:
            return update
        state = {"checked": False}

        def checked_update(batch):
            if state["checked"]:
                return update(batch)
            before = self.__dict__.get("_sample_gradients", 0)
            update(batch)
            state["checked"] = True
            if self.__dict__.get("_sample_gradients", 0) - before > 1:
                self._note_sample_loop()
        return checked_update

    def _book_epochs(self, data, epochs, mini_batch_size, update, first_epoch=0, order=None):
        """The book's epoch loop itself, for a network whose user code the kernels cannot stand in for.

        Each epoch ``random.shuffle``s the order (the very draws of the book's
        ``random.shuffle(training_data)``), then calls ``update(mini_batch)``
        (the face's ``update_mini_batch``, the user's override included) on
        consecutive slices of ``mini_batch_size`` pairs. Yields ``(j, order)``
        after each epoch; leaves ``data`` in the order the book leaves it.
        Raises ``TrainingDiverged`` when a weight becomes NaN or infinite.
        """
        epochs = check_int(epochs, "epochs", 0)
        mini_batch_size = check_int(mini_batch_size, "mini_batch_size", 1)
        n = len(data)
        original = list(data)
        if order is None:
            order = list(range(n))
        else:
            order = [int(i) for i in order]
            if sorted(order) != list(range(n)):
                raise ValueError(f"order must be a permutation of the {n} training samples")
        try:
            for j in range(first_epoch, epochs):
                random.shuffle(order)
                for k in range(0, n, mini_batch_size):
                    update([original[i] for i in order[k:k + mini_batch_size]])
                if not all(np.all(np.isfinite(w)) for w in [*self.weights, *self.biases]):
                    raise TrainingDiverged(f"training diverged in epoch {j}: weights became NaN or infinite")
                yield j, np.array(order, dtype=np.int64)
        finally:
            data[:] = [original[i] for i in order]

    def _epochs(self, data, epochs, mini_batch_size, eta, lmbda=0.0, first_epoch=0, order=None, rows=None):
        """Train in place of the book's epoch loop; a generator of ``(j, params, order, rows)`` per epoch.

        ``data`` is the caller's list (shuffled in place as the book's code
        shuffles it). After each yield ``weights`` and ``biases`` are a
        snapshot of epoch ``j``'s result and ``params`` the live buffer (read
        it, never write it); ``rows`` is ``(X, x_rows, Y, y_rows)`` of the
        training set. ``first_epoch`` and ``order`` (the permutation of
        ``data`` earlier epochs left) continue an interrupted run exactly,
        given the ``random`` state it had. ``rows``: ``_training_rows(data)``
        computed once by a caller that trains on the same list many times (a
        sweep's worker), saving the conversion (~0.2 s per 50,000 samples).
        Raises ``TrainingDiverged`` when a weight becomes NaN or infinite.
        """
        epochs = check_int(epochs, "epochs", 0)
        mini_batch_size = check_int(mini_batch_size, "mini_batch_size", 1)
        eta = check_eta(eta)
        lmbda = check_lmbda(lmbda)
        kernels().prepare(self.dtype)  # a first compile, if any, begins in a helper while the data is prepared
        with one_look():  # nothing of the learner's runs here: the loader's 188 MB matrix is read once, not twice
            rows = self._training_rows(data) if rows is None else rows
            X, x_rows, Y, y_rows = rows
            inputs, layout = self._prepared(X, x_rows) if self.skip_zero_inputs else (X, DENSE_INPUTS)
        n = len(data)
        decay = 1.0 - eta * (lmbda / n) if n else 1.0  # chapter 3's (1 - eta * lmbda / n), as the book computes it
        original = list(data)
        if order is None:
            order = np.arange(n, dtype=np.int64)  # shuffled exactly as the book shuffles its list
        else:
            order = np.array(order, dtype=np.int64)
            if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
                raise ValueError(f"order must be a permutation of the {n} training samples")
        params = self._pack()
        per_sample = 6 * self._layout.n_params  # forward, backward and update: ~3 multiply-adds per weight
        samples = min(SLICE_SAMPLES, max(1, int(SLICE_FLOPS // per_sample)))
        step = mini_batch_size * max(1, samples // mini_batch_size)
        progress = getattr(self, "progress", None)  # a callable (done, n), e.g. the command line's progress line
        # several cores where they may pay, chosen by measurement (dense_threads); None: one thread throughout
        plan = dense_threads.plan(self.sizes, mini_batch_size, compute_threads(), self.dtype, per_sample,
                                  n * (epochs - first_epoch))
        try:
            for j in range(first_epoch, epochs):
                _rng.shuffle(order)
                xo, yo = x_rows[order], y_rows[order]
                with self._inputs_order(params, layout.perm):
                    k = 0
                    while k < n:
                        size = plan.samples(step) if plan else step
                        threads = plan.threads() if plan else 1
                        start = time.perf_counter()
                        self._run(params, inputs, xo[k:k + size], Y, yo[k:k + size], mini_batch_size, eta, decay,
                                  layout=layout, threads=threads)
                        if plan:
                            plan.took(threads, time.perf_counter() - start, min(size, n - k))
                        k += size
                        if progress is not None:
                            progress(min(k, n), n)
                if not np.all(np.isfinite(params)):
                    raise TrainingDiverged(
                        f"training diverged in epoch {j}: weights became NaN or infinite; try a smaller eta "
                        f"(it was {eta:g})")
                self._unpack(params.copy())
                yield j, params, order.copy(), rows
        finally:
            self._unpack(params)
            self._forget_training_caches()
            data[:] = list(map(original.__getitem__, order.tolist()))  # a listcomp: 1.6x the time
