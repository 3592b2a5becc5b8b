"""Chapter 6's mini-batch step as one compiled call (``kernels.net_step``), for nets of nnfast's own layers.

``network3.Network._step`` hands a net whose leading convolutional layers run in ``conv_parts.CompiledConvs``
and whose other layers are its own fully connected and softmax layers (not subclassed: ``network3`` decides)
to a ``NetStep``: the layers described once as a table, workspaces kept from step to step, the dropout masks
drawn here before the call, layer by layer from the net's ``mask_rng``, exactly as the layers' own code draws
them (``fc_layers.dropped``). The weights are the layers' own arrays, stepped in place: ``layer.w``,
``layer.b`` and ``net.params`` show every step's result as soon as it returns. Where an array is not what
the kernel can step in place (a learner assigned one of another dtype or layout), ``step`` answers None
and the layers' own code runs that step.

Compiling ``kernels.net_step.step_one`` takes 4-5 s of CPU beyond the layers' own compiled code (measured on
2 cores, two-conv net, empty cache: a first one-thread step 4.3 s on the layers' code, 9.1 s through
``step_one``): the linked conv kernels are optimised again in it. So where it is neither compiled nor in numba's
cache, a one-thread run trains on the layers' own code (``network3`` asks ``one_thread_ready`` before each step)
while a helper process compiles it into numba's cache (``kernels.parallel_helper``, family ``step``; runs on
several threads get it from ``parallel_start``'s helper with the parallel kernels), and loads it from there once
the helper has ended. No compile runs on a thread of this process: numba's compiler lock stays free for the
training's own compiles, and a child forked meanwhile inherits no held lock. With ``NNFAST_COMPILE_HELPER=0``
it compiles at its first call, as the benchmarks' warm-up wants.
"""

import atexit
import threading

import numpy as np

from . import conv_parts, split_threads
from .kernels.conv import LINEAR, RELU, SIGMOID, TANH

CODES = {"linear": LINEAR, "ReLU": RELU, "sigmoid": SIGMOID, "tanh": TANH}
SLOTS = 6  # dense layers a net may have here (kernels.net_step.SLOTS; more: the layers' own code)


_COMPILE = {"helpers": {}, "lock": threading.Lock(), "ready": set(), "asked": set()}


def one_thread_ready(dtype, conv_layers):
    """Whether ``step_one`` for ``dtype`` and ``conv_layers`` may be called now without compiling it here for
    seconds (see the module). Where it is neither compiled nor cached: False at the first ask (the layers' own
    kernels compile in that step, and the helper then finds them in the cache), the second starts a helper
    process that compiles it, False while that runs; once it has ended, ``step_one`` is loaded from the cache
    (compiled here only if the helper left nothing there) and the answer is True from then on."""
    key = (np.dtype(dtype).name, int(conv_layers))
    if key in _COMPILE["ready"]:
        return True
    from .kernels import net_step as kernels
    from .kernels import parallel_helper
    from .kernels.background import compiled_or_cached
    signature = kernels.signature(dtype, conv_layers, False)
    with _COMPILE["lock"]:
        helper = _COMPILE["helpers"].get(key)
        if helper is not None:
            if helper.process.poll() is None:
                return False
            kernels.step_one.compile(signature)
        elif parallel_helper.wanted() and not compiled_or_cached(kernels.step_one, signature):
            if key not in _COMPILE["asked"]:
                _COMPILE["asked"].add(key)
                return False
            helper = parallel_helper.start(*key, parallel_helper.STEP)
            if helper is not None:
                atexit.register(helper.stop)  # a helper outliving a short script finishes its kernel and ends
                _COMPILE["helpers"][key] = helper
                return False
        _COMPILE["ready"].add(key)
        return True


