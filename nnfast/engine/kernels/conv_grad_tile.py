"""The two gradients of a convolution with max-pooling from register tiles, for long patches: chapter 6's second layer.

``conv.pool_backward_filters`` and ``conv.pool_input_gradient`` add whole 500-long rows (a winner's patch row
into a filter's gradient, a filter's row into a patch's gradient) a few at a time: every pass loads and
stores the running sum, and what they read (a sample's 64 patch rows, the 40 filters: 128 and 80 KB in
float32) comes from L2. Here the columns go block by block, so that the block of what is read stays in L1,
and each block's sum stays in vector registers over all its terms (one load and one multiply-add per
register: a block on the stack, which LLVM promotes, as it never would an array numba allocates). Blocks
are whole, a constant of the machine code: the last overlaps the one before and adds only its own columns,
so patches need at least a block of each kernel (``fits``; ``conv_stack`` chooses). Indices are unsigned
(numba's wrapping of negative indices stops the vectoriser) and no array view is made inside the loops (each
costs two atomic reference counts). Measured on one thread (CPU time, m = 10, the book's second layer,
``benchmarks.conv_ab``): ``conv_stack.backward_part`` 418 -> 368 us (float32, sigmoid), 285 -> 269 (ReLU).
"""

import numpy as np
from numba import carray, types
from numba.core import cgutils
from numba.extending import intrinsic

from .conv import winner_lists
from .jit import helper, kernel

_1, _2, _3, _4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)  # unsigned: no wrapping of negative indices
SAMPLES = 2  # samples a filter block sums over (longer chains; measured: 1 sample 1.09x the time, 4 no better)
# a sum's width in bytes: eight AVX-512 registers (128 float32 or 64 float64 columns), two sums a filter's
# block (16 registers); one sum of sixteen a patch's block (a row's few terms: a quarter of the filters)
FILTER_BYTES, INPUT_BYTES = 512, 1024


def _blocks(nbytes):
    """Two intrinsics for blocks of ``nbytes``: the length of a block of an array's dtype, a constant of the
    machine code (loops over it unroll), and a pointer to such a block on the stack. An array numba
    allocates (``np.empty``) may alias the inputs for all LLVM knows, so its sums would be loaded and stored
    at every term; a block on the stack stays in registers."""
    def length(dtype):
        return nbytes // (dtype.bitwidth // 8)

    @intrinsic
    def block(typingctx, like):
        def codegen(context, builder, signature, args):
            return context.get_constant(types.intp, length(like.dtype))
        return types.intp(like), codegen

    @intrinsic
    def stack_block(typingctx, like):
        def codegen(context, builder, signature, args):
            return cgutils.alloca_once(builder, context.get_data_type(like.dtype), size=length(like.dtype))
        return types.CPointer(like.dtype)(like), codegen

    return block, stack_block


_filter_block, _filter_stack = _blocks(FILTER_BYTES)
_input_block, _input_stack = _blocks(INPUT_BYTES)


@helper
def _filters_block(gs, rows, starts, n0, n1, cols, start, skip, flat):
    """For every filter ``f``: ``flat[f*n_k + start + t] += sum gs[f, i] * cols[rows[f, i], start + t]`` over
    samples ``n0 <= n < n1``' winners, for ``skip <= t < block``. One call a block: the sums are in registers for all
    the filters, and no array view is made in the loop (each would cost two atomic reference counts)."""
    F, n_k = gs.shape[0], cols.shape[1]
    a, b = carray(_filter_stack(flat), _filter_block(flat)), carray(_filter_stack(flat), _filter_block(flat))
    j = np.uint64(start)  # unsigned indices: numba wraps no negative index, which would stop the vectoriser
    for f in range(np.uint64(F)):
        for t in range(np.uint64(_filter_block(flat))):
            a[t] = 0
            b[t] = 0
        q, k = np.uint64(starts[n0, f]), np.uint64(starts[n1, f])
        while q + _4 <= k:  # two sums: two chains of multiply-adds in flight per register
            c0, r0, c1, r1 = gs[f, q], rows[f, q], gs[f, q + _1], rows[f, q + _1]
            c2, r2, c3, r3 = gs[f, q + _2], rows[f, q + _2], gs[f, q + _3], rows[f, q + _3]
            for t in range(np.uint64(_filter_block(flat))):
                a[t] += c0 * cols[r0, j + t] + c2 * cols[r2, j + t]
                b[t] += c1 * cols[r1, j + t] + c3 * cols[r3, j + t]
            q += _4
        while q < k:
            c0, r0 = gs[f, q], rows[f, q]
            for t in range(np.uint64(_filter_block(flat))):
                a[t] += c0 * cols[r0, j + t]
            q += _1
        o = np.uint64(f * n_k + start)
        if skip == 0:  # a fixed count: it vectorises
            for t in range(np.uint64(_filter_block(flat))):
                flat[o + t] += a[t] + b[t]
        else:
            for t in range(np.uint64(skip), np.uint64(_filter_block(flat))):
                flat[o + t] += a[t] + b[t]


