"""``kernels.dense_step.backward_rows`` (a fully connected layer's input gradient and SGD step in one pass over its
weights) against numpy's products: ``dx = (dz @ w.T) * mask`` from the weights before the step, then
``w = keep * w - step * xd.T @ dz``; odd shapes (rows narrower and wider than the several-samples passes,
sample counts that leave every tail of four and two), dropout masks that keep any number of a row's samples, a
part of the rows, NaN reaching only its own sample's column."""

import numpy as np
import pytest

from nnfast.engine.kernels import dense_step


def _case(rng, m, n_in, n_out, drop, dtype):
    mask = (rng.random((m, n_in)) >= drop).astype(dtype)
    xd = (rng.standard_normal((m, n_in)) * mask).astype(dtype)
    return (rng.standard_normal((n_in, n_out)).astype(dtype), xd, mask,
            rng.standard_normal((m, n_out)).astype(dtype))


def _expected(w, xd, mask, has_mask, dz, step, keep, lo, hi):
    w64, xd64, dz64 = (a.astype(np.float64) for a in (w, xd, dz))
    dx = dz64 @ w64.T
    if has_mask:
        dx = dx * mask
    stepped = keep * w64 - step * (xd64.T @ dz64)
    return dx[:, lo:hi], stepped[lo:hi], float((w64[lo:hi] ** 2).sum())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m, n_in, n_out, drop", [(10, 37, 100, 0.0), (7, 23, 33, 0.5), (3, 19, 10, 0.3),
                                                  (11, 29, 31, 0.0), (6, 17, 129, 0.8), (1, 5, 64, 0.0)])
def test_backward_rows_is_numpys_products(dtype, m, n_in, n_out, drop):
    rng = np.random.default_rng(m * 1000 + n_out)
    w, xd, mask, dz = _case(rng, m, n_in, n_out, drop, dtype)
    has_mask = drop > 0
    lo, hi = (2, n_in - 3) if n_in > 5 else (0, n_in)
    step, keep = dtype(0.3), dtype(0.99)
    want_dx, want_w, want_l2 = _expected(w, xd, mask, has_mask, dz, step, keep, lo, hi)
    dx = np.full((m, n_in), np.nan, dtype)
    before = w.copy()
    l2 = dense_step.backward_rows(w, xd, mask, has_mask, dz, step, keep, True, dx, True, lo, hi)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(dx[:, lo:hi], want_dx, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(w[lo:hi], want_w, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(l2, want_l2, rtol=tol)
    assert np.isnan(dx[:, :lo]).all() and np.isnan(dx[:, hi:]).all()  # only the part's columns written
    np.testing.assert_array_equal(w[:lo], before[:lo])
    np.testing.assert_array_equal(w[hi:], before[hi:])


def test_a_nan_gradient_reaches_only_its_samples_input_gradient():
    rng = np.random.default_rng(5)
    w, xd, mask, dz = _case(rng, 10, 13, 40, 0.0, np.float64)
    dz[6, 17] = np.nan
    dx = np.empty((10, 13))
    dense_step.backward_rows(w, xd, mask, False, dz, 0.1, 1.0, True, dx, False, 0, 13)
    assert np.isnan(dx[6]).all() and not np.isnan(np.delete(dx, 6, axis=0)).any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m, n_in, n_out", [(10, 640, 100), (7, 23, 33), (1, 5, 40), (2, 3, 17), (9, 130, 1000)])
def test_dense_product_is_numpys_product(dtype, m, n_in, n_out):
    rng = np.random.default_rng(m + n_in + n_out)
    x, w = rng.standard_normal((m, n_in)).astype(dtype), rng.standard_normal((n_in, n_out)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    z = np.full((m, n_out), np.nan, dtype)
    dense_step.dense_product(x, w, b, z)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(z, x.astype(np.float64) @ w + b, rtol=tol, atol=tol * np.sqrt(n_in))


def test_dense_product_keeps_nan_and_inf_as_the_product_does():
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((5, 9)), rng.standard_normal((9, 40)), np.zeros(40)
    x[3, 2], w[4, 7] = np.nan, np.inf
    x[1, 4] = 0  # 0 * inf: NaN, as numpy's product gives it
    z = np.empty((5, 40))
    dense_step.dense_product(x, w, b, z)
    with np.errstate(invalid="ignore"):
        want = x @ w + b
    assert np.isnan(want).any() and np.isinf(want).any()
    np.testing.assert_array_equal(np.isnan(z), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(z), np.isinf(want))