class NetStep:
    """The step of ``convs`` (a ``conv_parts.CompiledConvs``) then ``spec``, the fully connected layers and the
    softmax as ``(layer, activation name or None for the softmax, p_dropout)``, in ``dtype``."""

    def __init__(self, convs, spec, dtype):
        from .kernels.net_step import COLUMNS, SLOTS as kernel_slots, SOFTMAX
        assert kernel_slots == SLOTS and 0 < len(spec) <= SLOTS
        self.convs, self.spec, self.dtype = convs, list(spec), np.dtype(dtype)
        self.layers = [layer for layer, _, _ in spec]
        self.table = np.zeros((len(spec), COLUMNS), dtype=np.int64)
        for j, (layer, name, p) in enumerate(spec):
            self.table[j, :4] = layer.n_in, layer.n_out, SOFTMAX if name is None else CODES[name], p > 0
        self.keeps = [1 - p for _, _, p in spec]
        self._workspaces = {}
        self._arrays = None  # (the arrays they were made from, the kernels' tuples)
        dummy = np.zeros((1, 1), dtype=self.dtype)
        self._pads = (dummy,), (dummy[0],)

    def compile_now(self):
        """Compile (or load from numba's cache) the one-thread step here and now: before a sweep's workers start
        (several processes compiling one kernel race on numba's cache, and each would pay for it)."""
        from .kernels import net_step as kernels
        kernels.step_one.compile(kernels.signature(self.dtype, len(self.convs.layers), False))
        _COMPILE["ready"].add((self.dtype.name, len(self.convs.layers)))

    def _workspace(self, m):
        """``(table with offsets for m samples, ws, masks)``: ``ws`` ends with the conv output's gradient."""
        from .kernels import net_step as k
        if m not in self._workspaces:
            table, at, masked = self.table.copy(), 0, 0
            for j, row in enumerate(table):
                n_in, n_out = row[k.N_IN], row[k.N_OUT]
                row[k.IN] = table[j - 1, k.OUT] if j else at
                at += m * n_in if j == 0 else 0
                for column, width in ((k.XD, n_in), (k.OUT, n_out), (k.DZ, n_out), (k.DX, n_in)):
                    row[column], at = at, at + m * width
                row[k.MASK], masked = masked, masked + (m * n_in if row[k.HAS_MASK] else 0)
            ws = np.zeros(at + m * table[0, k.N_IN], dtype=self.dtype)
            self._workspaces[m] = (table, ws, np.zeros(max(masked, 1), dtype=self.dtype))
        return self._workspaces[m]

    def _tuples(self):
        """The kernels' tuples of the layers' arrays (plain ndarray views), remade when a learner assigned one;
        None when one cannot be stepped in place."""
        arrays = [p for layer in self.convs.layers + self.layers for p in (layer.w, layer.b)]
        if self._arrays is not None and all(a is b for a, b in zip(arrays, self._arrays[0])):
            return self._arrays[1]
        for p in arrays:
            if not (isinstance(p, np.ndarray) and p.dtype == self.dtype and p.flags.c_contiguous and p.flags.writeable):
                return None
        for layer in self.convs.layers:
            if layer.w.shape != tuple(layer.filter_shape) or layer.b.shape != (layer.filter_shape[0],):
                return None
        for layer in self.layers:
            if layer.w.shape != (layer.n_in, layer.n_out) or layer.b.shape != (layer.n_out,):
                return None
        from .kernels.net_step import SLOTS
        pad = SLOTS - len(self.layers)
        Ws = tuple(layer.w.view(np.ndarray) for layer in self.convs.layers)
        cbs = tuple(layer.b.view(np.ndarray) for layer in self.convs.layers)
        Ks = tuple(np.empty((w.shape[0], w[0].size), dtype=self.dtype) for w in Ws)
        dws = tuple(layer.w.view(np.ndarray) for layer in self.layers) + self._pads[0] * pad
        dbd = tuple(layer.b.view(np.ndarray) for layer in self.layers) + self._pads[1] * pad
        self._arrays = (arrays, (Ws, cbs, Ks, dws, dbd))
        return self._arrays[1]

    def step(self, x, y, mask_rng, step, keep, want_l2, threads):
        """``(cost, sum of w^2 over every layer before the step, or 0 unless want_l2)`` of one SGD step on
        ``x (m, n_in)`` (the net's dtype), ``y (m,)`` int64, every layer stepped in place; None (nothing drawn,
        nothing changed) where the layers' arrays cannot be stepped in place."""
        from .kernels import net_step as kernels
        parts = split_threads.parts(len(x), threads)
        tuples = self._tuples()
        if tuples is None or (len(parts) == 1 and not one_thread_ready(self.dtype, len(self.convs.layers))):
            return None
        Ws, cbs, Ks, dws, dbd = tuples
        m = len(x)
        table, ws, masks = self._workspace(m)
        for j, layer in enumerate(self.layers):  # the book's order: layer by layer, each its (m, n_in) draws
            if table[j, kernels.HAS_MASK]:
                at = table[j, kernels.MASK]
                masks[at:at + m * layer.n_in].reshape(m, layer.n_in)[...] = \
                    mask_rng.random_sample((m, layer.n_in)) < self.keeps[j]
        convs = self.convs
        C, H, W = convs.layers[0].image_shape[1:]
        x = np.ascontiguousarray(x.reshape(m, C, H, W).transpose(0, 2, 3, 1).reshape(m, -1) if C > 1 else x)
        cw = convs._workspace(len(parts), max(hi - lo for lo, hi in parts))
        conv = (convs.geometry, Ws, cbs, Ks, *(cw[name] for name in ("cols", "Z", "out", "arg", "dX", "dKs", "dbs",
                                                                       "win_g", "win_rows")))
        dense = (dws, dbd, table, ws, masks, step, keep, bool(want_l2))
        if len(parts) == 1:
            cost, l2, bad = kernels.step_one(x, y, *conv, *dense)
        else:
            starts = np.array([lo for lo, _ in parts] + [m], dtype=np.int64)
            conv_parts.numba_threads(len(parts))
            from .kernels.step_region import step_region
            cost, l2, bad = step_region(x, y, starts, len(parts), *conv, *dense)
        if bad >= 0:
            raise ValueError(f"label {y[bad]} of sample {bad} of the mini-batch is not a class of the "
                             f"{self.layers[-1].n_out}-way softmax (0 to {self.layers[-1].n_out - 1})")
        return cost, l2
