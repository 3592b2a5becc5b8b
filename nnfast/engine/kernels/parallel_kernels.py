"""Chapter 6's ``parallel=True`` kernels and the argument types the engine calls them with, in one list.

numba compiles a ``parallel=True`` kernel, with every kernel it calls, a second time (its loop body
becomes a separate function), and links every callee into its caller, optimising it again there. The two-conv
net's list (``helper_kernels(dtype, 2)``) takes about 20 s of CPU in float32 and 19-26 in float64 (2026-12-05, shared
2-core machine at load 1.8-3.3, the layers' own code already in the cache; main before the conv layers' ways and the
dense kernels by address 24-26 and 22-30; ``benchmarks/README.md``). A first run therefore trains on one thread on the layers' own code while a helper process compiles these, and the
compiled step's serial kernels, into numba's on-disk cache (``parallel_helper``); the engine
(``nnfast.engine.parallel_start``) loads them from there once it has finished. Both take the lists
below: a new kernel joins the mechanism by one line in ``parallel_kernels`` (or ``serial_kernels``).
Chapter 1 and 3's threaded kernel (``threaded_dense_kernels``) goes the same way: a helper compiles it while training
goes on on one thread (``nnfast.engine.dense_threads``).
``tests/engine/test_parallel_start.py`` checks that each signature is the one a training step and a
prediction call with, so that the helper never compiles a useless one. The big serial kernels (``conv_stack``'s
parts, each conv layer's way (``conv_ways``), ``step_region.part``, the dense kernels of ``dense_calls``) are called
by address (``kernels.by_address``): each is compiled once, not again in each kernel that calls it.
"""

import numpy as np
from numba import types


def _array_types(dtype):
    F = {np.dtype(np.float64): types.float64, np.dtype(np.float32): types.float32}[np.dtype(dtype)]
    return F, {d: types.Array(F, d, "C") for d in (1, 2, 3)}, {d: types.Array(types.int64, d, "C") for d in (1, 2, 3)}


def parallel_kernels(dtype, conv_layers):
    """``[(kernel, argument types)]`` of the parallel kernels a chapter 6 net of parameters in ``dtype`` calls,
    whose first ``conv_layers`` layers run in ``kernels.conv_stack`` (0: none), in the order a helper compiles
    them (a prediction's first). A conv net trains in the compiled step: the kernels only the layers' own code
    calls on several threads (``conv_stack.backward``, ``dense_step``'s parallel pair: a net the compiled step
    does not describe, or an array it cannot step in place) are left out of its list, 2.5-3 s of CPU a helper
    spent for nothing in the book's nets; such a run compiles them at their first call."""
    from . import conv_stack, dense_step, net_step, step_region
    F, A, I = _array_types(dtype)
    i, b = types.int64, types.boolean
    if conv_layers:
        # conv_parts.CompiledConvs.forward (a prediction): the part's arguments after the starts, and the part
        # kernel's address last (kernels.by_address); then engine.net_step's whole step on several threads, its
        # parts' kernel (by address) first
        forward_part = conv_stack.part_signatures(dtype, conv_layers)[0]
        return [(conv_stack.forward, (forward_part[0], I[1]) + forward_part[1:-1] + (i,)),
                (step_region.part, step_region.part_signature(dtype, conv_layers)),
                (step_region.step_region, net_step.signature(dtype, conv_layers, True))]
    # fc_layers.fused_step and SparseProduct
    return [(dense_step.backward_step, (A[2], A[2], A[2], b, A[2], F, F, b, A[2], b, i)),
            (dense_step.forward, (A[2], A[2], A[1], A[2], i))]


def backward_kernel(dtype, conv_layers):
    """``(conv_stack.backward, its argument types)``: ``conv_parts.CompiledConvs.backward`` on several threads
    (the layers' own step; not in the helper's list, see ``parallel_kernels``)."""
    from . import conv_stack
    backward_part = conv_stack.part_signatures(dtype, conv_layers)[1]
    return conv_stack.backward, (backward_part[0], _array_types(dtype)[2][1]) + backward_part[1:-1] + (types.int64,)


def serial_kernels(dtype, conv_layers):
    """``[(kernel, argument types)]`` of the serial kernels the compiled step runs on one thread (what each of
    the parallel ones calls per thread): the helper compiles them too, for a first run trains on the layers'
    own code meanwhile (``nnfast.engine.parallel_start``)."""
    from . import conv_stack, conv_ways, dense_calls, net_step
    kernels = []
    if conv_layers:
        # the ways the book's conv layers run (conv_ways: each compiled once, only those a net takes; another way
        # compiles at its net's first compiled call), and the part kernels that call them by address
        kernels += conv_ways.book_kernels(dtype)
        kernels += list(zip((conv_stack.forward_layers, conv_stack.backward_layers),
                            conv_stack.part_signatures(dtype, conv_layers)))
    # the compiled step's dense kernels (fc_layers.SparseProduct's on one thread too: the dropout net's inputs after
    # ReLU and dropout); steps_one calls them by address (dense_calls), the conv nets' only
    kernels += list(zip(dense_calls.kernels(), dense_calls.signatures(dtype)))[:None if conv_layers else 2]
    # engine.net_step's whole step on one thread
    return kernels + ([(net_step.steps_one, net_step.signature(dtype, conv_layers, False))] if conv_layers else [])


def threaded_dense_kernels(dtype):
    """``[(kernel, argument types)]`` of chapter 1 and 3's threaded training kernel as ``DenseNet._run`` calls it
    (``nnfast.engine.dense_threads``: only where threads may pay): a helper compiles it as it does chapter 6's."""
    from . import background, batches_threaded
    F, A, I = _array_types(dtype)
    return [(batches_threaded.run_batches_threaded, background.entry_signature(dtype)[:-1] + (A[1], types.int64))]


def helper_kernels(dtype, conv_layers):
    """What the helper compiles and a run loads when it has finished: the serial kernels, then the parallel."""
    return serial_kernels(dtype, conv_layers) + parallel_kernels(dtype, conv_layers)
