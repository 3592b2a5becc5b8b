"""Chapter 6's mini-batch step on numba's threads in two parallel regions (``kernels.net_step.step_one``'s
arithmetic, its arguments those of ``net_step.signature(..., threaded=True)``).

Region 1, one ``prange`` over the parts ``starts`` (whole samples): each thread takes its part through every layer
and back, with no launch between layers: the convolutions (``conv_stack.forward_part``), each dense layer's product
on the part's rows with the shared weights, the softmax and its share of the cost, each dense layer's gradient at its
input (``dz @ w.T``, the weights before the step: nothing writes them in this region), and the convolutions'
backward pass with the part's own filter gradients (``conv_stack.backward_part``). numba has no barrier inside a
``prange``, and the dense weight gradients ``xd.T @ dz`` sum over every sample, so region 2 steps the dense weights
with their rows cut over the threads (``dense_step.backward_rows`` without ``dx``: each row read and written once, no
gradient-sized partials; the dropout net's 1000 x 1000 partials would be 4-8 MB a thread), and each thread's run
of the conv filters (the parts' gradients summed, ``_filters_share``) and of the dense biases. Left on the calling
thread: the filters' flip before region 1 (``net_step._flip_filters``, 4.4 us for the book's two conv layers; every
part needs all of it before its forward pass) and the call's dispatch (~4 us) and the Python around it (~20 us a
step outside the call: ``NetStep.run``, ``net_runs``).

Why two regions and not one (measured on this 2-core AMD EPYC VM, numba 0.68's ``omp`` layer, libgomp, float32):
- A ``prange`` region's launch, an empty region in a compiled loop of 20,000: 0.9-2.5 us wall (1.9-4.6 us CPU)
  with the other core free, 0.7-1.0 us on one thread. Merging the regions would save one launch: under 0.5% of the
  two-thread step (460-580 us two-conv, load 0-1.8). The same empty region beside other busy processes (load
  2.4-4): 9-44 us, and the whole two-thread step took 5-24 ms instead of ~0.5: a waiting thread there waits for
  the OS to run the other one. A barrier inside one region (threads spinning on
  atomics) would wait the same way, only burning its core's time slice meanwhile, so it would make the busy case
  worse for a gain of ~1-2 us when quiet; not built.
- A region 2 that needs no barrier: the dense weights' gradients ``xd.T @ dz`` need every sample's ``dz``, so
  region 1 would have to leave per-thread gradient-sized partials (above), summed after: more work and memory than
  the launch it saves.
- Serial parts of the two-thread step before this version (two-conv, load 1.5-1.8, wall): the filters stepped
  24 us, flipped 8 us, biases 0.4, dispatch 4, Python between calls 20: ~57 of 578 us (10%); now flip 4.4, dispatch
  and Python as before: ~28 us (5%), the filters' 11 us of work cut over the threads.

The step before this one (``net_step.step_threads``, now gone) opened a region per layer and direction: five to
eight a step. Measured on 2 cores (load 1-1.8, fresh processes alternated, 3,000 images, medians of 5, wall), 2 threads:
two-conv 0.199 s against 0.202, dropout 0.330 against 0.354 (1.54x and 1.85x the one-thread step's time). Its cold
compile was the cost: numba optimised the linked code of everything it reaches again in the region's loop body and
again in the kernel. Region 1's body is therefore ``part``, a serial kernel called by address
(``kernels.by_address``), which calls ``conv_stack``'s part kernels by address too: float32, two conv layers,
process CPU (load 1-4, one run each), 21.8 s (``_part`` inlined in the loop body, the conv kernels linked) -> 12.7
(conv kernels by address) -> 6.9 (``part`` 2.6 + ``step_region`` 4.3).
"""

import numpy as np
from numba import prange, types

from . import by_address, conv_stack, dense_calls
from .conv import RELU, SIGMOID, TANH
from .jit import kernel
from .net_step import (BACKWARD_ROWS_AT, CODE, DX, DZ, FORWARD_INPUTS_AT, HAS_MASK, IN, MASK, N_IN, N_OUT, OUT,
                       PRODUCT_AT, SOFTMAX, XD, _activate, _bad_label, _dropped, _flip_filters, _last_maps,
                       _step_bias_range, _step_filter_range, _to_book_order, _to_channels_last, _view)