@kernel
def pool_backward_filters(d_out, out, act, arg, Hz, Wz, cols, dK, db, gs, rows, want_dZ, dZ):
    """``conv.pool_backward_filters`` (same arguments, same results to float rounding) for ``cols.shape[1]``
    a block at least (``fits``): for each sample, each block of columns (SAMPLES samples at a time), each
    filter: the sum of its winners' row blocks in registers, then added to ``dK``."""
    m, F = d_out.shape[0], d_out.shape[3]
    n_k = cols.shape[1]
    starts = winner_lists(d_out, out, act, arg, Hz, Wz, dK, db, gs, rows, want_dZ, dZ)
    flat = dK.reshape(F * n_k)
    for n in range(0, m, SAMPLES):
        for j0 in range(0, n_k, _filter_block(dK)):
            start = min(j0, n_k - _filter_block(dK))  # the last block overlaps the one before: it adds from j0 only
            _filters_block(gs, rows, starts, n, min(n + SAMPLES, m), cols, start, j0 - start, flat)


@helper
def _inputs_block(fs, cs, counts, n, K, start, j0, flat, H, W, C, fh, fw):
    """For every row ``s`` of sample ``n`` (``counts[s]`` filters ``fs[s]`` with gradients ``cs[s]``): the block
    ``start:start+block`` of its patch's gradient, ``sum cs[s, i] * K[fs[s, i], start:start+block]``, in
    registers, then its columns from ``j0`` on added to their places in ``dX`` (``flat``), run by run."""
    Wz = W - fw + 1
    run = fw * C
    a = carray(_input_stack(flat), _input_block(flat))  # one sum: a row has few terms (a quarter of the filters)
    j = np.uint64(start)
    u0, w0 = j0 // run, j0 % run  # the first column's run and place in it
    for s in range(len(counts)):
        k = np.uint64(counts[s])
        if k == 0:
            continue
        c0, r0 = cs[s, 0], fs[s, 0]
        for t in range(np.uint64(_input_block(flat))):  # the first term sets the sum: nothing to zero
            a[t] = c0 * K[r0, j + t]
        q = _1
        while q + _4 <= k:
            c0, r0, c1, r1 = cs[s, q], fs[s, q], cs[s, q + _1], fs[s, q + _1]
            c2, r2, c3, r3 = cs[s, q + _2], fs[s, q + _2], cs[s, q + _3], fs[s, q + _3]
            for t in range(np.uint64(_input_block(flat))):
                a[t] += (c0 * K[r0, j + t] + c1 * K[r1, j + t]) + (c2 * K[r2, j + t] + c3 * K[r3, j + t])
            q += _4
        while q < k:
            c0, r0 = cs[s, q], fs[s, q]
            for t in range(np.uint64(_input_block(flat))):
                a[t] += c0 * K[r0, j + t]
            q += _1
        i, jj = s // Wz, s % Wz
        e, u, w = j0, u0, w0  # no division per row: the segments are the same for every row
        while e < start + _input_block(flat):  # the block's columns, run by run: (u, v, c) -> dX[n, i+u, jj+v, c]
            width = min(run - w, start + _input_block(flat) - e)
            o = np.uint64(((n * H + i + u) * W + jj) * C + w)
            at = np.uint64(e - start)
            for t in range(np.uint64(width)):
                flat[o + t] += a[at + t]
            e += width
            u += 1
            w = 0


@kernel
def pool_input_gradient(dZ, K, fh, fw, dX):
    """``conv.pool_input_gradient`` (same arguments, same results to float rounding) for ``K.shape[1]``
    a block at least (``fits``): each sample's rows' non-zero gradients and their filters listed once, then for
    each block of patch columns (the filters' block: 40 KB in float32 for the book), each row: its filters' row
    blocks times its gradients summed in registers, then added to the patch's place in ``dX`` (runs of ``fw*C``)."""
    m, H, W, C = dX.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    F, n_k = K.shape
    flat = dX.reshape(m * H * W * C)
    flat[:] = 0
    fs = np.empty((Hz * Wz, F), dtype=np.int64)  # a sample's rows' filters with non-zero gradients
    cs = np.empty((Hz * Wz, F), dtype=dX.dtype)  # and those gradients
    counts = np.empty(Hz * Wz, dtype=np.int64)
    for n in range(m):
        for s in range(Hz * Wz):
            r, k = n * Hz * Wz + s, 0
            for f in range(F):  # without a branch to mispredict (NaN and inf are kept, as the product takes them)
                fs[s, k] = f
                cs[s, k] = dZ[r, f]
                k += dZ[r, f] != 0
            counts[s] = k
        for j0 in range(0, n_k, _input_block(dX)):
            _inputs_block(fs, cs, counts, n, K, min(j0, n_k - _input_block(dX)), j0, flat, H, W, C, fh, fw)


@kernel(inline="always")
def fits(like, n_k):
    """Whether patches of ``n_k`` values (of ``like``'s dtype) are long enough for these kernels: a block of
    each, at least (the book's second layer's 500 are; its first layer's 25 and short patches go to ``conv``'s)."""
    return n_k >= _filter_block(like) and n_k >= _input_block(like)
