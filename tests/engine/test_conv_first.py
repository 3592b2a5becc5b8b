"""``kernels.conv_first`` (the first conv layer of one channel, by correlation of the flat image) against
numpy: the maps as ``im2col`` rows times the flipped filters (numpy's product, in float64), pooled by
``conv.pool_forward``; the filter gradient as ``dZ.T @ cols`` with ``conv.pool_backward``'s routed ``dZ``."""

import numpy as np
import pytest

from nnfast.engine.kernels import conv as ck
from nnfast.engine.kernels import conv_first as cf
from nnfast.engine.kernels import conv_stack

ACTS = [ck.LINEAR, ck.RELU, ck.SIGMOID, ck.TANH]
# (H, W, fh, fw, ph, pw, F, m): the book's layer; 27x27 (a map row and column outside every window); pools of
# 3x3, 3x2, 1x1 and 1x4; fh != fw; five-tap runs with single taps after them (fw = 7) and without (fw = 3)
SHAPES = [(28, 28, 5, 5, 2, 2, 20, 2), (27, 27, 5, 5, 2, 2, 7, 1), (27, 27, 5, 5, 3, 3, 33, 1),
          (13, 11, 5, 3, 3, 2, 1, 3), (12, 14, 3, 7, 1, 1, 20, 2), (9, 10, 2, 2, 1, 4, 5, 2)]


def _images(rng, m, H, W, dtype):
    """MNIST-like: a blank border (windows of equal zeros: the first position wins) around random pixels."""
    x = np.zeros((m, H, W))
    x[:, 2:H - 2, 2:W - 2] = rng.random((m, H - 4, W - 4))
    return x.astype(dtype)


