"""``kernels.conv.pool_backward_filters`` (the filter gradient from the pooling winners' patch rows) against
numpy: ``pool_backward``'s routed gradient ``dZ`` times the patch rows, ``dZ.T @ cols``."""

import numpy as np
import pytest

from nnfast.engine.kernels import conv as ck


def _case(rng, dtype, act, m=3, H=11, W=9, C=3, F=5, fh=3, fw=2, ph=2, pw=3):
    """A layer's forward pass by the kernels: patches, maps, pooled outputs and winners (maps of
    9x8 pooled by 2x3: a row of the maps lies outside every window, as ignore_border drops it)."""
    Hz, Wz = H - fh + 1, W - fw + 1
    X = rng.standard_normal((m, H, W, C)).astype(dtype)
    cols = np.empty((m * Hz * Wz, fh * fw * C), dtype)
    ck.im2col(X, fh, fw, cols)
    K = rng.standard_normal((F, fh * fw * C)).astype(dtype)
    Z = cols @ K.T
    shape = (m, Hz // ph, Wz // pw, F)
    out, arg = np.empty(shape, dtype), np.empty(shape, np.int64)
    b = rng.standard_normal(F) - (3 if act == ck.RELU else 0)  # some ReLU outputs zero: their gradients too
    ck.pool_forward(Z, Hz, Wz, ph, pw, b.astype(dtype), act, out, arg)
    if act == ck.SIGMOID:
        out = 1 / (1 + np.exp(-out))
    elif act == ck.TANH:
        out = np.tanh(out)
    d_out = rng.standard_normal(shape).astype(dtype)
    return d_out, out, arg, Hz, Wz, cols


@pytest.mark.parametrize("act", [ck.LINEAR, ck.RELU, ck.SIGMOID, ck.TANH])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("want_dZ", [False, True])
def test_filter_gradient_equals_the_routed_product(act, dtype, want_dZ):
    rng = np.random.default_rng(act * 10 + want_dZ)
    d_out, out, arg, Hz, Wz, cols = _case(rng, dtype, act)
    m, Hp, Wp, F = d_out.shape
    dZ, db = np.empty((len(cols), F), dtype), np.empty(F, dtype)
    ck.pool_backward(d_out, out, act, arg, Hz, Wz, dZ, db)
    got_dK, got_db = np.full((F, cols.shape[1]), np.nan, dtype), np.full(F, np.nan, dtype)
    got_dZ = np.full_like(dZ, np.nan)
    win_g, win_rows = np.empty((F, m * Hp * Wp), dtype), np.empty((F, m * Hp * Wp), np.int64)
    for _ in range(2):  # the second time on used workspaces and outputs
        ck.pool_backward_filters(d_out, out, act, arg, Hz, Wz, cols, got_dK, got_db, win_g, win_rows, want_dZ,
                                 got_dZ)
        tol = 1e-12 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(got_dK, dZ.T.astype(np.float64) @ cols, rtol=tol, atol=tol)
        np.testing.assert_allclose(got_db, db, rtol=tol, atol=tol)
        if want_dZ:
            np.testing.assert_array_equal(got_dZ, dZ)
        else:
            assert np.isnan(got_dZ).all()  # not written
    if act == ck.RELU:
        assert np.count_nonzero(dZ) < m * Hp * Wp * F  # some winners' gradients were zero: skipped, still equal


def test_a_nan_gradient_reaches_the_filters():
    rng = np.random.default_rng(5)
    d_out, out, arg, Hz, Wz, cols = _case(rng, np.float64, ck.LINEAR)
    d_out[1, 0, 1, 2] = np.nan
    m, Hp, Wp, F = d_out.shape
    dK, db = np.empty((F, cols.shape[1])), np.empty(F)
    ck.pool_backward_filters(d_out, out, ck.LINEAR, arg, Hz, Wz, cols, dK, db, np.empty((F, m * Hp * Wp)),
                             np.empty((F, m * Hp * Wp), np.int64), False, np.empty((0, F)))
    assert np.isnan(dK[2]).all() and np.isnan(db[2])
    assert np.isfinite(np.delete(dK, 2, axis=0)).all()


@pytest.mark.parametrize("act", [ck.LINEAR, ck.RELU, ck.SIGMOID, ck.TANH])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("F", [7, 13])  # a row's filters in passes of eight and four, padded with zeros
def test_input_gradient_equals_col2im_of_the_product(act, dtype, F):
    rng = np.random.default_rng(20 + act + F)
    d_out, out, arg, Hz, Wz, cols = _case(rng, dtype, act, C=6, F=F)
    m, Hp, Wp, F = d_out.shape
    fh, fw, H, W, C = 3, 2, Hz + 2, Wz + 1, 6
    K = rng.standard_normal((F, fh * fw * C)).astype(dtype)
    dZ, db = np.empty((len(cols), F), dtype), np.empty(F, dtype)
    ck.pool_backward(d_out, out, act, arg, Hz, Wz, dZ, db)
    want = np.empty((m, H, W, C))
    ck.col2im(dZ.astype(np.float64) @ K, fh, fw, want)
    got = np.full((m, H, W, C), np.nan, dtype)
    for _ in range(2):  # the second time over its own output
        ck.pool_input_gradient(dZ, K, fh, fw, got)
        tol = 1e-12 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
