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
cache, ``one_thread_ready`` starts its compile on a daemon thread and the layers' own code trains meanwhile
(runs on several threads get it from ``parallel_start``'s helper with the parallel kernels). With
``NNFAST_COMPILE_HELPER=0`` it compiles at its first call, as the benchmarks' warm-up wants.
"""

import os
import threading

import numpy as np

from . import conv_parts, split_threads
from .kernels.conv import LINEAR, RELU, SIGMOID, TANH

CODES = {"linear": LINEAR, "ReLU": RELU, "sigmoid": SIGMOID, "tanh": TANH}
SLOTS = 6  # dense layers a net may have here (kernels.net_step.SLOTS; more: the layers' own code)


_COMPILE = {"threads": {}, "lock": threading.Lock(), "ready": set(), "asked": set()}


def one_thread_ready(dtype, conv_layers):
    """Whether ``step_one`` for ``dtype`` and ``conv_layers`` may be called now without compiling it in the
    caller's thread (see the module); else its compile is started on a daemon thread, once, at the second ask:
    by then the layers' own kernels are compiled (holding numba's compiler lock, the thread made the first step
    wait for it: 9.4 s)."""
    key = (np.dtype(dtype).name, int(conv_layers))
    if key in _COMPILE["ready"]:
        return True
    from .kernels import net_step as kernels
    from .kernels.background import HELPER_VARIABLE, compiled_or_cached
    signature = kernels.signature(dtype, conv_layers, False)
    with _COMPILE["lock"]:
        thread = _COMPILE["threads"].get(key)
        if thread is not None and thread.is_alive():
            return False
        # a finished thread: compiled, or failed (then the first call compiles again and says why)
        if (thread is not None or os.environ.get(HELPER_VARIABLE, "").strip() == "0"
                or compiled_or_cached(kernels.step_one, signature)):
            _COMPILE["ready"].add(key)
            return True
        if key not in _COMPILE["asked"]:
            _COMPILE["asked"].add(key)
            return False
        thread = _COMPILE["threads"][key] = threading.Thread(target=_compile, args=(kernels.step_one, signature),
                                                             daemon=True, name="nnfast-compile-step")
        thread.start()
        return False


def _compile(kernel, signature):
    import sys
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0002))
    try:
        kernel.compile(signature)
    except Exception:  # noqa: BLE001  a failed compile here is tried again (and reported) at the first call
        pass
    finally:
        sys.setswitchinterval(interval)


def _finish_compile_before_fork():
    """``os.fork``'s hook, as ``dense_threads``': a child forked while the compile thread holds numba's compiler
    lock would wait for ever at its first compile; the fork waits for the compile instead."""
    for thread in list(_COMPILE["threads"].values()):
        if thread is not threading.current_thread():
            thread.join()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_compile_before_fork)


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
            cost, l2, bad = kernels.step_threads(x, y, starts, len(parts), *conv, *dense)
        if bad >= 0:
            raise ValueError(f"label {y[bad]} of sample {bad} of the mini-batch is not a class of the "
                             f"{self.layers[-1].n_out}-way softmax (0 to {self.layers[-1].n_out - 1})")
        return cost, l2