@kernel
def _gradient_at_z(code, d, out, y, dz, m):
    """``net_step._gradient_at_z`` on a part's rows: the softmax's (out - one-hot) divided by the mini-batch's
    ``m``, not the part's."""
    rows, n = out.shape
    one, zero = out.dtype.type(1), out.dtype.type(0)
    for s in range(rows):
        for j in range(n):
            a = out[s, j]
            if code == SOFTMAX:
                dz[s, j] = a - one if j == y[s] else a
                dz[s, j] = dz[s, j] / m
            else:
                g = d[s, j]
                if code == SIGMOID:
                    g = g * (a * (one - a))
                elif code == TANH:
                    g = g * (one - a * a)
                elif code == RELU:
                    g = g * (one if a > 0 else zero)
                dz[s, j] = g


@kernel
def _input_gradient(w, dz, mask, has_mask, dx):
    """``dx = (dz @ w.T) * mask`` for a part's rows (``dense_step.backward_rows``'s ``dx``, the same sums in the
    same order): each row of ``w`` read once for the part's samples."""
    rows = dz.shape[0]
    n_in, n_out = w.shape
    zero = w.dtype.type(0)
    for i in range(n_in):
        wr = w[i]
        for b in range(rows):
            if has_mask and mask[b, i] == 0:
                dx[b, i] = zero
                continue
            db = dz[b]
            acc = zero
            for j in range(n_out):
                acc += db[j] * wr[j]
            dx[b, i] = acc


@kernel
def _log_loss(out, y):
    """The sum (not the mean) of -log of the softmax outputs ``out`` at labels ``y``."""
    total = 0.0
    for s in range(out.shape[0]):
        total -= np.log(out[s, y[s]])
    return total


@kernel
def part(x, y, lo, hi, m, q, geometry, Ks, cbs, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows, dws, dbd, table,
         ws, masks, forward_at, backward_at):
    """Region 1's work for part ``q``, samples ``lo:hi`` of the mini-batch of ``m``: forward, cost, every gradient
    but the dense weights' (see the module); returns the part's sum of -log(output at the label). ``step_region``
    calls it by address (``kernels.by_address``): compiled once, not again in the region's loop body and in
    ``step_region`` (inlined there, it took 12.7 s to compile; linked, 23.6 s)."""
    nd = table.shape[0]
    nc = len(Ks)
    rows = hi - lo
    conv_stack.forward_part_at(forward_at, x[lo:hi], geometry, Ks, cbs, cols, Z, out, arg, q)
    HW, F = _last_maps(geometry)
    _to_book_order(out[nc - 1][q, :rows], HW, F, _view(ws, table[0, IN], m, table[0, N_IN])[lo:hi])
    for j in range(nd):
        n_in, n_out, code, has_mask = table[j, N_IN], table[j, N_OUT], table[j, CODE], table[j, HAS_MASK] != 0
        a = _view(ws, table[j, IN], m, n_in)[lo:hi]
        xd = _view(ws, table[j, XD], m, n_in)[lo:hi]
        z = _view(ws, table[j, OUT], m, n_out)[lo:hi]
        mask = _view(masks, table[j, MASK], m, n_in)[lo:hi] if has_mask else a
        if 5 * _dropped(a, mask, has_mask, xd) <= 2 * rows * n_in:  # few non-zero: step_one's choice
            dense_calls.forward_inputs_at(table[j, FORWARD_INPUTS_AT], xd, dws[j], dbd[j], z)  # by address
        else:
            dense_calls.product_at(table[j, PRODUCT_AT], xd, dws[j], dbd[j], z)
        _activate(z, code)
    loss = _log_loss(_view(ws, table[nd - 1, OUT], m, table[nd - 1, N_OUT])[lo:hi], y[lo:hi])
    d = _view(ws, table[nd - 1, OUT], m, table[nd - 1, N_OUT])[lo:hi]  # not read: the softmax's needs y only
    for j in range(nd - 1, -1, -1):
        n_in, n_out, code, has_mask = table[j, N_IN], table[j, N_OUT], table[j, CODE], table[j, HAS_MASK] != 0
        dx = _view(ws, table[j, DX], m, n_in)[lo:hi]
        dz = _view(ws, table[j, DZ], m, n_out)[lo:hi]
        mask = _view(masks, table[j, MASK], m, n_in)[lo:hi] if has_mask else dx
        _gradient_at_z(code, d, _view(ws, table[j, OUT], m, n_out)[lo:hi], y[lo:hi], dz, m)
        _input_gradient(dws[j], dz, mask, has_mask, dx)
        d = dx
    dcl = _view(ws, ws.shape[0] - m * table[0, N_IN], m, table[0, N_IN])[lo:hi]  # ws ends with it
    _to_channels_last(d, HW, F, dcl)
    conv_stack.backward_part_at(backward_at, dcl, geometry, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows, q)
    return loss


