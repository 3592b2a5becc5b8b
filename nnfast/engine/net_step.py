"""Chapter 6's mini-batch step as one compiled call (``kernels.net_step``), for nets of nnfast's own layers.

``network3.Network._step`` hands a net whose leading convolutional layers run in ``conv_parts.CompiledConvs``
and whose other layers are its own fully connected and softmax layers (not subclassed: ``network3`` decides)
to a ``NetStep``: the layers described once as a table, workspaces kept from step to step, the dropout masks
drawn here before the call, layer by layer from the net's ``mask_rng``, exactly as the layers' own code draws
them (``fc_layers.dropped``). The weights are the layers' own arrays, stepped in place: ``layer.w``,
``layer.b`` and ``net.params`` show every step's result as soon as it returns. Where an array is not what
the kernel can step in place (a learner assigned one of another dtype or layout), ``step`` answers None
and the layers' own code runs that step. ``run`` steps a run of consecutive mini-batches in one call
(``net_runs``, ``network3``'s training loop): the run's masks drawn first, in the same order.

The one-thread step and what it calls (``kernels.parallel_kernels.serial_kernels``: the conv layers' ways, the part
kernels, the dense kernels, ``kernels.net_step.steps_one``) take about 13 s of CPU to compile beyond the layers' own
code, ``steps_one`` 3.6 of them (two-conv net, float32, empty cache after the layers' own code, 2026-12-05 at load
1.8-3.3; main's list 17, ``steps_one`` 5.4, before the dense kernels were called by address). So where it is
neither compiled nor in numba's cache, a one-thread run trains on the layers' own code (``network3`` asks ``one_thread_ready`` before each step)
while a helper process compiles it into numba's cache (``kernels.parallel_helper``, family ``step``; runs on
several threads get it from ``parallel_start``'s helper with the parallel kernels), and loads it from there once
the helper has ended. No compile runs on a thread of this process: numba's compiler lock stays free for the
training's own compiles, and a child forked meanwhile inherits no held lock. With ``NNFAST_COMPILE_HELPER=0``
it compiles at its first call, as the benchmarks' warm-up wants.
"""

import atexit
import math
import threading

import numpy as np

from . import conv_parts, split_threads
from .kernels.conv import LINEAR, RELU, SIGMOID, TANH

CODES = {"linear": LINEAR, "ReLU": RELU, "sigmoid": SIGMOID, "tanh": TANH}
SLOTS = 6  # dense layers a net may have here (kernels.net_step.SLOTS; more: the layers' own code)
# a run of steps in one compiled call (``NetStep.run``) takes at most MAX_RUN steps, dropout masks of at most
# MASK_BYTES (the book's dropout net draws 26,400 numbers a step: 13 steps in float32) and about RUN_SECONDS: a Ctrl-C
# lands when the run has ended. Past ~20 steps a run saves nothing more (the ~44 us a call is then ~2 us a step).
MAX_RUN, MASK_BYTES, RUN_SECONDS = 32, 4 << 20, 0.05


_COMPILE = {"helpers": {}, "lock": threading.Lock(), "ready": set(), "asked": set()}


