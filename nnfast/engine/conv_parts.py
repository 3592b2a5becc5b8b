"""Chapter 6's leading convolutional layers on parts of a mini-batch: one part per thread.

``network3.Network._step`` hands the convolutional layers at the front of the net to one of these:
``forward(x, parts)`` gives their output for the whole mini-batch, ``backward(d)`` each layer's
``(dw, db)`` summed over the parts, from the same weights. Each part is a run of whole samples;
the parts run at once on ``split_threads``, one BLAS thread each.

``CompiledConvs`` takes all parts through every layer in one compiled call (``kernels.conv_stack``),
which needs numba's ``np.dot`` and so SciPy; without SciPy, ``LayerConvs`` calls the layers'
own ``forward``/``backward`` per part on Python threads (they pay less: each waits for the GIL
between calls).
"""

import importlib.util

import numpy as np

from . import split_threads


def for_layers(layers, dtype):
    """The engine for these ``network3.ConvPoolLayer`` s: compiled where SciPy is installed."""
    if importlib.util.find_spec("scipy") is not None and np.dtype(dtype) in (np.float32, np.float64):
        return CompiledConvs(layers, dtype)
    return LayerConvs(layers, dtype)


class LayerConvs:
    """Each part through the layers' own ``forward`` and ``backward`` (plain Python between kernels)."""

    runs_conv_stack = False  # no parallel kernel of its own (engine.parallel_start)

    def __init__(self, layers, dtype):
        self.layers, self.dtype = list(layers), np.dtype(dtype)

    def plain(self):
        return self

    def forward(self, x, parts):
        def run(rows):
            a, caches = x[rows[0]:rows[1]], []
            for layer in self.layers:
                a, cache = layer.forward(a, None)
                caches.append(cache)
            return a, caches
        done = split_threads.run(run, parts)
        self._state = ([caches for _, caches in done], parts)
        return np.concatenate([a for a, _ in done]) if len(done) > 1 else done[0][0]

    def backward(self, d):
        part_caches, parts = self._state
        last = len(self.layers) - 1

        def run(item):
            caches, (lo, hi) = item
            grads, g = [None] * len(self.layers), d[lo:hi]
            for i in range(last, -1, -1):
                dw, db, g = self.layers[i].backward(caches[i], g, want_dx=i > 0)
                grads[i] = (dw, db)
            return grads
        done = split_threads.run(run, list(zip(part_caches, parts)))
        return [(sum(p[i][0] for p in done), sum(p[i][1] for p in done)) for i in range(len(self.layers))]


