"""The flat-buffer engine under the book's dense networks (chapter 1's ``network``, chapter 3's ``network2``).

Both book modules are thin faces over ``DenseNet``: it keeps every layer's
weights and biases in one flat buffer for the kernels, converts the book's
lists of columns to matrices once per call, runs the epochs (the book's
``random.shuffle`` draws, mini-batches, L2 decay, Ctrl-C between kernel
calls) and evaluates outputs, accuracy and cost over whole data sets. The
faces choose the cost and what to print. Its parts, one job each: ``dense_epochs`` (the
epoch loops), ``dense_eval`` (outputs over whole data sets), ``dense_kernels`` (the kernels
and their compile), ``cores`` (the thread count). No numba here: ``nnfast.engine.kernels``
is imported on first use, so ``import nnfast`` stays quick and compiles nothing.
"""

import time
import warnings

import numpy as np

from . import dense_threads, one_column
from . import rng as _rng
from .checks import _largest_input, as_list, check_finite, check_sizes
from .content_memo import remembered
from .convert import test_matrices, training_matrices
from .cores import compute_threads
from .dense_epochs import Epochs, TrainingDiverged  # noqa: F401 (the faces import TrainingDiverged from here)
from .dense_eval import Evaluation, eval_chunk
from .dense_kernels import INPUT_KINDS, kernels, start_compiling  # noqa: F401 (network2, mnist_loader, runs)
from .input_layout import DENSE_INPUTS, prepared_inputs

DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
QUADRATIC, CROSS_ENTROPY = 0, 1  # the kernels' cost codes (nnfast.engine.kernels.costs.QUADRATIC / CROSS_ENTROPY)


DRAW_BLOCK = 1 << 22  # weights drawn per randn call: Ctrl-C is honoured between calls (a call is ~0.1 s)