def one_thread_ready(dtype, conv_layers):
    """Whether ``steps_one`` for ``dtype`` and ``conv_layers`` may be called now without compiling it here for
    seconds (see the module). Where it is neither compiled nor cached: False at the first ask (the layers' own
    kernels compile in that step, and the helper then finds them in the cache), the second starts a helper
    process that compiles it, False while that runs; once it has ended, ``steps_one`` is loaded from the cache
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
            kernels.steps_one.compile(signature)
        elif parallel_helper.wanted() and not compiled_or_cached(kernels.steps_one, signature):
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
        self._masks = None  # a run's masks (``_draw_masks``), kept from run to run
        self.seconds_per_step = None  # the last timed run's, set by its caller (``net_runs``)
        self._arrays = None  # (the arrays they were made from, the kernels' tuples)
        dummy = np.zeros((1, 1), dtype=self.dtype)
        self._pads = (dummy,), (dummy[0],)

    def compile_now(self):
        """Compile (or load from numba's cache) the one-thread step here and now: before a sweep's workers start
        (several processes compiling one kernel race on numba's cache, and each would pay for it)."""
        from .kernels import net_step as kernels
        kernels.steps_one.compile(kernels.signature(self.dtype, len(self.convs.layers), False))
        _COMPILE["ready"].add((self.dtype.name, len(self.convs.layers)))

    def _workspace(self, m):
        """``(table with offsets for m samples and the dense kernels' addresses, ws, masks)``: ``ws`` ends with the
        conv output's gradient."""
        from .kernels import dense_calls, net_step as k
        if m not in self._workspaces:
            table, at, masked = self.table.copy(), 0, 0
            for j, row in enumerate(table):
                n_in, n_out = row[k.N_IN], row[k.N_OUT]
                row[k.IN] = table[j - 1, k.OUT] if j else at
                at += m * n_in if j == 0 else 0
                for column, width in ((k.XD, n_in), (k.OUT, n_out), (k.DZ, n_out), (k.DX, n_in)):
                    row[column], at = at, at + m * width
                row[k.MASK], masked = masked, masked + (m * n_in if row[k.HAS_MASK] else 0)
            table[:, k.BACKWARD_ROWS_AT:k.PRODUCT_AT + 1] = dense_calls.addresses(self.dtype)  # compiled or loaded
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
        done = self.run(x, y, 1, mask_rng, step, keep, want_l2, threads)
        return None if done is None else (float(done[0][0]), float(done[1][0]))

    def run(self, x, y, count, mask_rng, step, keep, want_l2, threads, first=None):
        """``(costs, l2s)``, float64 arrays of each step's cost and sum of w^2 (as ``step``'s), of the ``count``
        consecutive mini-batch steps on ``x (count * m, n_in)`` and ``y (count * m,)``, their dropout masks drawn
        here first, step by step and layer by layer as the per-step code draws them; None (nothing drawn,
        nothing changed) where the layers' arrays cannot be stepped in place. A step whose cost or sum is NaN
        ends the run early (shorter arrays; the stream left as after that step's draws), as the book's loop
        stops there. A label outside the softmax raises, naming its sample and mini-batch (``first``: the
        run's first mini-batch number, for the message), with the steps before it done."""
        from .kernels import conv_stack, net_step as kernels
        m = len(y) // count
        parts = split_threads.parts(m, threads)
        tuples = self._tuples()
        if tuples is None or (len(parts) == 1 and not one_thread_ready(self.dtype, len(self.convs.layers))):
            return None
        Ws, cbs, Ks, dws, dbd = tuples
        table, ws, _ = self._workspace(m)
        stride = int(sum(m * layer.n_in for j, layer in enumerate(self.layers) if table[j, kernels.HAS_MASK]))
        masks, state = self._draw_masks(table, m, count, stride, mask_rng)
        convs = self.convs
        C, H, W = convs.layers[0].image_shape[1:]
        x = np.ascontiguousarray(x.reshape(len(y), C, H, W).transpose(0, 2, 3, 1).reshape(len(y), -1) if C > 1 else x)
        most = max(hi - lo for lo, hi in parts)
        cw = convs._workspace(len(parts), most)
        conv = (convs.bound(len(parts), most), Ws, cbs, Ks, *(cw[name] for name in ("cols", "Z", "out", "arg", "dX", "dKs", "dbs",
                                                                       "win_g", "win_rows")))
        costs, l2s = np.zeros(count), np.zeros(count)
        parts_at = conv_stack.addresses(self.dtype, len(convs.layers))  # the conv parts' kernels, by address
        if len(parts) == 1:
            done, bad = kernels.steps_one(x.reshape(-1), y, count, *conv, dws, dbd, table, ws, masks, stride, step,
                                          keep, bool(want_l2), costs, l2s, *parts_at)
        else:  # one compiled call a step: two parallel regions each (kernels.step_region)
            from .kernels.step_region import addresses, step_region
            region_at = addresses(self.dtype, len(convs.layers))
            starts = np.array([lo for lo, _ in parts] + [m], dtype=np.int64)
            conv_parts.numba_threads(len(parts))
            done, bad = count, -1
            for i in range(count):
                costs[i], l2s[i], bad = step_region(
                    x[i * m:(i + 1) * m], y[i * m:(i + 1) * m], starts, len(parts), *conv, dws, dbd, table, ws,
                    masks[i * stride:(i + 1) * stride] if stride else masks, step, keep, bool(want_l2), *region_at)
                if bad >= 0 or math.isnan(costs[i]) or math.isnan(l2s[i]):
                    done = i + int(bad < 0)
                    break
        if done < count and state is not None:  # rewind the stream: drawn only up to the step where it stopped
            mask_rng.set_state(state)
            mask_rng.random_sample((done + (bad >= 0)) * stride)
        if bad >= 0:
            which = "the mini-batch" if first is None else f"mini-batch {first + done}"
            raise ValueError(f"label {y[done * m + bad]} of sample {bad} of {which} is not a class of the "
                             f"{self.layers[-1].n_out}-way softmax (0 to {self.layers[-1].n_out - 1})")
        return costs[:done], l2s[:done]

    def run_length(self, m):
        """The most steps a run may take: its dropout masks within ``MASK_BYTES`` (the float64 draws and the
        masks), and, once a run was timed, within ``RUN_SECONDS`` (a Ctrl-C waits for the run to end)."""
        per_step = sum(m * layer.n_in for layer, keep in zip(self.layers, self.keeps) if keep < 1)
        most = MAX_RUN if not per_step else MASK_BYTES // (per_step * (8 + self.dtype.itemsize))
        if self.seconds_per_step is not None:
            most = min(most, int(RUN_SECONDS / max(self.seconds_per_step, 1e-9)))
        return max(1, min(MAX_RUN, most))

    def _draw_masks(self, table, m, count, stride, mask_rng):
        """``(masks, state)``: ``count`` steps' masks, ``stride`` apart (each step's layers at ``table``'s
        ``MASK`` offsets), from one draw of ``mask_rng``: the same numbers, in the same order, as the per-step
        code's draws of ``(m, n_in)`` a masked layer, step by step; ``state``, the stream's before them."""
        from .kernels import net_step as kernels
        if not stride:
            return self._workspace(m)[2], None
        if self._masks is None or len(self._masks) < count * stride:
            self._masks = np.zeros(count * stride, dtype=self.dtype)
        masks = self._masks[:count * stride]
        state = mask_rng.get_state() if count > 1 else None  # a run of one stops only at its one step
        draws = mask_rng.random_sample((count, stride))
        laid = masks.reshape(count, stride)
        for j, layer in enumerate(self.layers):
            if table[j, kernels.HAS_MASK]:
                at, width = table[j, kernels.MASK], m * layer.n_in
                laid[:, at:at + width] = draws[:, at:at + width] < self.keeps[j]
        return masks, state
