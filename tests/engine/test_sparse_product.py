"""Chapter 6's training product of a fully connected layer, ``x @ w + b``, where compiled code skips the zero
inputs (``fc_layers.SparseProduct``; ``kernels.dense_step.forward_inputs`` on one thread, ``forward_rows``
on several) against numpy's product."""

import numpy as np
import pytest

from nnfast.engine.fc_layers import SparseProduct
from nnfast.engine.kernels import dense_step


def _inputs(rng, m, n_in, n_out, nonzero, dtype):
    x = (rng.standard_normal((m, n_in)) * (rng.random((m, n_in)) < nonzero)).astype(dtype)
    return x, rng.standard_normal((n_in, n_out)).astype(dtype), rng.standard_normal(n_out).astype(dtype)


@pytest.mark.parametrize("nonzero", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_inputs_is_the_product(nonzero, dtype):
    rng = np.random.default_rng(int(nonzero * 4))
    x, w, b = _inputs(rng, 7, 53, 29, nonzero, dtype)
    z = np.full((7, 29), np.nan, dtype)
    dense_step.forward_inputs(x, w, b, z)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(z, x.astype(np.float64) @ w + b, rtol=tol, atol=tol)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("nonzero", [0.2, 0.45, 0.9])
def test_the_training_product_is_the_product_whichever_way_it_runs(threads, nonzero):
    rng = np.random.default_rng(threads)
    x, w, b = _inputs(rng, 10, 130, 40, nonzero, np.float64)
    z = SparseProduct(threads, np.dtype(np.float64))(x, w, b)
    np.testing.assert_allclose(z, x @ w + b, rtol=1e-12, atol=1e-12)


def test_a_nan_input_reaches_its_sample_only():
    rng = np.random.default_rng(3)
    x, w, b = _inputs(rng, 4, 30, 6, 0.2, np.float64)
    x[2, 5] = np.nan
    z = SparseProduct(1, np.dtype(np.float64))(x, w, b)
    assert np.isnan(z[2]).all() and np.isfinite(np.delete(z, 2, axis=0)).all()