def _randn_blocks(rng, y, x, dtype, divisor):
    """``rng.randn(y, x)`` (``/ divisor``) in ``dtype``, drawn in blocks of rows: the same numbers in the
    same order (RandomState fills row-major, and keeps its spare Gaussian from call to call), without a
    float64 temporary of the whole layer, and stoppable by Ctrl-C."""
    if y * x <= DRAW_BLOCK:
        w = rng.randn(y, x)
        return (w / divisor if divisor is not None else w).astype(dtype, copy=False)
    out = np.empty((y, x), dtype=dtype)
    rows = max(1, DRAW_BLOCK // x)
    for i in range(0, y, rows):
        block = rng.randn(min(rows, y - i), x)
        out[i:i + rows] = block / divisor if divisor is not None else block
    return out


def memory_needed(sizes, dtype, batch):
    """Bytes a network of ``sizes`` needs to train in ``dtype`` at mini-batch ``batch`` (data apart):
    its weights, the kernels' flat buffer and gradient buffer, the snapshot each epoch yields, the
    drawing's float64 block, and the activations and deltas of a mini-batch and of an evaluation chunk."""
    sizes = [int(s) for s in sizes]
    itemsize = np.dtype(dtype).itemsize
    params = sum(x * y + y for x, y in zip(sizes[:-1], sizes[1:]))
    units = sum(sizes)
    rows = max(int(batch), eval_chunk(units, itemsize) * compute_threads())
    return 4 * params * itemsize + 8 * min(params, DRAW_BLOCK) + 2 * rows * units * itemsize


class Layout:
    """Where each layer's weights and biases sit in the flat parameter buffer."""

    def __init__(self, sizes):
        self.sizes = np.asarray(sizes, dtype=np.int64)
        w_off, b_off, pos = [], [], 0
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            w_off.append(pos)
            pos += n_out * n_in
            b_off.append(pos)
            pos += n_out
        self.w_off = np.asarray(w_off, dtype=np.int64)
        self.b_off = np.asarray(b_off, dtype=np.int64)
        self._w_at, self._b_at = w_off, b_off  # as Python ints, for slicing
        self.n_params = pos
        self.n_units = int(sum(sizes))
        self.shapes = [(int(y), int(x)) for x, y in zip(sizes[:-1], sizes[1:])]  # (n_out, n_in) per layer

    def split(self, buf):
        """``(weights, biases)``: lists of ``(n_out, n_in)`` and ``(n_out, 1)`` views of flat ``buf``."""
        weights = [buf[o:o + y * x].reshape(y, x) for o, (y, x) in zip(self._w_at, self.shapes)]
        biases = [buf[o:o + y].reshape(y, 1) for o, (y, _) in zip(self._b_at, self.shapes)]
        return weights, biases


class DenseNet(Epochs, Evaluation):
    """A feedforward sigmoid network on the flat buffer; subclasses give the book's face.

    ``_cost_code`` (``QUADRATIC`` or ``CROSS_ENTROPY``) picks the output error
    the kernels backpropagate. ``weights[l]`` is ``(sizes[l+1], sizes[l])`` and
    ``biases[l]`` is ``(sizes[l+1], 1)``: plain numpy arrays users may read or
    replace; training leaves new arrays in both lists, as the book does.
    """

    _cost_code = QUADRATIC
    # Training skips the first layer's products with zero inputs (MNIST's blank pixels; nnfast.engine.input_layout).
    # False runs it on every input: the same network up to rounding, for comparing the kernels alone.
    skip_zero_inputs = True

    def _setup(self, sizes, dtype):
        self.sizes = check_sizes(sizes)
        self.num_layers = len(self.sizes)
        self.dtype = np.dtype(dtype)
        if self.dtype not in DTYPES:
            raise TypeError(f"dtype must be float64 or float32, got {self.dtype}")
        self._layout = Layout(self.sizes)

    def _draw(self, scaled, rng=np.random):
        """The book's draws from numpy's global RNG (or ``rng``, a ``RandomState``): every bias
        ``randn(y, 1)`` first, then every weight ``randn(y, x)``, divided by ``sqrt(x)`` when
        ``scaled`` (chapter 3's default)."""
        self.biases = [rng.randn(y, 1).astype(self.dtype, copy=False) for y in self.sizes[1:]]
        self.weights = [_randn_blocks(rng, int(y), int(x), self.dtype, np.sqrt(x) if scaled else None)
                        for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    # -- the flat parameter buffer the kernels work on -------------------------

    def _pack(self):
        """A fresh flat buffer holding the current ``weights`` and ``biases``."""
        layers = self.num_layers - 1
        if len(self.weights) != layers or len(self.biases) != layers:
            raise ValueError(f"expected {layers} weight and bias arrays, "
                             f"got {len(self.weights)} and {len(self.biases)}")
        parts = []
        for i, (w, b, (n_out, n_in)) in enumerate(zip(self.weights, self.biases, self._layout.shapes)):
            w, b = np.asarray(w), np.asarray(b)
            if w.shape != (n_out, n_in):
                raise ValueError(f"weights[{i}] has shape {w.shape}; expected {(n_out, n_in)}")
            if b.shape != (n_out, 1) and b.shape != (n_out,):
                raise ValueError(f"biases[{i}] has shape {b.shape}; expected {(n_out, 1)}")
            parts += (w.reshape(-1), b.reshape(-1))
        return np.concatenate(parts, dtype=self.dtype, casting="unsafe")  # one pass, as the layout orders them

    def _unpack(self, params):
        """Point ``weights`` and ``biases`` at views of ``params``."""
        self.weights, self.biases = self._layout.split(params)

    def _scratch(self, cap):
        """Activation and delta buffers for batches of up to ``cap`` rows."""
        n = max(cap, 1) * self._layout.n_units
        return np.empty(n, dtype=self.dtype), np.empty(n, dtype=self.dtype)

    def _as_rows(self, a, width, what):
        """A ``(width, m)`` or ``(width,)`` column batch as C-contiguous rows ``(m, width)`` in our dtype."""
        a = np.asarray(a)
        if a.ndim == 1:
            a = a.reshape(-1, 1)
        if a.ndim != 2 or a.shape[0] != width:
            raise ValueError(f"{what} has shape {a.shape}; expected ({width}, 1) or ({width}, m)")
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{what} must hold numbers, got dtype {a.dtype}")
        return self._input_rows(np.ascontiguousarray(a.T))

    def _input_rows(self, X):
        """Input rows for the kernels: float32 stays float32 (MNIST's own dtype, half
        the memory of float64 and exact in both), anything else takes our dtype."""
        return X if X.dtype == np.float32 else X.astype(self.dtype, copy=False)

    def _training_rows(self, data):
        """``(X, x_rows, Y, y_rows)`` for the kernels: sample i is X[x_rows[i]], Y[y_rows[i]]."""
        X, x_rows, Y, y_rows = training_matrices(data, self.sizes[0], self.sizes[-1])
        if 4 * len(x_rows) < len(X):
            # A slice of the loader's lists (a mini-batch, td[:1000]) maps into all 60,000 rows: take
            # just its rows, so that neither the checks nor the input layout read the rest.
            X, x_rows = X[x_rows], np.arange(len(x_rows), dtype=np.int64)
        largest = remembered(X, "largest finite input", _largest_input)
        if largest > 20:
            warnings.warn(f"training inputs reach {largest:g}: unscaled pixels (0-255) saturate "
                          "the sigmoids and accuracy sticks near 10%; the book's inputs are in [0, 1)",
                          stacklevel=5)
        check_finite(Y if 4 * len(y_rows) >= len(Y) else Y[y_rows], "training targets")
        return self._input_rows(X), x_rows, Y.astype(self.dtype, copy=False), y_rows

    def _labelled_rows(self, data, what):
        """``(X, labels)`` for data whose labels are ints or one-hot columns (read as their argmax)."""
        X, labels = test_matrices(data, self.sizes[0], self.sizes[-1])
        check_finite(X, what)
        if labels.size and (labels.min() < 0 or labels.max() >= self.sizes[-1]):
            raise ValueError(f"{what} has labels outside 0..{self.sizes[-1] - 1}")
        return self._input_rows(X), labels

    def _run(self, params, X, x_rows, Y=None, y_rows=None, batch=None, eta=0.0, decay=1.0, out=None, grads=None,
             layout=None, threads=1):
        """Call the kernels' single entry point, allocating its scratch (see ``kernels.batches.run_batches``);
        ``layout``: an ``InputLayout`` of X (where its rows are nonzero; X's columns must already be in
        the first layer's order, see ``_inputs_order``). ``threads`` > 1 (training only): the first layer's
        units on that many threads (``kernels.batches_threaded``, the same numbers bit for bit)."""
        n_out = self.sizes[-1]
        batch = batch or max(len(x_rows), 1)
        cap = min(batch, max(len(x_rows), 1))
        acts, deltas = self._scratch(cap)
        if out is None:
            out = np.empty((0, n_out), dtype=self.dtype)
        if Y is None:
            Y, y_rows = out, x_rows
        lay = self._layout
        grads = np.empty_like(params) if grads is None else grads
        layout = layout or DENSE_INPUTS
        X = np.ascontiguousarray(X)  # its bytes are what the kernels read
        k = kernels()
        if threads > 1 and out.shape[0] == 0:
            run_threaded = dense_threads.kernel()
            dense_threads.numba_threads(threads)
            run_threaded(params, grads, lay.w_off, lay.b_off, lay.sizes, X.view(np.uint8), INPUT_KINDS[X.dtype],
                         x_rows, Y, y_rows, batch, eta, self._cost_code, float(decay), layout.lo, layout.hi,
                         float(layout.scale), acts, deltas, np.empty((cap, n_out), dtype=self.dtype),
                         np.empty(cap * self.sizes[1], dtype=self.dtype), threads)
            return params
        k.prepare(self.dtype)
        k.run_batches(params, grads, lay.w_off, lay.b_off, lay.sizes, X.view(np.uint8), INPUT_KINDS[X.dtype],
                      x_rows, Y, y_rows, batch, eta, self._cost_code, float(decay), layout.lo, layout.hi,
                      float(layout.scale), acts, deltas, np.empty((cap, n_out), dtype=self.dtype), out)
        k.compiled(self.dtype)
        return params

    def warm_up(self):
        """Compile the kernels (or load them from numba's cache) now, on a throw-away sample.

        Returns the seconds it took, so callers can report compile time apart
        from training time. Nothing about the network changes.
        """
        start = time.perf_counter()
        kernels().prepare(self.dtype)  # first: a helper process, if any, starts compiling
        X = np.zeros((1, self.sizes[0]), dtype=np.float32)  # MNIST's own dtype, as training will use
        Y = np.zeros((1, self.sizes[-1]), dtype=self.dtype)
        rows = np.zeros(1, dtype=np.int64)
        self._run(self._pack(), X, rows, Y, rows, 1, 1.0)
        _rng.ready()  # the shuffle last: a helper compiled it meanwhile (loaded from the cache), or it compiles now
        return time.perf_counter() - start

    def prepare_training(self, training_data):
        """Do now the one-off work of a training call on ``training_data`` (finding its matrix, checking it,
        laying out its nonzeros: about 0.3 s for MNIST's 50,000 images), so that the first epoch's time is
        the epoch's. Training the same, unchanged data then finds it done. Returns the seconds it took."""
        start = time.perf_counter()
        X, x_rows = self._training_rows(as_list(training_data))[:2]
        if self.skip_zero_inputs:
            prepared_inputs(X, x_rows)
        return time.perf_counter() - start

    def feedforward(self, a):
        """Output for input ``a``: ``(sizes[0], 1)`` gives ``(sizes[-1], 1)``; a batch ``(sizes[0], m)`` gives ``(sizes[-1], m)``."""
        shape = a.shape if type(a) is np.ndarray else np.shape(a)  # np.shape: 0.1 us of a 6 us call
        if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
            # one sample through numpy's matrix-vector products (one_column): the kernels' set-up (a flat copy
            # of every weight) costs more than the sample itself
            if shape[0] != self.sizes[0]:
                raise ValueError(f"input has shape {shape}; expected ({self.sizes[0]}, 1) or ({self.sizes[0]}, m)")
            a, dtype = (a if type(a) is np.ndarray else np.asarray(a)), self.dtype
            if a.dtype is not dtype:  # numpy's own dtype objects: the usual case is one comparison
                if a.dtype.kind not in "fiub":
                    raise TypeError(f"input must hold numbers, got dtype {a.dtype}")
                a = a.astype(dtype, copy=False)
            out = one_column.output(self._layout.shapes, self.weights, self.biases,
                                    a.reshape(-1, 1) if len(shape) == 1 else a, dtype)
            if out is None:
                self._pack()  # raises the message naming the layer, or the wrong number of layers
            return out.reshape(-1) if len(shape) == 1 else out
        X = self._as_rows(a, self.sizes[0], "input")
        out = np.ascontiguousarray(self._forward_rows(self._pack(), X).T)
        return out.reshape(-1) if len(shape) == 1 else out

    def _gradient(self, x, y):
        """The summed gradient ``(nabla_b, nabla_w)`` of the cost over the columns of ``x`` and ``y``."""
        X = self._as_rows(x, self.sizes[0], "x")
        Y = self._as_rows(y, self.sizes[-1], "y").astype(self.dtype, copy=False)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"x has {X.shape[0]} samples but y has {Y.shape[0]}")
        params = self._pack()
        grads = np.empty_like(params)
        rows = np.arange(X.shape[0], dtype=np.int64)
        self._run(params, X, rows, Y, rows, eta=0.0, grads=grads)  # eta 0: gradient only
        nabla_w, nabla_b = self._layout.split(grads)
        # Biases as copies: a script that keeps only nabla_b (fig/generate_gradient.py keeps a thousand)
        # must not keep every weight gradient's buffer alive with them.
        return [b.copy() for b in nabla_b], nabla_w

    def _batch_gradient(self, mini_batch):
        """The kernels' gradient ``(nabla_b, nabla_w)`` summed over the ``(x, y)`` pairs of ``mini_batch``."""
        mini_batch = as_list(mini_batch)
        if not mini_batch:
            raise ValueError("mini_batch is empty")
        m, n_in, n_out = len(mini_batch), self.sizes[0], self.sizes[-1]
        try:  # the book's (n, 1) columns: each transposed is a row, so one concatenation gives the rows
            X = np.concatenate([x.T for x, _ in mini_batch])
            Y = np.concatenate([y.T for _, y in mini_batch])
            fits = X.shape == (m, n_in) and Y.shape == (m, n_out) and X.dtype.kind == "f" and Y.dtype.kind == "f"
        except (AttributeError, TypeError, ValueError):
            fits = False
        if fits:
            if _largest_input(X) > 20:
                self._training_rows(mini_batch)  # its warning about unscaled pixels
            check_finite(Y, "training targets")
            X, Y, x_rows = self._input_rows(X), Y.astype(self.dtype, copy=False), np.arange(m, dtype=np.int64)
            y_rows = x_rows
        else:  # anything else, with the general path's checks and messages
            X, x_rows, Y, y_rows = self._training_rows(mini_batch)
        params = self._pack()
        grads = np.empty_like(params)
        self._run(params, X, x_rows, Y, y_rows, eta=0.0, grads=grads)
        nabla_w, nabla_b = self._layout.split(grads)
        return [b.copy() for b in nabla_b], nabla_w

    def _count_sample_gradient(self, x):
        """Count a face's kernel ``backprop`` of one sample (see ``_book_update``)."""
        if np.ndim(x) < 2 or np.shape(x)[1] == 1:
            self._sample_gradients = self.__dict__.get("_sample_gradients", 0) + 1

    def _step(self, mini_batch, eta, decay=1.0):
        """One gradient step on ``mini_batch`` (a list of ``(x, y)``)."""
        mini_batch = as_list(mini_batch)
        if not mini_batch:
            raise ValueError("mini_batch is empty")
        X, x_rows, Y, y_rows = self._training_rows(mini_batch)
        self._unpack(self._run(self._pack(), X, x_rows, Y, y_rows, len(x_rows), eta, decay))