@kernel(inline="always")
def _dense_rows(dws, dbd, table, ws, masks, m, step, keep, want_l2, p, threads):
    """Region 2's work for thread ``p`` of ``threads``: its run of rows of every dense layer's weights, stepped
    (``dense_step.backward_rows`` without ``dx``), and its run of every dense layer's biases; returns the rows'
    sum(w^2) before the step when ``want_l2``."""
    no_dx = threads < 0  # False, typed as a plain boolean (a literal would compile dense_step anew)
    l2 = 0.0
    for j in range(table.shape[0]):
        n_in, n_out, has_mask = table[j, N_IN], table[j, N_OUT], table[j, HAS_MASK] != 0
        xd = _view(ws, table[j, XD], m, n_in)
        dz = _view(ws, table[j, DZ], m, n_out)
        mask = _view(masks, table[j, MASK], m, n_in) if has_mask else xd
        l2 += dense_calls.backward_rows_at(table[j, BACKWARD_ROWS_AT], dws[j], xd, mask, has_mask, dz, step, keep, no_dx,
                                           xd, want_l2, p * n_in // threads, (p + 1) * n_in // threads)  # by address
        _step_bias_range(dbd[j], dz, step, p * n_out // threads, (p + 1) * n_out // threads)
    return l2


@kernel
def _filters_share(Ws, cbs, dKs, dbs, parts, step, keep, want_l2, p, threads):
    """Region 2's filters for thread ``p`` of ``threads``: its run of each conv layer's filters stepped, their parts'
    gradients summed; returns their sum(w^2) before the step when ``want_l2``."""
    l2 = 0.0
    for k in range(len(Ws)):
        F = Ws[k].shape[0]
        l2 += _step_filter_range(Ws[k], cbs[k], dKs[k], dbs[k], parts, step, keep, want_l2, p * F // threads,
                                 (p + 1) * F // threads)
    return l2


def part_signature(dtype, conv_layers):
    """``part``'s argument types: those of ``step_region`` (``net_step.signature(..., threaded=True)``) it takes."""
    from .net_step import signature
    sig = signature(dtype, conv_layers, True)
    i = types.int64
    return sig[:2] + (i, i, i, i) + (sig[4], sig[7], sig[6]) + sig[8:22] + sig[25:27]


_part_at = by_address.caller(types.float64, lambda args: part_signature(str(args[0].dtype), args[7].count), "part")


def addresses(dtype, conv_layers):
    """``step_region``'s last three arguments: the addresses of ``conv_stack``'s part kernels and of ``part``."""
    return conv_stack.addresses(dtype, conv_layers) + (by_address.address(part, part_signature(dtype, conv_layers)),)


@kernel(parallel=True)
def step_region(x, y, starts, threads, geometry, Ws, cbs, Ks, cols, Z, out, arg, dX, dKs, dbs, win_g, win_rows,
                dws, dbd, table, ws, masks, step, keep, want_l2, forward_at, backward_at, part_at):
    """One mini-batch step, the parts ``starts`` on numba's threads (see the module); returns what ``step_one``
    does. ``forward_at``, ``backward_at``, ``part_at``: ``addresses``."""
    m = x.shape[0]
    nd = table.shape[0]
    bad = _bad_label(y, table[nd - 1, N_OUT])
    if bad >= 0:
        return 0.0, 0.0, bad
    nc = len(Ws)
    count = len(starts) - 1
    for k in range(nc):
        _flip_filters(Ws[k], Ks[k])
    loss = 0.0
    for p in prange(count):
        q = np.int64(p)  # p is unsigned in a prange: as int64 the kernels compiled for one part serve here too
        loss += _part_at(part_at, x, y, starts[q], starts[q + 1], m, q, geometry, Ks, cbs, cols, Z, out, arg, dX, dKs,
                         dbs, win_g, win_rows, dws, dbd, table, ws, masks, forward_at, backward_at)
    l2 = 0.0
    parts = np.int64(count)
    for p in prange(threads):
        q, t = np.int64(p), np.int64(threads)
        l2 += (_dense_rows(dws, dbd, table, ws, masks, m, step, keep, want_l2, q, t)
               + _filters_share(Ws, cbs, dKs, dbs, parts, step, keep, want_l2, q, t))
    return loss / m, l2, np.int64(-1)