class CompiledConvs:
    """All parts through every layer in one compiled call (``kernels.conv_stack``), the parts on numba's
    threads; workspaces kept from step to step."""

    runs_conv_stack = True  # the parallel kernels engine.parallel_start waits for include conv_stack's

    def __init__(self, layers, dtype):
        import scipy.linalg.cython_blas  # noqa: F401  numba's np.dot runs on it: load it so that it is limited too

        from . import blas_threads
        from .kernels.conv import LINEAR, RELU, SIGMOID, TANH
        blas_threads.rescan()
        self.layers, self.dtype = list(layers), np.dtype(dtype)
        codes = {"linear": LINEAR, "ReLU": RELU, "sigmoid": SIGMOID, "tanh": TANH}
        # every map channels-last (kernels.conv_stack); the book's (m, C, H, W) order at the ends
        self.geometry = np.array([[*layer.image_shape[1:], layer.filter_shape[0], *layer.filter_shape[2:],
                                   *layer.poolsize, codes[layer.activation_fn.__name__]]
                                  for layer in self.layers], dtype=np.int64)
        self._workspaces = {}
        self._bound = {}  # (count, m) -> the bound geometry (``bound``)
        self._plain = None

    def plain(self):
        """The same layers on their own code (``LayerConvs``): what a first run uses while a helper compiles this
        engine's kernels (``engine.parallel_start``): a few small kernels, compiled in about half the time."""
        if self._plain is None:
            self._plain = LayerConvs(self.layers, self.dtype)
        return self._plain

    def _workspace(self, count, m):
        """Buffers for ``count`` parts of at most ``m`` samples: patches, maps, outputs, winners, the
        gradients' (``dKs``, ``dbs``: one per part, summed after) and each filter's winners (``win_g``,
        ``win_rows``: ``kernels.conv.pool_backward_filters``)."""
        key = (count, m)
        if key not in self._workspaces:
            names = ("cols", "Z", "out", "arg", "dX", "dKs", "dbs", "win_g", "win_rows")
            bufs = {name: [] for name in names}
            for layer in self.layers:
                F, C, fh, fw = layer.filter_shape
                _, _, H, W = layer.image_shape
                rows = m * (H - fh + 1) * (W - fw + 1)
                bufs["cols"].append(np.empty((count, rows, C * fh * fw), self.dtype))
                bufs["Z"].append(np.empty((count, rows, F), self.dtype))
                bufs["out"].append(np.empty((count, m, layer.n_out), self.dtype))
                bufs["arg"].append(np.empty((count, m, layer.n_out), np.int64))
                bufs["dX"].append(np.empty((count, m, C * H * W), self.dtype))
                bufs["dKs"].append(np.empty((count, F, C * fh * fw), self.dtype))
                bufs["dbs"].append(np.empty((count, F), self.dtype))
                windows = m * layer.n_out // F  # the pooling windows of a part, each filter's winners
                bufs["win_g"].append(np.empty((count, F, windows), self.dtype))
                bufs["win_rows"].append(np.empty((count, F, windows), np.int64))
            self._workspaces[key] = {name: tuple(bufs[name]) for name in names}
        return self._workspaces[key]

    def bound(self, count, m):
        """``geometry`` with the addresses of the ways its layers take in ``_workspace(count, m)``'s parts
        (``kernels.conv_ways.bind``: compiled or loaded from numba's cache at the first ask), as
        ``conv_stack.forward_layers`` and ``backward_layers`` take it."""
        from .kernels import conv_ways
        if (count, m) not in self._bound:
            self._bound[count, m] = conv_ways.bind(self.geometry, self.dtype, m)
        return self._bound[count, m]

    def forward(self, x, parts):
        """The last layer's outputs ``(m, F*Hp*Wp)`` (the book's order) for inputs ``x (m, C*H*W)``."""
        from .kernels import conv_stack
        # flipped: a true convolution, as Theano's conv2d; columns (u, v, c) for channels-last maps
        Ks = tuple(np.ascontiguousarray(layer.w[:, :, ::-1, ::-1].transpose(0, 2, 3, 1).reshape(layer.filter_shape[0], -1),
                                        dtype=self.dtype) for layer in self.layers)
        bs = tuple(np.ascontiguousarray(layer.b, dtype=self.dtype) for layer in self.layers)
        C, H, W = self.layers[0].image_shape[1:]
        x = np.asarray(x, dtype=self.dtype)
        x = np.ascontiguousarray(x.reshape(len(x), C, H, W).transpose(0, 2, 3, 1) if C > 1 else x).reshape(len(x), -1)
        starts = np.array([lo for lo, _ in parts] + [parts[-1][1]], dtype=np.int64)
        ws = self._workspace(len(parts), max(hi - lo for lo, hi in parts))
        args = (self.bound(len(parts), max(hi - lo for lo, hi in parts)), Ks, bs, ws["cols"], ws["Z"], ws["out"],
                ws["arg"])
        if len(parts) == 1:
            conv_stack.forward_layers(x, *args, 0)
        else:
            numba_threads(len(parts))
            conv_stack.forward(x, starts, *args, conv_stack.addresses(self.dtype, len(self.layers))[0])
        self._state = (Ks, ws, starts, args[0])
        last = ws["out"][-1]
        a = np.concatenate([last[p, :hi - lo] for p, (lo, hi) in enumerate(parts)]) if len(parts) > 1 \
            else last[0, :len(x)]
        F, Hp, Wp = self.layers[-1].out_shape
        return a.reshape(len(x), Hp, Wp, F).transpose(0, 3, 1, 2).reshape(len(x), -1)  # a copy: channels first

    def backward(self, d):
        """Each layer's ``(dw, db)``, summed over the mini-batch, from ``d (m, F*Hp*Wp)``, the gradient at the
        last layer's output (the book's order), for the inputs of the last ``forward``."""
        from .kernels import conv_stack
        Ks, ws, starts, bound = self._state
        F, Hp, Wp = self.layers[-1].out_shape
        d = np.ascontiguousarray(np.asarray(d, dtype=self.dtype).reshape(len(d), F, Hp, Wp).transpose(0, 2, 3, 1))
        d = d.reshape(len(d), -1)
        args = (bound, Ks, *(ws[name] for name in ("cols", "Z", "out", "arg", "dX", "dKs", "dbs", "win_g", "win_rows")))
        count = len(starts) - 1
        if count == 1:
            conv_stack.backward_layers(d, *args, 0)
        else:
            numba_threads(count)
            conv_stack.backward(d, starts, *args, conv_stack.addresses(self.dtype, len(self.layers))[1])
        grads = []
        for k, layer in enumerate(self.layers):
            dK = ws["dKs"][k][:count].sum(axis=0) if count > 1 else ws["dKs"][k][0]
            db = ws["dbs"][k][:count].sum(axis=0) if count > 1 else ws["dbs"][k][0]
            F, C, fh, fw = layer.filter_shape
            grads.append((dK.reshape(F, fh, fw, C).transpose(0, 3, 1, 2)[:, :, ::-1, ::-1], db))
        return grads


def step_layers(layers, grads, step, keep, want_l2):
    """Step each layer's ``w``, ``b`` in place by its ``(dw, db)`` of ``grads`` (``w = keep * w - step * dw``);
    returns the sum of sum(w^2) before the step when ``want_l2``, else 0."""
    l2 = 0.0
    for layer, (dw, db) in zip(layers, grads):
        if want_l2:
            l2 += float(np.vdot(layer.w, layer.w))
        if keep != 1:
            layer.w *= keep
        layer.w -= step * dw.astype(step.dtype, copy=False)
        layer.b -= step * db.astype(step.dtype, copy=False)
    return l2


def numba_threads(count):
    """numba's threads for the next parallel region: one per part, as far as numba has them."""
    import numba
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))