def _reference_forward(x, K, b, act, fh, fw, ph, pw):
    m, H, W = x.shape
    Hz, Wz = H - fh + 1, W - fw + 1
    cols = np.empty((m * Hz * Wz, fh * fw), x.dtype)
    ck.im2col(x.reshape(m, H, W, 1), fh, fw, cols)
    Z = (cols.astype(np.float64) @ K.T.astype(np.float64)).astype(x.dtype)
    shape = (m, Hz // ph, Wz // pw, len(K))
    P, arg = np.empty(shape, x.dtype), np.empty(shape, np.int64)
    ck.pool_forward(Z, Hz, Wz, ph, pw, b, act, P, arg)
    return P, arg, cols


def _activate(P, act):
    if act == ck.SIGMOID:
        return (1 / (1 + np.exp(-P.astype(np.float64)))).astype(P.dtype)
    if act == ck.TANH:
        return np.tanh(P)
    return P


def _run(x, K, b, act, fh, fw, ph, pw):
    """forward_first, then the activation (as conv_stack applies it), in fresh workspaces."""
    m, H, W = x.shape
    F = len(K)
    Hz, Wz = H - fh + 1, W - fw + 1
    L = (Hz - 1) * W + Wz
    shape = (m, Hz // ph, Wz // pw, F)
    P, arg = np.full(shape, np.nan, x.dtype), np.full(shape, -1, np.int64)
    keep = np.full(m * H * W, np.nan, x.dtype)
    work = np.full(max(2 * L + 2 * Hz * W, 4 * ((F + 3) // 4) * L), np.nan, x.dtype)
    cf.forward_first(x.reshape(m, H * W), H, W, fh, fw, ph, pw, K, b, act, P, arg, keep, work)
    return _activate(P, act), arg, keep, work


def _gradients(d_out, out, arg, act, cols, Hz, Wz):
    dZ, db = np.empty((len(cols), d_out.shape[-1]), d_out.dtype), np.empty(d_out.shape[-1], d_out.dtype)
    ck.pool_backward(d_out, out, act, arg, Hz, Wz, dZ, db)
    return dZ.astype(np.float64).T @ cols.astype(np.float64), db


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_outputs_winners_and_filter_gradient_equal_numpy(shape, dtype):
    H, W, fh, fw, ph, pw, F, m = shape
    Hz, Wz = H - fh + 1, W - fw + 1
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for act in ACTS:
        rng = np.random.default_rng(act + 10 * F)
        x = _images(rng, m, H, W, dtype)
        K = rng.standard_normal((F, fh * fw)).astype(dtype)
        b = (rng.standard_normal(F) - (2 if act == ck.RELU else 0)).astype(dtype)  # ReLU: many zero outputs
        want, want_arg, cols = _reference_forward(x, K, b, act, fh, fw, ph, pw)
        got, arg, keep, work = _run(x, K, b, act, fh, fw, ph, pw)
        np.testing.assert_array_equal(arg, want_arg)
        np.testing.assert_allclose(got, _activate(want, act), rtol=tol, atol=tol)
        np.testing.assert_array_equal(keep, x.reshape(-1))  # kept for the backward pass
        d_out = rng.standard_normal(got.shape).astype(dtype)
        dK, db = np.full((F, fh * fw), np.nan, dtype), np.full(F, np.nan, dtype)
        for _ in range(2):  # the second time on used workspaces
            cf.backward_first(d_out, got, act, arg, keep, H, W, fh, fw, ph, pw, dK, db, work)
            want_dK, want_db = _gradients(d_out, got, arg, act, cols, Hz, Wz)
            scale = max(1.0, np.abs(want_dK).max())
            np.testing.assert_allclose(dK, want_dK, rtol=tol, atol=tol * scale)
            np.testing.assert_allclose(db, want_db, rtol=tol, atol=tol * max(1.0, np.abs(want_db).max()))
        if act == ck.RELU:
            assert (got == 0).any()  # zero gradients there: still the product's


def test_ties_go_to_the_first_position_of_each_window():
    x = np.ones((2, 12, 12))
    K = np.ones((3, 9))
    P, arg, _, _ = _run(x, K, np.zeros(3), ck.LINEAR, 3, 3, 2, 2)
    Hz = Wz = 10
    first = (2 * np.arange(5)[:, None] * Wz + 2 * np.arange(5)[None, :])
    np.testing.assert_array_equal(arg, np.broadcast_to(first[None, :, :, None], arg.shape))
    np.testing.assert_array_equal(P, 9.0)


def test_a_nan_in_the_maps_stays_where_pool_forward_keeps_it():
    rng = np.random.default_rng(3)
    x = _images(rng, 2, 14, 14, np.float64)
    x[0, 5, 6] = np.nan  # NaN maps around it; the first position of a window NaN: the window's output NaN
    x[1, 7, 7] = np.inf
    K = rng.standard_normal((4, 25))
    for act in ACTS:
        want, want_arg, _ = _reference_forward(x, K, np.zeros(4), act, 5, 5, 2, 2)
        got, arg, _, _ = _run(x, K, np.zeros(4), act, 5, 5, 2, 2)
        np.testing.assert_array_equal(arg, want_arg)
        np.testing.assert_allclose(got, _activate(want, act), rtol=1e-12, atol=1e-12)  # equal_nan: NaN where numpy's


@pytest.mark.parametrize("where", ["gradient", "image"])
def test_nan_and_inf_reach_the_filter_gradient_as_the_product_takes_them(where):
    rng = np.random.default_rng(4)
    m, H, W, fh, fw, F = 2, 13, 13, 5, 5, 6
    x = _images(rng, m, H, W, np.float64)
    if where == "image":
        x[1, 12, 0] = np.inf  # in the last patches only; 0 * inf where a patch holds it and its gradient is 0
    K = rng.standard_normal((F, 25))
    got, arg, keep, work = _run(x, K, np.zeros(F), ck.LINEAR, fh, fw, 2, 2)
    d_out = rng.standard_normal(got.shape)
    if where == "gradient":
        d_out[1, 0, 1, 2] = np.nan
    dK, db = np.empty((F, 25)), np.empty(F)
    cf.backward_first(d_out, got, ck.LINEAR, arg, keep, H, W, fh, fw, 2, 2, dK, db, work)
    _, _, cols = _reference_forward(x, K, np.zeros(F), ck.LINEAR, fh, fw, 2, 2)
    with np.errstate(invalid="ignore"):
        want_dK, want_db = _gradients(d_out, got, arg, ck.LINEAR, cols, 9, 9)
    np.testing.assert_array_equal(np.isnan(dK), np.isnan(want_dK))
    np.testing.assert_array_equal(np.isinf(dK), np.isinf(want_dK))
    np.testing.assert_allclose(dK, want_dK, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, want_db, rtol=1e-12, atol=1e-12)
    if where == "gradient":
        assert np.isnan(dK[2]).all() and np.isnan(db[2]) and np.isfinite(np.delete(dK, 2, axis=0)).all()
    else:
        assert np.isnan(dK).any() and np.isfinite(dK).any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_stack_takes_these_kernels_where_they_fit_and_the_patch_rows_elsewhere(dtype):
    """One layer through ``conv_stack`` on parts of 3 samples (room for the image and the maps: these kernels)
    and of 1 (no room for the maps: im2col and the product), both equal to numpy."""
    H = W = 12
    fh = fw = 3
    F, ph, pw = 4, 2, 2
    Hz, Wz = H - fh + 1, W - fw + 1
    geometry = np.array([[1, H, W, F, fh, fw, ph, pw, ck.SIGMOID]], np.int64)
    rng = np.random.default_rng(6)
    K = rng.standard_normal((F, fh * fw)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    fused = []
    for m in (3, 1):
        rows, n_out = m * Hz * Wz, (Hz // ph) * (Wz // pw) * F
        cols, Z = (np.empty((1, rows, fh * fw), dtype),), (np.empty((1, rows, F), dtype),)
        fused.append(bool(cf.fused_first(0, 1, H, W, F, fh, fw, ph, pw, m, cols[0][0].size, Z[0][0].size)))
        out, arg = (np.empty((1, m, n_out), dtype),), (np.empty((1, m, n_out), np.int64),)
        x = _images(rng, m, H, W, dtype)
        conv_stack.forward_part(x.reshape(m, -1), geometry, (K,), (b,), cols, Z, out, arg, 0)
        want, want_arg, want_cols = _reference_forward(x, K, b, ck.SIGMOID, fh, fw, ph, pw)
        shape = want.shape
        np.testing.assert_array_equal(arg[0][0].reshape(shape), want_arg)
        got = out[0][0].reshape(shape)
        np.testing.assert_allclose(got, _activate(want, ck.SIGMOID), rtol=tol, atol=tol)
        d = rng.standard_normal((m, n_out)).astype(dtype)
        dKs, dbs = (np.empty((1, F, fh * fw), dtype),), (np.empty((1, F), dtype),)
        conv_stack.backward_part(d, geometry, (K,), cols, Z, out, arg, (np.empty((1, m, H * W), dtype),), dKs, dbs,
                                 (np.empty((1, F, m * n_out // F), dtype),),
                                 (np.empty((1, F, m * n_out // F), np.int64),), 0)
        want_dK, want_db = _gradients(d.reshape(shape), got, want_arg, ck.SIGMOID, want_cols, Hz, Wz)
        np.testing.assert_allclose(dKs[0][0], want_dK, rtol=tol, atol=tol * max(1.0, np.abs(want_dK).max()))
        np.testing.assert_allclose(dbs[0][0], want_db, rtol=tol, atol=tol * max(1.0, np.abs(want_db).max()))
    assert fused == [True, False]
